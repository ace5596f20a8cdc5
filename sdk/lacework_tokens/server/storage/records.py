"""What the stores keep and what they answer: records, typed search conditions, store errors.

Secrets never reach a store in the clear: API secrets and bearer tokens arrive as hashes, and
agent token values arrive as a ``lookup`` (a keyed hash to find the token by its value) plus a
``sealed`` form the service can open again.

A search is a tuple of ``TokenCondition``: a column, an operator and typed values, built (and
checked) by the token service from what a client sent. The store compiles them as they are; this
module knows nothing of the wire format.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime

from attrs import frozen

__all__ = [
    "AccountRecord",
    "ApiKeyRecord",
    "AuditAction",
    "AuditEvent",
    "AuditFor",
    "BearerRecord",
    "ConditionValue",
    "DuplicateAccount",
    "DuplicateAlias",
    "DuplicateKey",
    "Operator",
    "Role",
    "SchemaTooNew",
    "StoreError",
    "TokenChanges",
    "TokenColumn",
    "TokenCondition",
    "TokenRecord",
    "TooManyKeys",
]


class Role(enum.StrEnum):
    ADMIN = "admin"
    READ_ONLY = "read-only"
    AGENT_INSTALLER = "agent-installer"


class AuditAction(enum.StrEnum):
    """What an audit event records. Token events name the token; key events name the key."""

    TOKEN_CREATED = "token.created"
    TOKEN_UPDATED = "token.updated"
    TOKEN_RENAMED = "token.renamed"
    TOKEN_ENABLED = "token.enabled"
    TOKEN_DISABLED = "token.disabled"
    TOKEN_SOFT_DELETED = "token.soft-deleted"
    KEY_CREATED = "key.created"
    KEY_ENABLED = "key.enabled"
    KEY_DISABLED = "key.disabled"
    KEY_DELETED = "key.deleted"
    LOGIN_FAILED = "login.failed"
    ACCOUNT_CREATED = "account.created"


@frozen
class AuditEvent:
    """One entry of the audit trail. Never holds a token value or any secret.

    ``account`` is where the change happened; ``actor`` is who made it: an API key id (its home
    account in ``actor_account``) or, for local administration, ``cli:<os user>`` or ``serve``.
    ``token_id`` is the first 12 hex characters of the token's keyed lookup hash: enough to
    follow one token through the trail, useless for recovering its value.
    """

    time: datetime
    account: str
    actor: str
    action: AuditAction
    actor_account: str | None = None
    token_alias: str | None = None
    token_id: str | None = None
    key_id: str | None = None
    detail: str = ""
    id: int | None = None  # assigned by the store; ``None`` before it is written


@frozen
class AccountRecord:
    """An account. A sub-account has a ``parent`` (a top-level account) whose keys may act in it."""

    name: str
    parent: str | None
    created_time: datetime


@frozen
class ApiKeyRecord:
    key_id: str
    account: str
    secret_hash: str
    role: Role
    user: str
    enabled: bool
    created_time: datetime


@frozen
class BearerRecord:
    token_hash: str
    key_id: str
    account: str
    expires_at: datetime


@frozen
class TokenRecord:
    """An agent access token as stored. ``lookup`` is unique across all accounts."""

    account: str
    lookup: str
    sealed: str
    alias: str
    enabled: bool
    description: str
    os: str
    subscription: str | None
    created_time: datetime
    updated_time: datetime
    version: str


@frozen
class TokenChanges:
    """An update: ``None`` leaves a column as it is. ``updated_time`` is always written."""

    updated_time: datetime
    alias: str | None = None
    enabled: bool | None = None
    description: str | None = None
    os: str | None = None
    subscription: str | None = None


AuditFor = Callable[[TokenRecord, TokenRecord], AuditEvent]
"""Builds the audit event of an update from the token before and after it."""


# --- search conditions ----------------------------------------------------------------------


class TokenColumn(enum.StrEnum):
    """A column of the stored tokens a condition may test; the value is the column's name."""

    ALIAS = "alias"
    ENABLED = "enabled"
    OS = "os"
    DESCRIPTION = "description"
    UPDATED_TIME = "updated_time"


class Operator(enum.StrEnum):
    """How a condition compares. Text compares by code point (byte order), on every database.

    ``LIKE`` and ``ILIKE`` take a SQL pattern (``%`` any run, ``_`` any one character, ``\\``
    escapes the next character); ``LIKE`` is case-sensitive, ``ILIKE`` folds ASCII case only.
    """

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"
    IN = "in"
    LIKE = "like"
    ILIKE = "ilike"


ConditionValue = str | bool | datetime
"""Text for text columns, ``bool`` for ``ENABLED``, an aware ``datetime`` for times."""


@frozen
class TokenCondition:
    """``column operator values``: ``IN`` takes one or more values, every other operator one.

    Conditions arrive checked: each value has its column's type, ``LIKE``/``ILIKE`` apply to text
    columns only, and a pattern never ends in a lone ``\\``. The store does not check again.
    """

    column: TokenColumn
    operator: Operator
    values: tuple[ConditionValue, ...]


# --- errors ---------------------------------------------------------------------------------


class StoreError(Exception):
    """A failure of the store itself."""


class DuplicateAlias(StoreError):
    """Another token of the account already has this alias."""


class DuplicateKey(StoreError):
    """An API key with this id already exists."""


class DuplicateAccount(StoreError):
    """An account with this name (compared without case) already exists."""


class TooManyKeys(StoreError):
    """The user already has the most API keys allowed in this account."""


class SchemaTooNew(StoreError):
    """The database was written by a newer server; this one refuses to touch it."""

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
    "UNCHANGED",
    "AccountRecord",
    "AgentColumn",
    "AgentCondition",
    "AgentQuery",
    "AgentRecord",
    "ApiKeyRecord",
    "AuditAction",
    "AuditEvent",
    "AuditFor",
    "BearerRecord",
    "ConditionValue",
    "DuplicateAccount",
    "DuplicateAlias",
    "DuplicateKey",
    "EnrollmentsExhausted",
    "Operator",
    "Role",
    "SchemaTooNew",
    "StoreError",
    "TokenChanges",
    "TokenColumn",
    "TokenCondition",
    "TokenRecord",
    "TokenUsageRecord",
    "TooManyKeys",
    "Unchanged",
]


class Role(enum.StrEnum):
    ADMIN = "admin"
    READ_ONLY = "read-only"
    AGENT_INSTALLER = "agent-installer"


class AuditAction(enum.StrEnum):
    """What an audit event records. Token events name the token; key events name the key."""

    TOKEN_READ = "token.read"  # a get: the token's value was returned
    TOKENS_LISTED = "tokens.listed"  # a list: every value of the account was returned
    TOKENS_SEARCHED = "tokens.searched"  # a search: the values of the matches were returned
    TOKEN_CREATED = "token.created"
    TOKEN_UPDATED = "token.updated"
    TOKEN_RENAMED = "token.renamed"
    TOKEN_ENABLED = "token.enabled"
    TOKEN_DISABLED = "token.disabled"
    TOKEN_SOFT_DELETED = "token.soft-deleted"
    TOKEN_REVEALED = "token.revealed"  # a person was shown the value (the console)
    CONSOLE_SIGNED_IN = "console.signed-in"
    TOKEN_RETIRED = "token.retired"  # disabled by a retire: idle, or forced (the detail says)
    KEY_CREATED = "key.created"
    KEY_ENABLED = "key.enabled"
    KEY_DISABLED = "key.disabled"
    KEY_DELETED = "key.deleted"
    KEY_BEARERS_REVOKED = "key.bearers-revoked"
    LOGIN_FAILED = "login.failed"
    ACCOUNT_CREATED = "account.created"
    AGENT_ENROLLED = "agent.enrolled"
    AGENT_REFUSED = "agent.refused"


@frozen
class AuditEvent:
    """One entry of the audit trail. Never holds a token value or any secret.

    ``account`` is where the change happened; ``actor`` is who made it: an API key id (its home
    account in ``actor_account``) or, for local administration, ``cli:<os user>`` or ``serve``.
    ``token_id`` is the first 12 hex characters of the token's keyed lookup hash: enough to
    follow one token through the trail, useless for recovering its value. ``address`` is the
    client's network address, for events a request caused.
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
    address: str | None = None
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
    # The enrollment policy: ``None`` is no limit.
    expires_at: datetime | None = None
    max_enrollments: int | None = None
    scope: str | None = None
    # Kept by the store as agents enroll; never moves ``updated_time``.
    enrolled: int = 0


class Unchanged(enum.Enum):
    """In ``TokenChanges``: leave a column that may be NULL as it is (``None`` writes NULL)."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


@frozen
class TokenChanges:
    """An update: ``None`` leaves a column as it is, except for the policy columns, where
    ``UNCHANGED`` leaves it and ``None`` clears it. ``updated_time`` is always written."""

    updated_time: datetime
    alias: str | None = None
    enabled: bool | None = None
    description: str | None = None
    os: str | None = None
    subscription: str | None = None
    expires_at: datetime | Unchanged | None = UNCHANGED
    max_enrollments: int | Unchanged | None = UNCHANGED
    scope: str | Unchanged | None = UNCHANGED


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
    ``RLIKE`` takes a regular expression that must match the whole value. ``BETWEEN`` takes
    two values, both included. ``NOT_*`` negate.
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
    NOT_IN = "not_in"
    NOT_LIKE = "not_like"
    NOT_ILIKE = "not_ilike"
    RLIKE = "rlike"
    NOT_RLIKE = "not_rlike"
    BETWEEN = "between"


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


# --- agents ---------------------------------------------------------------------------------


@frozen
class AgentRecord:
    """An enrolled agent. ``mid`` is unique in its account; ``token_lookup`` is the lookup of
    the token it enrolled with (its value is never stored with the agent). ``token_enabled`` is
    read from that token, so an agent of a disabled token shows it; it is not written."""

    account: str
    mid: int
    token_lookup: str
    hostname: str
    os: str
    arch: str
    agent_version: str
    mode: str
    ip_addr: str
    tags: dict[str, str]
    scope: str | None
    created_time: datetime
    last_update: datetime
    token_enabled: bool = True


@frozen
class TokenUsageRecord:
    """Agents per token: enrolled in all, seen since the time asked, and the last check-in."""

    enrolled: int
    active: int
    last_checkin: datetime | None


class AgentColumn(enum.StrEnum):
    """What an agent condition may test. ``TAG`` is one tag, named by the condition's
    ``tag``; ``STATUS`` is computed (see ``AgentQuery.active_since``)."""

    MID = "mid"
    HOSTNAME = "hostname"
    OS = "os"
    AGENT_VERSION = "agent_version"
    MODE = "mode"
    IP_ADDR = "ip_addr"
    SCOPE = "scope"
    TOKEN = "token_lookup"
    CREATED_TIME = "created_time"
    LAST_UPDATE = "last_update"
    STATUS = "status"
    TAG = "tag"


@frozen
class AgentCondition:
    """``column operator values`` over agents; values are typed as the column is (``int`` for
    ``MID`` compared as a number, text otherwise, ``datetime`` for times). A text operator on
    ``MID`` compares its decimal digits. Arrives checked, like ``TokenCondition``."""

    column: AgentColumn
    operator: Operator
    values: tuple[ConditionValue | int, ...]
    tag: str = ""


@frozen
class AgentQuery:
    """One page of an agent search: agents of ``account`` alive in ``[start, end]`` (enrolled
    by ``end``, last seen at or after ``start``), meeting every condition, with ``mid`` above
    ``after``, by ``mid``. ``active_since`` decides ``ACTIVE`` from ``INACTIVE``."""

    account: str
    start: datetime
    end: datetime
    active_since: datetime
    conditions: tuple[AgentCondition, ...] = ()
    after: int = 0
    limit: int = 1000


# --- errors ---------------------------------------------------------------------------------


class StoreError(Exception):
    """A failure of the store itself."""


class DuplicateAlias(StoreError):
    """Another token of the account already has this alias."""


class DuplicateKey(StoreError):
    """An API key with this id already exists."""


class DuplicateAccount(StoreError):
    """An account with this name (compared without case) already exists."""


class EnrollmentsExhausted(StoreError):
    """The token has enrolled as many agents as its ``max_enrollments`` allows."""


class TooManyKeys(StoreError):
    """The user already has the most API keys allowed in this account."""


class SchemaTooNew(StoreError):
    """The database was written by a newer server; this one refuses to touch it."""

"""Persistence for the backend: one interface, implemented on SQLite and on PostgreSQL.

Stores keep records and enforce the constraints a database enforces best (unique key ids,
unique aliases per account, atomic updates). Every rule about what may change and why lives
in ``service.py``, so the same rules hold whatever the store.

Secrets never reach a store in the clear: API secrets and bearer tokens arrive as hashes, and
agent token values arrive as a ``lookup`` (a keyed hash to find the token by its value) plus a
``sealed`` form the service can open again.

Every change that matters for security can carry an ``AuditEvent``; the store writes it in the
same transaction as the change, so the trail never records what did not happen nor misses what
did.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from attrs import frozen

from lacework_tokens.wire import SearchFilter

__all__ = [
    "AccountRecord",
    "ApiKeyRecord",
    "AuditAction",
    "AuditEvent",
    "AuditFor",
    "BearerRecord",
    "DuplicateAccount",
    "DuplicateAlias",
    "DuplicateKey",
    "Role",
    "SchemaTooNew",
    "Store",
    "StoreError",
    "TokenChanges",
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


class Store(Protocol):
    """What the service needs from persistence. Implementations are thread-safe."""

    def close(self) -> None: ...

    # accounts
    def insert_account(self, record: AccountRecord, audit: AuditEvent | None = None) -> None:
        """Raises ``DuplicateAccount`` when an account of this name (ignoring case) exists."""

    def find_account(self, name: str) -> AccountRecord | None:
        """The account named ``name``, ignoring case (an exact match wins); ``None`` if none."""

    def list_accounts(self) -> list[AccountRecord]:
        """Every account, top-level accounts and sub-accounts alike, by name."""

    # API keys
    def insert_api_key(
        self,
        record: ApiKeyRecord,
        *,
        max_per_user: int | None = None,
        audit: AuditEvent | None = None,
    ) -> None:
        """Raises ``DuplicateKey`` when ``key_id`` exists, ``TooManyKeys`` when the user
        already has ``max_per_user`` keys in the account (checked in the same transaction)."""

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    def list_api_keys(self, account: str | None = None) -> list[ApiKeyRecord]: ...

    def count_api_keys(self) -> int: ...

    def set_api_key_enabled(
        self, key_id: str, enabled: bool, audit: AuditEvent | None = None
    ) -> bool:
        """Enable or disable a key; ``False`` (and no audit) when there is no such key."""

    def delete_api_key(self, key_id: str, audit: AuditEvent | None = None) -> bool:
        """Delete a key and its bearer tokens; ``False`` (and no audit) when there is none."""

    # bearer tokens
    def insert_bearer(self, record: BearerRecord) -> None: ...

    def get_bearer(self, token_hash: str) -> BearerRecord | None: ...

    def delete_expired_bearers(self, now: datetime) -> int: ...

    # agent access tokens
    def insert_token(self, record: TokenRecord, audit: AuditEvent | None = None) -> None:
        """Raises ``DuplicateAlias`` when the account already has ``record.alias``."""

    def get_token(self, account: str, lookup: str) -> TokenRecord | None: ...

    def list_tokens(self, account: str) -> list[TokenRecord]:
        """Every token of the account, oldest first."""

    def search_tokens(self, account: str, filters: Sequence[SearchFilter]) -> list[TokenRecord]:
        """Tokens matching every filter (AND), oldest first. Filters are already validated."""

    def update_token(
        self,
        account: str,
        lookup: str,
        changes: TokenChanges,
        audit: AuditFor | None = None,
    ) -> TokenRecord | None:
        """Apply ``changes`` atomically; ``None`` when there is no such token.

        ``audit(before, after)`` names the event to record, written in the same transaction.
        Raises ``DuplicateAlias`` when the new alias is taken.
        """

    # audit trail
    def insert_audit(self, event: AuditEvent) -> None:
        """Record an event that goes with no other change (e.g. a failed login)."""

    def list_audit(self, account: str | None = None, limit: int = 100) -> list[AuditEvent]:
        """The newest ``limit`` events, newest first; only ``account``'s when it is given."""

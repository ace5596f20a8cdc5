"""Persistence for the backend: one interface, implemented on SQLite and on PostgreSQL.

Stores keep records and enforce the constraints a database enforces best (unique key ids,
unique aliases per account, atomic updates). Every rule about what may change and why lives
in ``service.py``, so the same rules hold whatever the store.

Secrets never reach a store in the clear: API secrets and bearer tokens arrive as hashes, and
agent token values arrive as a ``lookup`` (a keyed hash to find the token by its value) plus a
``sealed`` form the service can open again.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from attrs import frozen

from lacework_tokens.wire import SearchFilter

__all__ = [
    "ApiKeyRecord",
    "BearerRecord",
    "DuplicateAlias",
    "DuplicateKey",
    "Role",
    "SchemaTooNew",
    "Store",
    "StoreError",
    "TokenChanges",
    "TokenRecord",
]


class Role(enum.StrEnum):
    ADMIN = "admin"
    READ_ONLY = "read-only"
    AGENT_INSTALLER = "agent-installer"


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


class StoreError(Exception):
    """A failure of the store itself."""


class DuplicateAlias(StoreError):
    """Another token of the account already has this alias."""


class DuplicateKey(StoreError):
    """An API key with this id already exists."""


class SchemaTooNew(StoreError):
    """The database was written by a newer server; this one refuses to touch it."""


class Store(Protocol):
    """What the service needs from persistence. Implementations are thread-safe."""

    def close(self) -> None: ...

    # API keys
    def insert_api_key(self, record: ApiKeyRecord) -> None:
        """Raises ``DuplicateKey`` when ``key_id`` exists."""

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    def list_api_keys(self, account: str | None = None) -> list[ApiKeyRecord]: ...

    def count_api_keys(self) -> int: ...

    def set_api_key_enabled(self, key_id: str, enabled: bool) -> bool:
        """Enable or disable a key; ``False`` when there is no such key."""

    # bearer tokens
    def insert_bearer(self, record: BearerRecord) -> None: ...

    def get_bearer(self, token_hash: str) -> BearerRecord | None: ...

    def delete_expired_bearers(self, now: datetime) -> int: ...

    # agent access tokens
    def insert_token(self, record: TokenRecord) -> None:
        """Raises ``DuplicateAlias`` when the account already has ``record.alias``."""

    def get_token(self, account: str, lookup: str) -> TokenRecord | None: ...

    def list_tokens(self, account: str) -> list[TokenRecord]:
        """Every token of the account, oldest first."""

    def search_tokens(self, account: str, filters: Sequence[SearchFilter]) -> list[TokenRecord]:
        """Tokens matching every filter (AND), oldest first. Filters are already validated."""

    def update_token(self, account: str, lookup: str, changes: TokenChanges) -> TokenRecord | None:
        """Apply ``changes`` atomically; ``None`` when there is no such token.

        Raises ``DuplicateAlias`` when the new alias is taken.
        """

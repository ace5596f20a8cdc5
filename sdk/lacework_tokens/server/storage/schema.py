"""The database schema, defined once: tables with abstract column types, and its migrations.

``MIGRATIONS`` is the schema's history: migration N is ``MIGRATIONS[N - 1]``, a tuple of steps
(a table, an index, or a portable statement that moves data). ``render`` spells it for one
database from that database's ``Spelling`` of each ``ColumnType``; the number recorded in
``schema_version`` therefore means the same schema on SQLite and on PostgreSQL.

Never edit a released migration (1 and 2 are released): append a new one.

Migration 3 (agents and enrollment policy) adds tables and leaves the released ones as they
are: ``agent_token_policy`` (a token's policy and usage figures, by its lookup; a token without
a row has no policy and no agents), ``agents``, and ``agent_activity`` (agents per token by the
hour of their last check-in, so that counting active agents does not read every agent).
Migration 4 folds the user names of existing keys and adds the client address to audit events.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

from attrs import frozen

__all__ = [
    "ACTIVITY_BUCKET_MICROS",
    "MIGRATIONS",
    "AddColumn",
    "Column",
    "ColumnType",
    "Index",
    "Migrations",
    "Spelling",
    "Statement",
    "Table",
    "Unique",
    "render",
]


class ColumnType(enum.Enum):
    ROW_ID = "row id"  # an integer the database assigns, in insertion order
    TEXT = "text"  # stored and matched whole: hashes, sealed values, roles, free text
    SORTED_TEXT = "sorted text"  # compared, ordered or searched: byte order on every database
    FLAG = "flag"  # the integer 0 or 1
    TIME = "time"  # integer microseconds since the Unix epoch (64 bits)
    INTEGER = "integer"  # a 64-bit integer: counts, machine ids


@frozen
class Spelling:
    """How one database writes a column type; ``check`` (with ``{name}``) follows NOT NULL."""

    type: str
    check: str = ""


@frozen
class Column:
    name: str
    type: ColumnType
    nullable: bool = False
    primary_key: bool = False
    unique: bool = False
    default: str | None = None  # a constant in SQL, for a column added to a filled table

    def render(self, types: Mapping[ColumnType, Spelling]) -> str:
        spelling = types[self.type]
        parts = [self.name, spelling.type]
        if self.primary_key:
            parts.append("PRIMARY KEY")
        elif not self.nullable:
            parts.append("NOT NULL")
        if self.default is not None:
            parts.append(f"DEFAULT {self.default}")
        if self.unique:
            parts.append("UNIQUE")
        if spelling.check:
            parts.append(spelling.check.format(name=self.name))
        return " ".join(parts)


@frozen
class Unique:
    """A named ``UNIQUE`` constraint over several columns (its name shows in conflicts)."""

    name: str
    columns: tuple[str, ...]


@frozen
class Table:
    name: str
    columns: tuple[Column, ...]
    unique: tuple[Unique, ...] = ()

    def render(self, types: Mapping[ColumnType, Spelling]) -> str:
        lines = [column.render(types) for column in self.columns]
        lines += [f"CONSTRAINT {u.name} UNIQUE ({', '.join(u.columns)})" for u in self.unique]
        body = ",\n            ".join(lines)
        return f"CREATE TABLE {self.name} (\n            {body}\n        )"


@frozen
class Index:
    name: str
    table: str
    keys: tuple[str, ...]  # column names, or expressions such as ``lower(name)``

    def render(self, types: Mapping[ColumnType, Spelling]) -> str:
        return f"CREATE INDEX {self.name} ON {self.table} ({', '.join(self.keys)})"


@frozen
class Statement:
    """A statement written the same on every database (moving data from one table to another)."""

    sql: str

    def render(self, types: Mapping[ColumnType, Spelling]) -> str:
        return self.sql


@frozen
class AddColumn:
    """A new column on an existing table; it must be nullable (existing rows hold NULL)."""

    table: str
    column: Column

    def render(self, types: Mapping[ColumnType, Spelling]) -> str:
        return f"ALTER TABLE {self.table} ADD COLUMN {self.column.render(types)}"


Step = Table | Index | Statement | AddColumn
Migrations = tuple[tuple[str, ...], ...]
"""Migrations as one database runs them: each a tuple of statements."""

_ID: Final = ColumnType.ROW_ID
_TEXT: Final = ColumnType.TEXT
_SORTED: Final = ColumnType.SORTED_TEXT
_FLAG: Final = ColumnType.FLAG
_TIME: Final = ColumnType.TIME
_INT: Final = ColumnType.INTEGER

# ``agent_activity`` counts each token's agents by the hour of their last check-in.
ACTIVITY_BUCKET_MICROS: Final = 3600 * 1_000_000

MIGRATIONS: Final[tuple[tuple[Step, ...], ...]] = (
    # 1: API keys, bearer tokens, agent access tokens.
    (
        Table(
            "api_keys",
            (
                Column("key_id", _SORTED, primary_key=True),
                Column("account", _SORTED),
                Column("secret_hash", _TEXT),
                Column("role", _TEXT),
                Column("user_name", _TEXT),
                Column("enabled", _FLAG),
                Column("created_time", _TIME),
            ),
        ),
        Index("api_keys_by_account", "api_keys", ("account", "created_time")),
        Table(
            "bearers",
            (
                Column("token_hash", _SORTED, primary_key=True),
                Column("key_id", _SORTED),
                Column("account", _SORTED),
                Column("expires_at", _TIME),
            ),
        ),
        Index("bearers_by_expiry", "bearers", ("expires_at",)),
        Table(
            "agent_tokens",
            (
                Column("id", _ID, primary_key=True),
                Column("account", _SORTED),
                Column("lookup", _SORTED, unique=True),
                Column("sealed", _TEXT),
                Column("alias", _SORTED),
                Column("enabled", _FLAG),
                Column("description", _SORTED),
                Column("os", _SORTED),
                Column("subscription", _SORTED, nullable=True),
                Column("created_time", _TIME),
                Column("updated_time", _TIME),
                Column("version", _TEXT),
            ),
            unique=(Unique("agent_tokens_alias_unique", ("account", "alias")),),
        ),
        Index("agent_tokens_by_age", "agent_tokens", ("account", "created_time", "id")),
    ),
    # 2: accounts and sub-accounts, the audit trail, indexes for per-user key limits and for
    # deleting a key's bearers. Accounts already in use become top-level accounts.
    (
        Table(
            "accounts",
            (
                Column("name", _SORTED, primary_key=True),
                Column("parent", _SORTED, nullable=True),
                Column("created_time", _TIME),
            ),
        ),
        Index("accounts_by_folded_name", "accounts", ("lower(name)",)),
        Statement(
            """INSERT INTO accounts (name, parent, created_time)
            SELECT account, NULL, min(created_time) FROM (
                SELECT account, created_time FROM api_keys
                UNION ALL
                SELECT account, created_time FROM agent_tokens
            ) AS known GROUP BY account"""
        ),
        Index("api_keys_by_user", "api_keys", ("account", "user_name")),
        Index("bearers_by_key", "bearers", ("key_id",)),
        Table(
            "audit_events",
            (
                Column("id", _ID, primary_key=True),
                Column("time", _TIME),
                Column("account", _SORTED),
                Column("actor", _SORTED),
                Column("actor_account", _SORTED, nullable=True),
                Column("action", _TEXT),
                Column("token_alias", _SORTED, nullable=True),
                Column("token_id", _TEXT, nullable=True),
                Column("key_id", _SORTED, nullable=True),
                Column("detail", _TEXT),
            ),
        ),
        Index("audit_events_by_account", "audit_events", ("account", "id")),
    ),
    # 3: agents and the enrollment policy. A token's ``enrolled`` and the hourly
    # ``agent_activity`` are kept by the store as agents enroll and check in.
    (
        Table(
            "agent_token_policy",
            (
                Column("lookup", _SORTED, primary_key=True),
                Column("expires_at", _TIME, nullable=True),
                Column("max_enrollments", _INT, nullable=True),
                Column("scope", _SORTED, nullable=True),
                Column("enrolled", _INT, default="0"),
            ),
        ),
        Table(
            "agents",
            (
                Column("id", _ID, primary_key=True),
                Column("account", _SORTED),
                Column("mid", _INT),
                Column("token_lookup", _SORTED),
                Column("hostname", _SORTED),
                Column("os", _SORTED),
                Column("arch", _SORTED),
                Column("agent_version", _SORTED),
                Column("mode", _SORTED),
                Column("ip_addr", _SORTED),
                Column("tags", _TEXT),
                Column("scope", _SORTED, nullable=True),
                Column("created_time", _TIME),
                Column("last_update", _TIME),
            ),
            unique=(Unique("agents_mid_unique", ("account", "mid")),),
        ),
        Index("agents_by_token", "agents", ("token_lookup", "last_update")),
        Table(
            "agent_activity",
            (
                Column("token_lookup", _SORTED),
                Column("bucket", _INT),
                Column("agents", _INT),
            ),
            unique=(Unique("agent_activity_key", ("token_lookup", "bucket")),),
        ),
    ),
    # 4: user names compared case-folded (new keys store the folded form; existing names are
    # folded here, ASCII letters only, as both databases' lower() agree on those); the client
    # address of audit events (failed logins, reads of token values).
    (
        Statement("UPDATE api_keys SET user_name = lower(user_name)"),
        AddColumn("audit_events", Column("address", _SORTED, nullable=True)),
    ),
)


def render(types: Mapping[ColumnType, Spelling]) -> Migrations:
    """Every migration as statements in one database's spelling of the column types."""
    return tuple(tuple(step.render(types) for step in migration) for migration in MIGRATIONS)

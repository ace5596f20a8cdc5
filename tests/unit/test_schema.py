"""The schema is written once and spelled per database; a released migration never changes.

A database created by a released version has exactly the statements below in its history, and
the next release migrates it from there: so the statements each database runs for the released
migrations must stay, to the character, what those releases ran.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from lacework_tokens.server.storage import schema
from lacework_tokens.server.storage.sql import POSTGRES, SQLITE
from lacework_tokens.server.storage.sqlite import SqliteStore

RELEASED = 2

RELEASED_ON_SQLITE = (
    (
        """CREATE TABLE api_keys (
            key_id TEXT PRIMARY KEY,
            account TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            role TEXT NOT NULL,
            user_name TEXT NOT NULL,
            enabled INTEGER NOT NULL,
            created_time INTEGER NOT NULL
        )""",
        "CREATE INDEX api_keys_by_account ON api_keys (account, created_time)",
        """CREATE TABLE bearers (
            token_hash TEXT PRIMARY KEY,
            key_id TEXT NOT NULL,
            account TEXT NOT NULL,
            expires_at INTEGER NOT NULL
        )""",
        "CREATE INDEX bearers_by_expiry ON bearers (expires_at)",
        """CREATE TABLE agent_tokens (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            lookup TEXT NOT NULL UNIQUE,
            sealed TEXT NOT NULL,
            alias TEXT NOT NULL,
            enabled INTEGER NOT NULL,
            description TEXT NOT NULL,
            os TEXT NOT NULL,
            subscription TEXT,
            created_time INTEGER NOT NULL,
            updated_time INTEGER NOT NULL,
            version TEXT NOT NULL,
            CONSTRAINT agent_tokens_alias_unique UNIQUE (account, alias)
        )""",
        "CREATE INDEX agent_tokens_by_age ON agent_tokens (account, created_time, id)",
    ),
    # 2: accounts and sub-accounts, the audit trail, indexes for per-user key limits and for
    # deleting a key's bearers. Accounts already in use become top-level accounts.
    (
        """CREATE TABLE accounts (
            name TEXT PRIMARY KEY,
            parent TEXT,
            created_time INTEGER NOT NULL
        )""",
        "CREATE INDEX accounts_by_folded_name ON accounts (lower(name))",
        """INSERT INTO accounts (name, parent, created_time)
            SELECT account, NULL, min(created_time) FROM (
                SELECT account, created_time FROM api_keys
                UNION ALL
                SELECT account, created_time FROM agent_tokens
            ) AS known GROUP BY account""",
        "CREATE INDEX api_keys_by_user ON api_keys (account, user_name)",
        "CREATE INDEX bearers_by_key ON bearers (key_id)",
        """CREATE TABLE audit_events (
            id INTEGER PRIMARY KEY,
            time INTEGER NOT NULL,
            account TEXT NOT NULL,
            actor TEXT NOT NULL,
            actor_account TEXT,
            action TEXT NOT NULL,
            token_alias TEXT,
            token_id TEXT,
            key_id TEXT,
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX audit_events_by_account ON audit_events (account, id)",
    ),
)

RELEASED_ON_POSTGRES = (
    (
        """CREATE TABLE api_keys (
            key_id TEXT COLLATE "C" PRIMARY KEY,
            account TEXT COLLATE "C" NOT NULL,
            secret_hash TEXT NOT NULL,
            role TEXT NOT NULL,
            user_name TEXT NOT NULL,
            enabled SMALLINT NOT NULL CHECK (enabled IN (0, 1)),
            created_time BIGINT NOT NULL
        )""",
        "CREATE INDEX api_keys_by_account ON api_keys (account, created_time)",
        """CREATE TABLE bearers (
            token_hash TEXT COLLATE "C" PRIMARY KEY,
            key_id TEXT COLLATE "C" NOT NULL,
            account TEXT COLLATE "C" NOT NULL,
            expires_at BIGINT NOT NULL
        )""",
        "CREATE INDEX bearers_by_expiry ON bearers (expires_at)",
        """CREATE TABLE agent_tokens (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            account TEXT COLLATE "C" NOT NULL,
            lookup TEXT COLLATE "C" NOT NULL UNIQUE,
            sealed TEXT NOT NULL,
            alias TEXT COLLATE "C" NOT NULL,
            enabled SMALLINT NOT NULL CHECK (enabled IN (0, 1)),
            description TEXT COLLATE "C" NOT NULL,
            os TEXT COLLATE "C" NOT NULL,
            subscription TEXT COLLATE "C",
            created_time BIGINT NOT NULL,
            updated_time BIGINT NOT NULL,
            version TEXT NOT NULL,
            CONSTRAINT agent_tokens_alias_unique UNIQUE (account, alias)
        )""",
        "CREATE INDEX agent_tokens_by_age ON agent_tokens (account, created_time, id)",
    ),
    # 2: accounts and sub-accounts, the audit trail, indexes for per-user key limits and for
    # deleting a key's bearers. Accounts already in use become top-level accounts.
    (
        """CREATE TABLE accounts (
            name TEXT COLLATE "C" PRIMARY KEY,
            parent TEXT COLLATE "C",
            created_time BIGINT NOT NULL
        )""",
        "CREATE INDEX accounts_by_folded_name ON accounts (lower(name))",
        """INSERT INTO accounts (name, parent, created_time)
            SELECT account, NULL, min(created_time) FROM (
                SELECT account, created_time FROM api_keys
                UNION ALL
                SELECT account, created_time FROM agent_tokens
            ) AS known GROUP BY account""",
        "CREATE INDEX api_keys_by_user ON api_keys (account, user_name)",
        "CREATE INDEX bearers_by_key ON bearers (key_id)",
        """CREATE TABLE audit_events (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            time BIGINT NOT NULL,
            account TEXT COLLATE "C" NOT NULL,
            actor TEXT COLLATE "C" NOT NULL,
            actor_account TEXT COLLATE "C",
            action TEXT NOT NULL,
            token_alias TEXT COLLATE "C",
            token_id TEXT,
            key_id TEXT COLLATE "C",
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX audit_events_by_account ON audit_events (account, id)",
    ),
)


def test_released_migrations_render_as_released_on_both_databases() -> None:
    assert schema.render(SQLITE.column_types)[:RELEASED] == RELEASED_ON_SQLITE
    assert schema.render(POSTGRES.column_types)[:RELEASED] == RELEASED_ON_POSTGRES


def test_a_new_sqlite_database_holds_the_released_tables_as_written(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    SqliteStore(path).close()
    with closing(sqlite3.connect(path)) as connection:
        stored = {
            name: sql
            for name, sql in connection.execute("SELECT name, sql FROM sqlite_master")
            if sql is not None
        }
    # A later migration's ADD COLUMN shows in SQLite's copy of the CREATE statement, appended.
    added: dict[str, list[str]] = {}
    for migration in schema.MIGRATIONS[RELEASED:]:
        for step in migration:
            if isinstance(step, schema.AddColumn):
                added.setdefault(step.table, []).append(step.column.render(SQLITE.column_types))
    for statement in (s for migration in RELEASED_ON_SQLITE for s in migration):
        if statement.startswith("CREATE"):
            name = statement.split()[2]
            expected = statement
            if name in added:
                expected = statement.removesuffix(")") + "".join(
                    f", {column})" if index == len(added[name]) - 1 else f", {column}"
                    for index, column in enumerate(added[name])
                )
            assert stored[name] == expected

"""What only the SQLite store does: its file, its schema versions, opening by path."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lacework_tokens.server.storage import open_store
from lacework_tokens.server.storage import sqlite as sqlite_store
from lacework_tokens.server.storage.records import (
    DuplicateAlias,
    SchemaTooNew,
    StoreError,
    TokenRecord,
)
from lacework_tokens.server.storage.sqlite import SqliteStore

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def record(n: int, alias: str | None = None) -> TokenRecord:
    return TokenRecord(
        account="acme",
        lookup=f"lookup-{n}",
        sealed=f"sealed-{n}",
        alias=alias or f"token-{n}",
        enabled=True,
        description="",
        os="linux",
        subscription=None,
        created_time=T0,
        updated_time=T0,
        version="0.1",
    )


def test_tokens_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    store = SqliteStore(path)
    store.insert_token(record(1))
    store.close()
    reopened = SqliteStore(path)
    assert reopened.get_token("acme", "lookup-1") == record(1)
    assert reopened.schema_version() == len(sqlite_store.MIGRATIONS)
    reopened.close()


def test_database_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "tokens.db"
    SqliteStore(path).close()
    connection = sqlite3.connect(path)
    connection.execute("INSERT INTO schema_version (version) VALUES (999)")
    connection.commit()
    connection.close()
    with pytest.raises(SchemaTooNew, match=r"schema version 999.*upgrade lacework-tokens"):
        SqliteStore(path)


def test_migrations_apply_in_order_from_an_older_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tokens.db"
    SqliteStore(path).close()
    newer = (
        *sqlite_store.MIGRATIONS,
        ("CREATE TABLE enrollments (token_id INTEGER NOT NULL, agent TEXT NOT NULL)",),
        ("CREATE INDEX enrollments_by_token ON enrollments (token_id)",),
    )
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", newer)
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", len(newer))
    store = SqliteStore(path)
    assert store.schema_version() == len(newer)
    store.close()
    with sqlite3.connect(path) as connection:
        versions = [v for (v,) in connection.execute("SELECT version FROM schema_version")]
        indexes = {n for (n,) in connection.execute("SELECT name FROM sqlite_master")}
    assert versions == list(range(1, len(newer) + 1))
    assert "enrollments_by_token" in indexes


def test_bulk_insert_is_all_or_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "tokens.db")
    assert store.insert_tokens_bulk(record(n) for n in range(1000)) == 1000
    assert len(store.list_tokens("acme")) == 1000
    with pytest.raises(DuplicateAlias):
        store.insert_tokens_bulk([record(2000), record(2001, alias="token-5")])
    assert store.get_token("acme", "lookup-2000") is None
    store.close()


def test_token_lookup_uses_an_index(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "tokens.db")
    plans = {
        "get": "SELECT * FROM agent_tokens WHERE lookup = ? AND account = ?",
        "list": "SELECT * FROM agent_tokens WHERE account = ? ORDER BY created_time, id",
        "bearer": "SELECT * FROM bearers WHERE token_hash = ?",
        "key": "SELECT * FROM api_keys WHERE key_id = ?",
    }
    connection = sqlite3.connect(store.path)
    for name, query in plans.items():
        plan = " ".join(
            row[3]
            for row in connection.execute(f"EXPLAIN QUERY PLAN {query}", (1, 2)[: query.count("?")])
        )
        assert "USING" in plan and "INDEX" in plan, (name, plan)
        assert "TEMP B-TREE" not in plan, (name, plan)
    connection.close()
    store.close()


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "tokens.db")
    store.close()
    with pytest.raises(StoreError):
        store.get_token("acme", "x")
    errors: list[BaseException] = []

    def use() -> None:
        try:
            store.get_token("acme", "x")
        except StoreError as exc:
            errors.append(exc)

    thread = threading.Thread(target=use)
    thread.start()
    thread.join()
    assert len(errors) == 1


def test_open_store_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "tokens.db"
    store = open_store(str(path))
    assert isinstance(store, SqliteStore)
    assert path.exists()
    store.close()


def test_open_store_reports_a_path_it_cannot_use(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError):
        open_store(str(blocker / "tokens.db"))
    not_a_database = tmp_path / "garbage.db"
    not_a_database.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"garbage\.db"):
        open_store(str(not_a_database))

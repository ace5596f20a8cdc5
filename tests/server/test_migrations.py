"""Versioned schema migrations, seen from the ``serve`` command on SQLite and on PostgreSQL.

An older database is upgraded in place by a newer server; a database written by a newer server
is refused, with a clear message and a non-zero exit, and left untouched.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from raw_api import RawApi

from lacework_tokens.server.crypto import Sealer, hash_secret
from lacework_tokens.server.storage import postgres as postgres_store
from lacework_tokens.server.storage import sqlite as sqlite_store
from lacework_tokens.server.storage.postgres import PostgresStore
from lacework_tokens.testing import Backend, run_backend
from together import run_together

CURRENT = sqlite_store.SCHEMA_VERSION
SERVE_TIMEOUT_SECONDS = 60


def _serve_until_exit(tmp_path: Path, db: str) -> subprocess.CompletedProcess[str]:
    """Run ``lacework-tokens serve`` expecting it to exit on its own (it refuses to start)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "lacework_tokens",
            "serve",
            "--port",
            "0",
            "--db",
            db,
            "--secrets-key",
            str(tmp_path / "secrets.key"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SERVE_TIMEOUT_SECONDS,
        check=False,
    )


def _assert_refused_as_too_new(result: subprocess.CompletedProcess[str], found: int) -> None:
    assert result.returncode != 0
    assert f"schema version {found}" in result.stderr
    assert f"up to {CURRENT}" in result.stderr
    assert "upgrade lacework-tokens" in result.stderr
    assert "Traceback" not in result.stderr
    assert "listening on" not in result.stdout


def test_both_stores_number_their_schema_versions_alike() -> None:
    # A version number means the same schema on either database.
    assert postgres_store.SCHEMA_VERSION == sqlite_store.SCHEMA_VERSION
    assert len(postgres_store.MIGRATIONS) == len(sqlite_store.MIGRATIONS)


# --- a database written by the first release (schema version 1), with data ------------------

FIRST_RELEASE = 1
OLD_KEY_ID = "OLDCO_0123456789ABCDEF0123456789ABCDEF"
OLD_SECRET = "_0123456789abcdef0123456789abcdef"
OLD_TOKEN = "ab" * 28
MICROS_2026 = 1_795_000_000_000_000


def _seed_first_release(execute: Callable[[str, tuple[Any, ...]], object], sealer: Sealer) -> None:
    """What a version-1 server stored: an API key of account ``oldco`` and one of its tokens.

    Written with version 1's columns, as that release wrote them (``?`` placeholders; the
    PostgreSQL caller translates them).
    """
    execute(
        "INSERT INTO api_keys (key_id, account, secret_hash, role, user_name, enabled, "
        "created_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (OLD_KEY_ID, "oldco", hash_secret(OLD_SECRET), "admin", "admin", 1, MICROS_2026),
    )
    execute(
        "INSERT INTO agent_tokens (account, lookup, sealed, alias, enabled, description, os, "
        "subscription, created_time, updated_time, version) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "oldco",
            sealer.lookup(OLD_TOKEN),
            sealer.seal(OLD_TOKEN),
            "legacy",
            1,
            "from the first release",
            "linux",
            None,
            MICROS_2026,
            MICROS_2026,
            "0.1",
        ),
    )


def _assert_first_release_data_is_served_and_audited(backend: Backend, db: str) -> None:
    response = requests.post(
        f"{backend.url}/api/v2/access/tokens",
        json={"keyId": OLD_KEY_ID},
        headers={"X-LW-UAKS": OLD_SECRET},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    old = RawApi(backend.url, response.json()["token"])
    [listed] = old.list()
    assert (listed["accessToken"], listed["tokenAlias"]) == (OLD_TOKEN, "legacy")
    disabled = old.patch(OLD_TOKEN, {"tokenEnabled": 0})
    assert disabled.status_code == 200, disabled.text
    # The upgraded schema has the audit trail and the accounts already in use.
    audit = subprocess.run(
        [sys.executable, "-m", "lacework_tokens", "audit", "--db", db, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    events = json.loads(audit.stdout)
    assert events[0]["action"] == "token.disabled"
    assert events[0]["account"] == "oldco"
    accounts = subprocess.run(
        [sys.executable, "-m", "lacework_tokens", "accounts", "list", "--db", db],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "oldco" in accounts.stdout


# --- SQLite ---------------------------------------------------------------------------------


def _sqlite_at_version(path: Path, version: int) -> None:
    """A database as an older server left it: the first ``version`` migrations applied."""
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for number in range(1, version + 1):
            for statement in sqlite_store.MIGRATIONS[number - 1]:
                connection.execute(statement)
            connection.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
        connection.commit()


def _sqlite_version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as connection:
        row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0])


def test_sqlite_database_one_version_behind_is_upgraded_by_serve(tmp_path: Path) -> None:
    db = tmp_path / "old" / "tokens.db"
    db.parent.mkdir()
    _sqlite_at_version(db, CURRENT - 1)

    with run_backend(tmp_path, extra_args=["--db", str(db)]) as backend:
        assert _sqlite_version(db) == CURRENT
        created = RawApi.login(backend).create("after-upgrade")
        assert created.status_code == 201, created.text


def test_sqlite_database_of_the_first_release_keeps_its_keys_and_tokens(tmp_path: Path) -> None:
    db = tmp_path / "old" / "tokens.db"
    db.parent.mkdir()
    _sqlite_at_version(db, FIRST_RELEASE)
    sealer = Sealer.from_key_file(db.parent / "secrets.key")  # where serve looks for it
    with closing(sqlite3.connect(db)) as connection:
        _seed_first_release(connection.execute, sealer)
        connection.commit()

    with run_backend(tmp_path, extra_args=["--db", str(db)]) as backend:
        assert _sqlite_version(db) == CURRENT
        _assert_first_release_data_is_served_and_audited(backend, str(db))


def test_sqlite_database_from_a_newer_server_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "tokens.db"
    _sqlite_at_version(db, CURRENT)
    with closing(sqlite3.connect(db)) as connection:
        connection.execute("INSERT INTO schema_version (version) VALUES (?)", (CURRENT + 1,))
        connection.commit()

    result = _serve_until_exit(tmp_path, str(db))

    _assert_refused_as_too_new(result, CURRENT + 1)
    assert _sqlite_version(db) == CURRENT + 1
    with closing(sqlite3.connect(db)) as connection:
        assert connection.execute("SELECT count(*) FROM api_keys").fetchone() == (0,)


# --- PostgreSQL -----------------------------------------------------------------------------


def _postgres_version(dsn: str) -> int:
    with psycopg.connect(dsn) as connection:
        return postgres_store.schema_version_of(connection)


@pytest.mark.postgres
def test_postgres_database_one_version_behind_is_upgraded_by_serve(
    tmp_path: Path, postgres_dsn: str
) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        postgres_store.migrate(connection, target=CURRENT - 1)
    assert _postgres_version(postgres_dsn) == CURRENT - 1

    with run_backend(tmp_path, extra_args=["--db", postgres_dsn]) as backend:
        assert _postgres_version(postgres_dsn) == CURRENT
        created = RawApi.login(backend).create("after-upgrade")
        assert created.status_code == 201, created.text


@pytest.mark.postgres
def test_postgres_database_of_the_first_release_keeps_its_keys_and_tokens(
    tmp_path: Path, postgres_dsn: str
) -> None:
    # With a PostgreSQL URL, serve keeps its secrets key in .lacework-tokens/ (its cwd).
    sealer = Sealer.from_key_file(tmp_path / ".lacework-tokens" / "secrets.key")
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        postgres_store.migrate(connection, target=FIRST_RELEASE)

        def execute(sql: str, params: tuple[Any, ...]) -> object:
            return connection.execute(sql.replace("?", "%s"), params)

        _seed_first_release(execute, sealer)

    with run_backend(tmp_path, extra_args=["--db", postgres_dsn]) as backend:
        assert _postgres_version(postgres_dsn) == CURRENT
        _assert_first_release_data_is_served_and_audited(backend, postgres_dsn)


@pytest.mark.postgres
def test_postgres_database_from_a_newer_server_is_refused_and_left_alone(
    tmp_path: Path, postgres_dsn: str
) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        postgres_store.migrate(connection)
        connection.execute("INSERT INTO schema_version (version) VALUES (%s)", (CURRENT + 1,))

    result = _serve_until_exit(tmp_path, postgres_dsn)

    _assert_refused_as_too_new(result, CURRENT + 1)
    assert _postgres_version(postgres_dsn) == CURRENT + 1
    with psycopg.connect(postgres_dsn) as connection:
        assert connection.execute("SELECT count(*) FROM api_keys").fetchone() == (0,)


@pytest.mark.postgres
def test_replicas_starting_together_migrate_once(postgres_dsn: str) -> None:
    starters = 6

    def start_replica(_: int) -> BaseException | None:
        try:
            PostgresStore(postgres_dsn, min_connections=0).close()
        except BaseException as exc:
            return exc
        return None

    failures = [exc for exc in run_together(starters, start_replica) if exc is not None]
    assert failures == []
    with psycopg.connect(postgres_dsn) as connection:
        versions = connection.execute("SELECT version FROM schema_version ORDER BY version")
        assert [row[0] for row in versions] == list(range(1, CURRENT + 1))


def test_user_names_of_existing_keys_are_folded_by_the_upgrade(tmp_path: Path) -> None:
    db = tmp_path / "tokens.db"
    _sqlite_at_version(db, 2)
    with closing(sqlite3.connect(db)) as connection:
        for index, user in enumerate(("Admin", "ADMIN", "admin")):
            connection.execute(
                "INSERT INTO api_keys (key_id, account, secret_hash, role, user_name, enabled, "
                "created_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (f"KEY{index}", "oldco", hash_secret(OLD_SECRET), "admin", user, 1, MICROS_2026),
            )
        connection.commit()
    store = sqlite_store.SqliteStore(db)
    try:
        assert [key.user for key in store.list_api_keys("oldco")] == ["admin"] * 3
    finally:
        store.close()

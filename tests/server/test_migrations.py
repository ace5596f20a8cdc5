"""Versioned schema migrations, seen from the ``serve`` command on SQLite and on PostgreSQL.

An older database is upgraded in place by a newer server; a database written by a newer server
is refused, with a clear message and a non-zero exit, and left untouched.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from raw_api import RawApi

from lacework_tokens.server import postgres_store, sqlite_store
from lacework_tokens.server.postgres_store import PostgresStore
from lacework_tokens.testing import run_backend

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
    barrier = threading.Barrier(starters)
    failures: list[BaseException] = []

    def start_replica() -> None:
        barrier.wait()
        try:
            PostgresStore(postgres_dsn, min_connections=0).close()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start_replica) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    with psycopg.connect(postgres_dsn) as connection:
        versions = connection.execute("SELECT version FROM schema_version ORDER BY version")
        assert [row[0] for row in versions] == list(range(1, CURRENT + 1))

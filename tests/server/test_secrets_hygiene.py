"""No secret in logs, error messages or the database, after a whole lifecycle with debug logging.

A lifecycle through the SDK (API key → bearer → create → get → list → search → update → disable
→ soft delete, plus a wrong secret, an unknown token and a duplicate name) against a server
started with ``--log-level debug``, while this process logs everything at DEBUG too (urllib3
logs each request line, and a token value is the last segment of a GET or PATCH path). Then
every secret involved is looked for in: the server's stdout and stderr, this process's log
records, the text and traceback of every error raised, and the database at rest (a copy of the
SQLite file and its WAL; every row of every table on PostgreSQL).
"""

from __future__ import annotations

import logging
import secrets
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from lacework_tokens import errors
from lacework_tokens.testing import Backend, run_backend


class Lifecycle:
    """What one lifecycle run leaves behind: the secrets it handled and the errors it saw."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.error_texts: list[str] = []

    def expect(self, kind: type[errors.LaceworkError], call: Callable[[], object]) -> None:
        with pytest.raises(kind) as raised:
            call()
        exc = raised.value
        self.error_texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


def run_lifecycle(backend: Backend) -> Lifecycle:
    seen = Lifecycle()
    seen.secrets["API secret"] = backend.api_secret
    with backend.client() as client:
        client.authenticate()
        bearer = client._bearer  # what the SDK holds: the only way to learn the bearer it uses
        assert bearer is not None
        seen.secrets["bearer token"] = bearer
        tokens = client.agent_tokens

        created = tokens.create("hygiene", description="kept secret", os="linux")
        seen.secrets["token value"] = created.token
        assert tokens.get(created.token).name == "hygiene"
        assert [t.name for t in tokens.list()] == ["hygiene"]
        found = tokens.find("hygiene")
        assert found is not None and found.token == created.token
        tokens.update(created.token, name="hygiene-renamed", description="still secret")
        tokens.disable(created.token)
        tokens.enable(created.token)
        deleted = tokens.soft_delete(created.token)
        assert deleted.name.endswith("-deleted") and not deleted.enabled

        other = tokens.create("hygiene-other", enabled=False)
        seen.secrets["second token value"] = other.token
        seen.expect(errors.ConflictError, lambda: tokens.create("hygiene-other"))

        unknown = secrets.token_hex(28)
        seen.secrets["unknown token value"] = unknown
        seen.expect(errors.NotFoundError, lambda: tokens.get(unknown))
        seen.expect(errors.NotFoundError, lambda: tokens.disable(unknown))

    wrong = "_" + secrets.token_hex(16)
    seen.secrets["wrong API secret"] = wrong
    with backend.client(api_secret=wrong) as intruder:
        seen.expect(errors.AuthenticationError, intruder.authenticate)
    return seen


def assert_nothing_leaked(where: str, text: str | bytes, found: dict[str, str]) -> None:
    for name, value in found.items():
        needle = value.encode() if isinstance(text, bytes) else value
        assert needle not in text, f"the {name} appears in {where}"


def test_no_secret_in_server_output_client_logs_or_error_messages(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with run_backend(tmp_path, extra_args=["--log-level", "debug"]) as backend:
        seen = run_lifecycle(backend)
    server_output = backend.output() + backend.logs()
    client_logs = caplog.text
    # The logs are there and detailed: request lines on both sides, token values masked.
    assert "PATCH /api/v2/AgentAccessTokens/" in server_output
    assert '"GET /api/v2/AgentAccessTokens/' in client_logs
    assert '"PATCH /api/v2/AgentAccessTokens/' in client_logs
    assert "…" in client_logs
    assert_nothing_leaked("the server's stdout or stderr", server_output, seen.secrets)
    assert_nothing_leaked("the client's log records", client_logs, seen.secrets)
    for text in seen.error_texts:
        assert_nothing_leaked(f"an error message: {text[:80]!r}", text, seen.secrets)


def test_no_secret_in_a_copy_of_the_sqlite_database(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    with run_backend(tmp_path / "server") as backend:
        seen = run_lifecycle(backend)
        # Copied while the server runs, as a backup tool or a thief would: the WAL holds the
        # latest writes.
        for path in Path(backend.db_path).parent.iterdir():
            if path.name.startswith(Path(backend.db_path).name):
                shutil.copy(path, copy / path.name)
    copied = {path.name: path.read_bytes() for path in copy.iterdir()}
    assert Path(backend.db_path).name in copied
    assert any(name.endswith("-wal") for name in copied)
    assert b"hygiene-renamed" in b"".join(copied.values())  # the data is there, in the clear
    for name, content in copied.items():
        assert_nothing_leaked(f"the database copy {name}", content, seen.secrets)
    for path in Path(backend.db_path).parent.iterdir():  # and after a clean stop
        if path.is_file():
            assert_nothing_leaked(
                f"the state file {path.name}",
                path.read_bytes(),
                {k: v for k, v in seen.secrets.items() if k != "API secret"},
            )


@pytest.mark.postgres
def test_no_secret_in_any_postgresql_row(tmp_path: Path, postgres_dsn: str) -> None:
    import psycopg

    with run_backend(tmp_path, extra_args=["--db", postgres_dsn]) as backend:
        seen = run_lifecycle(backend)
    rows: list[str] = []
    with psycopg.connect(postgres_dsn) as connection:
        tables = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        assert tables
        for schema_name, table in tables:
            query = psycopg.sql.SQL("SELECT t::text FROM {} AS t").format(
                psycopg.sql.Identifier(schema_name, table)
            )
            rows += [row[0] for row in connection.execute(query).fetchall()]
    everything = "\n".join(rows)
    assert "hygiene-renamed" in everything  # the data is there, in the clear
    assert_nothing_leaked("a PostgreSQL row", everything, seen.secrets)

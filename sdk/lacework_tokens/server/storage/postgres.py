"""The scale-out store: one PostgreSQL database shared by any number of backend replicas.
What is PostgreSQL's own lives here: the pool, locks, errors and ``COPY``; every ``Store`` method
is ``SqlStore``'s (``sql.py``), so search runs in SQL compiled by the same condition compiler as
on SQLite.

- A pool of connections (``psycopg_pool``) per process; each operation is one autocommitted
  statement, or one explicit transaction (bulk insert, migrations), so each is atomic.
- The database enforces uniqueness (``UNIQUE (account, alias)``, unique ``lookup``): of
  concurrent creates of one alias, on any replicas, exactly one wins and the others get
  ``DuplicateAlias``.
- The schema is the one of ``schema.py``, version for version: ``MIGRATIONS`` are applied in
  order and recorded in ``schema_version``, under an advisory lock so replicas that start
  together do not race; a database from a newer server raises ``SchemaTooNew``.
- A change that carries an audit event runs in one transaction with the event's insert.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final, TypeVar

from lacework_tokens.server.storage import schema
from lacework_tokens.server.storage.records import DuplicateAlias, StoreError, TokenRecord
from lacework_tokens.server.storage.sql import (
    POSTGRES,
    TOKEN_COLUMNS,
    Connection,
    SqlStore,
    apply_migrations,
    token_params,
)

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.conninfo import conninfo_to_dict
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise StoreError(
        "PostgreSQL support needs the 'postgres' extra: "
        "pip install 'lacework-tokens[postgres]'"
        f" (missing module {exc.name!r})"
    ) from None

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresStore", "migrate"]

T = TypeVar("T")

MIGRATIONS: Final[schema.Migrations] = schema.render(POSTGRES.column_types)
SCHEMA_VERSION: Final = len(MIGRATIONS)

# pg_advisory_xact_lock key: "lwtokens" in ASCII. Held while the schema is checked or migrated.
_MIGRATION_LOCK: Final = 0x6C77746F6B656E73
_ALIAS_CONSTRAINT: Final = "agent_tokens_alias_unique"
_CONNECT_TIMEOUT_SECONDS: Final = 10
_POOL_TIMEOUT_SECONDS: Final = 30.0


def describe_dsn(dsn: str) -> str:
    """Where a DSN points, for messages: host, port and database; never the password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "PostgreSQL (unparsable connection string)"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    database = parts.get("dbname") or parts.get("user") or "postgres"
    return f"PostgreSQL database {database!r} at {host}:{port}"


def schema_version_of(connection: psycopg.Connection[Any]) -> int:
    """The schema version recorded in the database; 0 when it has none yet."""
    row = connection.execute(
        "SELECT CASE WHEN to_regclass('schema_version') IS NULL THEN -1 ELSE 0 END"
    ).fetchone()
    if row is None or row[0] == -1:
        return 0
    row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


def migrate(
    connection: psycopg.Connection[Any], *, target: int = SCHEMA_VERSION, where: str = ""
) -> int:
    """Bring the schema to ``target`` in one transaction; returns the version found before.

    Runs under an advisory lock, so replicas starting together migrate once, one after the
    other. Raises ``SchemaTooNew`` when the database is ahead of this code.
    """
    if not 0 <= target <= SCHEMA_VERSION:
        raise ValueError(f"no schema version {target}; this code knows 0 to {SCHEMA_VERSION}")
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        return apply_migrations(
            connection,
            MIGRATIONS,
            dialect=POSTGRES,
            where=where or "database",
            instead="database",
            target=target,
        )


class PostgresStore(SqlStore, dialect=POSTGRES):
    """``Store`` on a PostgreSQL database. Thread-safe; open one per process and share it."""

    _conflict = pg_errors.UniqueViolation

    def __init__(self, dsn: str, *, min_connections: int = 1, max_connections: int = 10) -> None:
        self._where = describe_dsn(dsn)
        # Migrate on a connection of its own first: a wrong DSN or a refused connection is
        # reported at once and clearly, not as a pool timeout later.
        try:
            with psycopg.connect(
                dsn, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_SECONDS
            ) as connection:
                migrate(connection, where=self._where)
        except psycopg.Error as exc:
            raise StoreError(f"cannot prepare the {self._where}: {_reason(exc)}") from None
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            dsn,
            min_size=min_connections,
            max_size=max_connections,
            kwargs={"autocommit": True, "connect_timeout": _CONNECT_TIMEOUT_SECONDS},
            # A connection broken by a database restart is replaced, not handed out.
            check=ConnectionPool.check_connection,
            timeout=_POOL_TIMEOUT_SECONDS,
            name="lacework-tokens",
            open=False,
        )
        self._pool.open(wait=False)

    def __repr__(self) -> str:
        return f"PostgresStore({self._where})"

    def close(self) -> None:
        self._pool.close()

    def schema_version(self) -> int:
        return self._run(schema_version_of)

    @contextlib.contextmanager
    def _database_errors(self) -> Iterator[None]:
        """Database failures become ``StoreError``; ``UniqueViolation`` passes through for the
        caller to name the conflict."""
        try:
            yield
        except pg_errors.UniqueViolation:
            raise
        except PoolTimeout:
            raise StoreError(f"no connection to the {self._where} became available") from None
        except psycopg.Error as exc:
            raise StoreError(f"database error: {_reason(exc)}") from None

    def _run(self, operation: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``operation`` on a pooled connection, autocommitting each statement."""
        with self._database_errors(), self._pool.connection() as connection:
            return operation(connection)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        with (
            self._database_errors(),
            self._pool.connection() as connection,
            connection.transaction(),
        ):
            yield connection

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._database_errors(), self._pool.connection() as connection:
            return connection.execute(query, params).fetchall()

    def _rowcount(self, query: str, params: Sequence[Any] = ()) -> int:
        with self._database_errors(), self._pool.connection() as connection:
            return connection.execute(query, params).rowcount

    def _is_alias_conflict(self, exc: Exception) -> bool:
        return (
            isinstance(exc, pg_errors.UniqueViolation)
            and exc.diag.constraint_name == _ALIAS_CONSTRAINT
        )

    def _lock_accounts(self, connection: Connection) -> None:
        # Accounts are created rarely, by an administrator: a table lock is cheap enough.
        connection.execute("LOCK TABLE accounts IN SHARE ROW EXCLUSIVE MODE")

    def _lock_agents(self, connection: Connection, account: str) -> None:
        connection.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"agents/{account}",)
        )

    def _lock_user_keys(self, connection: Connection, account: str, user: str) -> None:
        connection.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"api-keys/{account}/{user}",),
        )

    # --- bulk load --------------------------------------------------------------------------

    def insert_tokens_bulk(self, records: Iterable[TokenRecord]) -> int:
        """Insert many tokens in one transaction with ``COPY`` (benchmarks, imports).

        All or nothing: a taken alias raises ``DuplicateAlias`` and inserts none.
        """

        def copy(connection: psycopg.Connection[Any]) -> int:
            count = 0
            with (
                connection.transaction(),
                connection.cursor() as cursor,
                cursor.copy(f"COPY agent_tokens ({TOKEN_COLUMNS}) FROM STDIN") as stream,
            ):
                for record in records:
                    stream.write_row(token_params(record))
                    count += 1
            return count

        try:
            return self._run(copy)
        except pg_errors.UniqueViolation as exc:
            if self._is_alias_conflict(exc):
                raise DuplicateAlias("an alias in the batch is taken") from None
            raise StoreError("a token value in the batch already exists") from None


def _reason(exc: psycopg.Error) -> str:
    """The server's or driver's one-line reason; psycopg never includes the password."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

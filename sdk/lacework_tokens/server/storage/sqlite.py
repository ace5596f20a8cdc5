"""The embedded store: one SQLite file in WAL mode. What is SQLite's own lives here:
connections, locking, errors and bulk load; every ``Store`` method is ``SqlStore``'s (``sql.py``).

- Each thread gets its own connection (``threading.local``): WAL lets readers run while a writer
  commits, and point reads from several threads do not queue behind one lock. (Measured on two
  cores, 100k tokens: ``get_token`` from two threads ran ~25% faster this way than through one
  connection behind a lock; SQLite releases the GIL while it steps, so the threads overlap.)
- Writes are single statements (``INSERT``, ``UPDATE … RETURNING``) or explicit ``BEGIN
  IMMEDIATE`` transactions, so each is atomic; a busy timeout makes concurrent writers wait
  rather than fail.
- The database enforces uniqueness (``UNIQUE (account, alias)``, unique ``lookup``): of two
  concurrent creates of one alias exactly one wins and the other gets ``DuplicateAlias``.
- The schema (``schema.py``) is versioned: ``MIGRATIONS`` are applied in order and recorded in
  ``schema_version``; a database from a newer server raises ``SchemaTooNew``.
- A change that carries an audit event is one ``BEGIN IMMEDIATE`` transaction with the event's
  insert; a change without one stays a single statement (the fast path).
- The database file is mode 0600 before SQLite first opens it (an existing one is brought to
  0600, with its WAL and shared-memory files), and SQLite gives the files it adds that mode.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from lacework_tokens.files import make_private_file, restrict_file
from lacework_tokens.server.storage import schema
from lacework_tokens.server.storage.records import (
    DuplicateAlias,
    SchemaTooNew,
    StoreError,
    TokenRecord,
)
from lacework_tokens.server.storage.sql import (
    SQLITE,
    Connection,
    SqlStore,
    apply_migrations,
    token_params,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SqliteStore"]

# Read when a store opens, so a test can append a migration.
MIGRATIONS: Final[schema.Migrations] = schema.render(SQLITE.column_types)
SCHEMA_VERSION: Final = len(MIGRATIONS)

_BUSY_TIMEOUT_SECONDS: Final = 30.0
# Files SQLite keeps beside the database in WAL mode.
_COMPANION_FILES: Final = ("-wal", "-shm")
_MMAP_BYTES: Final = 1 << 30
_CACHE_KIB: Final = 16 * 1024


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    # RE2 matches in time linear in the text: a pattern from a search cannot stall the server.
    import re2

    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _regexp(pattern: str, value: object) -> bool:
    if value is None:
        return False
    return _compiled(pattern).search(str(value)) is not None


class SqliteStore(SqlStore, dialect=SQLITE):
    """``Store`` on one SQLite file. Thread-safe; open one per process and share it."""

    _conflict = sqlite3.IntegrityError

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            make_private_file(self.path)
            for suffix in _COMPANION_FILES:
                restrict_file(self.path.with_name(self.path.name + suffix))
        except OSError as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc.strerror}") from None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        self._migrate(self._connection())

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    # --- connections and schema -------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        if self._closed:
            raise StoreError("the store is closed")
        try:
            connection = sqlite3.connect(
                self.path,
                timeout=_BUSY_TIMEOUT_SECONDS,
                isolation_level=None,  # autocommit; transactions are explicit
                check_same_thread=False,  # close() runs on another thread
            )
            connection.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable across application crashes in WAL mode; only an OS crash or
            # power loss can drop the last commits, and it never corrupts the file.
            connection.execute("PRAGMA synchronous=NORMAL")
            # Point reads on a large file: map it instead of a read() per page (address space
            # only; the OS shares the pages between connections), and keep hot index pages.
            connection.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
            connection.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
            # ``x REGEXP p`` (the ``rlike`` of agent searches) calls regexp(p, x).
            connection.create_function("regexp", 2, _regexp, deterministic=True)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from None
        self._local.connection = connection
        with self._connections_lock:
            self._connections.append(connection)
        return connection

    def _migrate(self, connection: sqlite3.Connection) -> None:
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                apply_migrations(
                    connection,
                    MIGRATIONS,
                    dialect=SQLITE,
                    where=f"database {self.path}",
                    instead="database file",
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"cannot prepare the database {self.path}: {exc}") from None
        except SchemaTooNew:
            self.close()
            raise

    def schema_version(self) -> int:
        return int(self._rows("SELECT max(version) FROM schema_version")[0][0])

    def close(self) -> None:
        with self._connections_lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self._connection().execute(sql, params)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise StoreError(f"database error: {exc}") from None

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        # fetchall, never fetchone: a statement (its read snapshot, or the implicit
        # transaction of an ``UPDATE … RETURNING``) ends only when its rows are exhausted.
        return self._execute(sql, params).fetchall()

    def _rowcount(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._execute(sql, params).rowcount

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; ``BEGIN IMMEDIATE`` takes the write lock up front, so reads
        inside it see what the writes will be checked against."""
        connection = self._connection()
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"database error: {exc}") from None
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
                connection.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
                raise StoreError(f"database error: {exc}") from None
            raise

    def _is_alias_conflict(self, exc: Exception) -> bool:
        return "agent_tokens.account, agent_tokens.alias" in str(exc)

    # ``BEGIN IMMEDIATE`` holds the database's one write lock for the whole transaction, so
    # these checks-then-writes are already serialised.
    def _lock_accounts(self, connection: Connection) -> None:
        pass

    def _lock_user_keys(self, connection: Connection, account: str, user: str) -> None:
        pass

    def _lock_agents(self, connection: Connection, account: str) -> None:
        pass

    # --- bulk load --------------------------------------------------------------------------

    def insert_tokens_bulk(self, records: Iterable[TokenRecord]) -> int:
        """Insert many tokens in one transaction (benchmarks, imports); all or nothing."""
        count = 0

        def rows() -> Iterable[tuple[Any, ...]]:
            nonlocal count
            for record in records:
                count += 1
                yield token_params(record)

        try:
            with self._transaction() as connection:
                connection.executemany(self._sql.insert_token, rows())
        except sqlite3.IntegrityError as exc:
            if self._is_alias_conflict(exc):
                raise DuplicateAlias("an alias in the batch is taken") from None
            raise StoreError("a token value in the batch already exists") from None
        return count

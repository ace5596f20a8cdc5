"""The scale-out store: one PostgreSQL database shared by any number of backend replicas.

- A pool of connections (``psycopg_pool``) per process; each operation is one autocommitted
  statement, or one explicit transaction (bulk insert, migrations), so each is atomic.
- The database enforces uniqueness (``UNIQUE (account, alias)``, unique ``lookup``): of
  concurrent creates of one alias, on any replicas, exactly one wins and the others get
  ``DuplicateAlias``.
- The schema is versioned like the SQLite store's, version for version: ``MIGRATIONS`` are
  applied in order and recorded in ``schema_version``, under an advisory lock so replicas that
  start together do not race; a database from a newer server raises ``SchemaTooNew``.
- A change that carries an audit event runs in one transaction with the event's insert.
- Search runs in SQL, compiled by the filter builder the SQLite store uses. Text columns use
  the "C" collation, so ordering compares bytes and ``ilike`` folds ASCII case only, exactly
  as on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from lacework_tokens.server.sql import POSTGRES, compile_filters, from_micros, to_micros
from lacework_tokens.server.store import (
    AccountRecord,
    ApiKeyRecord,
    AuditAction,
    AuditEvent,
    AuditFor,
    BearerRecord,
    DuplicateAccount,
    DuplicateAlias,
    DuplicateKey,
    Role,
    SchemaTooNew,
    Store,
    StoreError,
    TokenChanges,
    TokenRecord,
    TooManyKeys,
)
from lacework_tokens.wire import Expression, SearchFilter

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

# Migration N here is migration N of the SQLite store, in PostgreSQL's types: times are BIGINT
# microseconds (INTEGER is 32-bit here), text is COLLATE "C". Never edit a released migration:
# append a new one, to both stores.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
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
SCHEMA_VERSION: Final = len(MIGRATIONS)

# pg_advisory_xact_lock key: "lwtokens" in ASCII. Held while the schema is checked or migrated.
_MIGRATION_LOCK: Final = 0x6C77746F6B656E73
_ALIAS_CONSTRAINT: Final = "agent_tokens_alias_unique"
_CONNECT_TIMEOUT_SECONDS: Final = 10
_POOL_TIMEOUT_SECONDS: Final = 30.0

_TOKEN_COLUMNS: Final = (
    "account, lookup, sealed, alias, enabled, description, os, subscription, "
    "created_time, updated_time, version"
)
_KEY_COLUMNS: Final = "key_id, account, secret_hash, role, user_name, enabled, created_time"
_INSERT_TOKEN: Final = (
    f"INSERT INTO agent_tokens ({_TOKEN_COLUMNS}) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_SELECT_TOKENS: Final = f"SELECT {_TOKEN_COLUMNS} FROM agent_tokens"
_UPDATE_TOKEN: Final = (
    "UPDATE agent_tokens SET "
    "alias = coalesce(%s, alias), "
    "enabled = coalesce(%s, enabled), "
    "description = coalesce(%s, description), "
    "os = coalesce(%s, os), "
    "subscription = coalesce(%s, subscription), "
    "updated_time = %s "
    f"WHERE lookup = %s AND account = %s RETURNING {_TOKEN_COLUMNS}"
)
_AUDIT_COLUMNS: Final = (
    "time, account, actor, actor_account, action, token_alias, token_id, key_id, detail"
)
_INSERT_AUDIT: Final = (
    f"INSERT INTO audit_events ({_AUDIT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_SELECT_AUDIT: Final = f"SELECT id, {_AUDIT_COLUMNS} FROM audit_events"
_ACCOUNT_COLUMNS: Final = "name, parent, created_time"
_ACTIONS: Final = {action.value: action for action in AuditAction}


def _token(row: Sequence[Any]) -> TokenRecord:
    return TokenRecord(
        account=row[0],
        lookup=row[1],
        sealed=row[2],
        alias=row[3],
        enabled=bool(row[4]),
        description=row[5],
        os=row[6],
        subscription=row[7],
        created_time=from_micros(row[8]),
        updated_time=from_micros(row[9]),
        version=row[10],
    )


def _token_params(record: TokenRecord) -> tuple[Any, ...]:
    return (
        record.account,
        record.lookup,
        record.sealed,
        record.alias,
        int(record.enabled),
        record.description,
        record.os,
        record.subscription,
        to_micros(record.created_time),
        to_micros(record.updated_time),
        record.version,
    )


def _key(row: Sequence[Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=row[0],
        account=row[1],
        secret_hash=row[2],
        role=Role(row[3]),
        user=row[4],
        enabled=bool(row[5]),
        created_time=from_micros(row[6]),
    )


def _audit_params(event: AuditEvent) -> tuple[Any, ...]:
    return (
        to_micros(event.time),
        event.account,
        event.actor,
        event.actor_account,
        event.action.value,
        event.token_alias,
        event.token_id,
        event.key_id,
        event.detail,
    )


def _audit(row: Sequence[Any]) -> AuditEvent:
    return AuditEvent(
        id=row[0],
        time=from_micros(row[1]),
        account=row[2],
        actor=row[3],
        actor_account=row[4],
        action=_ACTIONS[row[5]],
        token_alias=row[6],
        token_id=row[7],
        key_id=row[8],
        detail=row[9],
    )


def _account(row: Sequence[Any]) -> AccountRecord:
    return AccountRecord(name=row[0], parent=row[1], created_time=from_micros(row[2]))


def _is_alias_conflict(exc: pg_errors.UniqueViolation) -> bool:
    return exc.diag.constraint_name == _ALIAS_CONSTRAINT


def _literal_trailing_backslash(item: SearchFilter) -> SearchFilter:
    """PostgreSQL rejects a pattern ending in a lone escape; there it stands for itself."""
    if item.expression not in (Expression.LIKE, Expression.ILIKE):
        return item
    pattern = item.value
    if not isinstance(pattern, str):
        return item
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    if trailing % 2 == 0:
        return item
    return attrs.evolve(item, value=pattern + "\\")


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
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        current = schema_version_of(connection)
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"the {where or 'database'} has schema version {current}, but this server "
                f"knows versions up to {SCHEMA_VERSION}: upgrade lacework-tokens or use "
                "another database"
            )
        for number in range(current + 1, target + 1):
            for statement in MIGRATIONS[number - 1]:
                connection.execute(statement)
            connection.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
    return current


class PostgresStore:
    """``Store`` on a PostgreSQL database. Thread-safe; open one per process and share it."""

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

    def _run(self, operation: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``operation`` on a pooled connection; database failures become ``StoreError``.

        ``UniqueViolation`` passes through for the caller to name the conflict.
        """
        try:
            with self._pool.connection() as connection:
                return operation(connection)
        except pg_errors.UniqueViolation:
            raise
        except PoolTimeout:
            raise StoreError(f"no connection to the {self._where} became available") from None
        except psycopg.Error as exc:
            raise StoreError(f"database error: {_reason(exc)}") from None

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        def fetch(connection: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            return connection.execute(query, params).fetchall()

        return self._run(fetch)

    def _rowcount(self, query: str, params: Sequence[Any] = ()) -> int:
        def count(connection: psycopg.Connection[Any]) -> int:
            return connection.execute(query, params).rowcount

        return self._run(count)

    # --- accounts ---------------------------------------------------------------------------

    def insert_account(self, record: AccountRecord, audit: AuditEvent | None = None) -> None:
        def insert(connection: psycopg.Connection[Any]) -> None:
            with connection.transaction():
                # Serialises account creation, so two names differing only in case cannot
                # both get in; accounts are created rarely, by an administrator.
                connection.execute("LOCK TABLE accounts IN SHARE ROW EXCLUSIVE MODE")
                taken = connection.execute(
                    "SELECT 1 FROM accounts WHERE lower(name) = lower(%s)", (record.name,)
                ).fetchall()
                if taken:
                    raise DuplicateAccount(f"an account named {record.name!r} exists")
                connection.execute(
                    f"INSERT INTO accounts ({_ACCOUNT_COLUMNS}) VALUES (%s, %s, %s)",
                    (record.name, record.parent, to_micros(record.created_time)),
                )
                if audit is not None:
                    connection.execute(_INSERT_AUDIT, _audit_params(audit))

        try:
            self._run(insert)
        except pg_errors.UniqueViolation:
            raise DuplicateAccount(f"an account named {record.name!r} exists") from None

    def find_account(self, name: str) -> AccountRecord | None:
        rows = self._rows(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE lower(name) = lower(%s)", (name,)
        )
        exact = [row for row in rows if row[0] == name]
        chosen = exact or rows
        return _account(chosen[0]) if chosen else None

    def list_accounts(self) -> list[AccountRecord]:
        rows = self._rows(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY name")
        return [_account(row) for row in rows]

    # --- API keys ---------------------------------------------------------------------------

    def insert_api_key(
        self,
        record: ApiKeyRecord,
        *,
        max_per_user: int | None = None,
        audit: AuditEvent | None = None,
    ) -> None:
        def insert(connection: psycopg.Connection[Any]) -> None:
            with connection.transaction():
                if max_per_user is not None:
                    # One lock per (account, user): concurrent creates cannot both pass the
                    # count below the limit.
                    connection.execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                        (f"api-keys/{record.account}/{record.user}",),
                    )
                    exists = connection.execute(
                        "SELECT 1 FROM api_keys WHERE key_id = %s", (record.key_id,)
                    ).fetchall()
                    if exists:
                        raise DuplicateKey(f"an API key with id {record.key_id!r} exists")
                    row = connection.execute(
                        "SELECT count(*) FROM api_keys WHERE account = %s AND user_name = %s",
                        (record.account, record.user),
                    ).fetchone()
                    count = int(row[0]) if row is not None else 0
                    if count >= max_per_user:
                        raise TooManyKeys(
                            f"user {record.user!r} already has {count} API keys "
                            f"in account {record.account!r}"
                        )
                connection.execute(
                    f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (
                        record.key_id,
                        record.account,
                        record.secret_hash,
                        record.role.value,
                        record.user,
                        int(record.enabled),
                        to_micros(record.created_time),
                    ),
                )
                if audit is not None:
                    connection.execute(_INSERT_AUDIT, _audit_params(audit))

        try:
            self._run(insert)
        except pg_errors.UniqueViolation:
            raise DuplicateKey(f"an API key with id {record.key_id!r} exists") from None

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        rows = self._rows(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_id = %s", (key_id,))
        return _key(rows[0]) if rows else None

    def list_api_keys(self, account: str | None = None) -> list[ApiKeyRecord]:
        if account is None:
            rows = self._rows(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_time, key_id")
        else:
            rows = self._rows(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE account = %s "
                "ORDER BY created_time, key_id",
                (account,),
            )
        return [_key(row) for row in rows]

    def count_api_keys(self) -> int:
        rows = self._rows("SELECT count(*) FROM api_keys")
        return int(rows[0][0])

    def set_api_key_enabled(
        self, key_id: str, enabled: bool, audit: AuditEvent | None = None
    ) -> bool:
        def update(connection: psycopg.Connection[Any]) -> bool:
            with connection.transaction():
                changed = (
                    connection.execute(
                        "UPDATE api_keys SET enabled = %s WHERE key_id = %s",
                        (int(enabled), key_id),
                    ).rowcount
                    > 0
                )
                if changed and audit is not None:
                    connection.execute(_INSERT_AUDIT, _audit_params(audit))
            return changed

        return self._run(update)

    def delete_api_key(self, key_id: str, audit: AuditEvent | None = None) -> bool:
        def delete(connection: psycopg.Connection[Any]) -> bool:
            with connection.transaction():
                deleted = (
                    connection.execute("DELETE FROM api_keys WHERE key_id = %s", (key_id,)).rowcount
                    > 0
                )
                if deleted:
                    connection.execute("DELETE FROM bearers WHERE key_id = %s", (key_id,))
                    if audit is not None:
                        connection.execute(_INSERT_AUDIT, _audit_params(audit))
            return deleted

        return self._run(delete)

    # --- bearer tokens ----------------------------------------------------------------------

    def insert_bearer(self, record: BearerRecord) -> None:
        try:
            self._rowcount(
                "INSERT INTO bearers (token_hash, key_id, account, expires_at) "
                "VALUES (%s, %s, %s, %s)",
                (record.token_hash, record.key_id, record.account, to_micros(record.expires_at)),
            )
        except pg_errors.UniqueViolation:
            raise StoreError("a bearer token with this hash already exists") from None

    def get_bearer(self, token_hash: str) -> BearerRecord | None:
        rows = self._rows(
            "SELECT token_hash, key_id, account, expires_at FROM bearers WHERE token_hash = %s",
            (token_hash,),
        )
        if not rows:
            return None
        row = rows[0]
        return BearerRecord(
            token_hash=row[0], key_id=row[1], account=row[2], expires_at=from_micros(row[3])
        )

    def delete_expired_bearers(self, now: datetime) -> int:
        return self._rowcount("DELETE FROM bearers WHERE expires_at <= %s", (to_micros(now),))

    # --- agent access tokens ----------------------------------------------------------------

    def insert_token(self, record: TokenRecord, audit: AuditEvent | None = None) -> None:
        def insert(connection: psycopg.Connection[Any]) -> None:
            with connection.transaction():
                connection.execute(_INSERT_TOKEN, _token_params(record))
                if audit is not None:
                    connection.execute(_INSERT_AUDIT, _audit_params(audit))

        try:
            if audit is None:
                self._rowcount(_INSERT_TOKEN, _token_params(record))
            else:
                self._run(insert)
        except pg_errors.UniqueViolation as exc:
            if _is_alias_conflict(exc):
                raise DuplicateAlias(f"alias {record.alias!r} is taken") from None
            raise StoreError("a token with this value already exists") from None

    def insert_tokens_bulk(self, records: Iterable[TokenRecord]) -> int:
        """Insert many tokens in one transaction with ``COPY`` (benchmarks, imports).

        All or nothing: a taken alias raises ``DuplicateAlias`` and inserts none.
        """

        def copy(connection: psycopg.Connection[Any]) -> int:
            count = 0
            with (
                connection.transaction(),
                connection.cursor() as cursor,
                cursor.copy(f"COPY agent_tokens ({_TOKEN_COLUMNS}) FROM STDIN") as stream,
            ):
                for record in records:
                    stream.write_row(_token_params(record))
                    count += 1
            return count

        try:
            return self._run(copy)
        except pg_errors.UniqueViolation as exc:
            if _is_alias_conflict(exc):
                raise DuplicateAlias("an alias in the batch is taken") from None
            raise StoreError("a token value in the batch already exists") from None

    def get_token(self, account: str, lookup: str) -> TokenRecord | None:
        rows = self._rows(
            f"SELECT {_TOKEN_COLUMNS} FROM agent_tokens WHERE lookup = %s AND account = %s",
            (lookup, account),
        )
        return _token(rows[0]) if rows else None

    def list_tokens(self, account: str) -> list[TokenRecord]:
        rows = self._rows(
            f"SELECT {_TOKEN_COLUMNS} FROM agent_tokens WHERE account = %s "
            "ORDER BY created_time, id",
            (account,),
        )
        return [_token(row) for row in rows]

    def search_tokens(self, account: str, filters: Sequence[SearchFilter]) -> list[TokenRecord]:
        try:
            where, params = compile_filters(
                [_literal_trailing_backslash(item) for item in filters], POSTGRES
            )
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        condition = f" AND {where}" if where else ""
        rows = self._rows(
            f"SELECT {_TOKEN_COLUMNS} FROM agent_tokens WHERE account = %s{condition} "
            "ORDER BY created_time, id",
            [account, *params],
        )
        return [_token(row) for row in rows]

    def update_token(
        self,
        account: str,
        lookup: str,
        changes: TokenChanges,
        audit: AuditFor | None = None,
    ) -> TokenRecord | None:
        params = (
            changes.alias,
            None if changes.enabled is None else int(changes.enabled),
            changes.description,
            changes.os,
            changes.subscription,
            to_micros(changes.updated_time),
            lookup,
            account,
        )

        def audited(connection: psycopg.Connection[Any]) -> TokenRecord | None:
            with connection.transaction():
                before = connection.execute(
                    f"{_SELECT_TOKENS} WHERE lookup = %s AND account = %s FOR UPDATE",
                    (lookup, account),
                ).fetchall()
                if not before:
                    return None
                after = _token(connection.execute(_UPDATE_TOKEN, params).fetchall()[0])
                assert audit is not None
                connection.execute(_INSERT_AUDIT, _audit_params(audit(_token(before[0]), after)))
                return after

        try:
            if audit is None:
                rows = self._rows(_UPDATE_TOKEN, params)
                return _token(rows[0]) if rows else None
            return self._run(audited)
        except pg_errors.UniqueViolation as exc:
            if _is_alias_conflict(exc):
                raise DuplicateAlias(f"alias {changes.alias!r} is taken") from None
            raise StoreError("the update violates a constraint") from None

    # --- audit trail ------------------------------------------------------------------------

    def insert_audit(self, event: AuditEvent) -> None:
        self._rowcount(_INSERT_AUDIT, _audit_params(event))

    def list_audit(self, account: str | None = None, limit: int = 100) -> list[AuditEvent]:
        if account is None:
            rows = self._rows(f"{_SELECT_AUDIT} ORDER BY id DESC LIMIT %s", (limit,))
        else:
            rows = self._rows(
                f"{_SELECT_AUDIT} WHERE account = %s ORDER BY id DESC LIMIT %s", (account, limit)
            )
        return [_audit(row) for row in rows]


def _reason(exc: psycopg.Error) -> str:
    """The server's or driver's one-line reason; psycopg never includes the password."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


if TYPE_CHECKING:

    def _is_a_store(store: PostgresStore) -> Store:
        """mypy proves here that ``PostgresStore`` satisfies the ``Store`` protocol."""
        return store

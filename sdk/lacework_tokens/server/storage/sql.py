"""The one SQL implementation of ``Store``: ``SqlStore``, its statements, and the compiler that
turns search conditions into a WHERE clause, for SQLite and PostgreSQL alike.

- Times are stored as integer microseconds since the Unix epoch (``BIGINT`` in PostgreSQL), so
  ordering and comparisons are plain integer comparisons in both databases.
- Every value is a bound parameter, never spliced into SQL: statements join constant column
  lists and placeholders only (hence the file-wide S608 exemption below).
- A ``Dialect`` holds what the two databases spell differently: the placeholder, the two
  pattern operators, row locks, and the column types ``schema.render`` writes.

A concrete store is a subclass naming its dialect (``class SqliteStore(SqlStore,
dialect=SQLITE)``) and supplying only what differs between databases:

- ``_rows``/``_rowcount``: one autocommitted statement on one of its connections;
- ``_transaction``: a write transaction, and whatever makes it see what its writes will be
  checked against (SQLite's ``BEGIN IMMEDIATE``; PostgreSQL's row and advisory locks through
  ``_lock_accounts``, ``_lock_user_keys`` and ``Dialect.for_update``);
- ``_conflict`` and ``_is_alias_conflict``: the exception a unique constraint raises, and how
  to tell an alias conflict from a clash of token values;
- its bulk loader, ``close`` and ``schema_version``.

All three primitives turn database failures into ``StoreError`` and let ``_conflict`` through,
so the methods here can name the conflict (``DuplicateAlias``, ``DuplicateKey`` …).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol

from attrs import frozen

from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import (
    AccountRecord,
    ApiKeyRecord,
    AuditAction,
    AuditEvent,
    AuditFor,
    BearerRecord,
    ConditionValue,
    DuplicateAccount,
    DuplicateAlias,
    DuplicateKey,
    Operator,
    Role,
    SchemaTooNew,
    StoreError,
    TokenChanges,
    TokenCondition,
    TokenRecord,
    TooManyKeys,
)
from lacework_tokens.server.storage.schema import ColumnType, Migrations, Spelling

__all__ = [
    "POSTGRES",
    "SQLITE",
    "TOKEN_COLUMNS",
    "Connection",
    "Cursor",
    "Dialect",
    "SqlStore",
    "Statements",
    "apply_migrations",
    "compile_conditions",
    "from_micros",
    "like_to_glob",
    "to_micros",
    "token_params",
]

# --- times ----------------------------------------------------------------------------------

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch; a naive ``datetime`` is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


# --- dialects -------------------------------------------------------------------------------


@frozen
class Dialect:
    """How one database spells what differs. ``like``/``ilike`` format ``{column}``/``{param}``."""

    placeholder: str
    like: str
    ilike: str
    column_types: Mapping[ColumnType, Spelling]
    glob_like: bool = False  # SQLite: convert LIKE patterns to GLOB patterns
    # Appended to a SELECT that reads rows a transaction is about to update. SQLite needs
    # nothing: ``BEGIN IMMEDIATE`` already holds the database's write lock.
    for_update: str = ""


SQLITE: Final = Dialect(
    placeholder="?",
    like="{column} GLOB {param}",
    # SQLite's LIKE folds ASCII case only; that is what ilike means here.
    ilike="{column} LIKE {param} ESCAPE '\\'",
    column_types={
        ColumnType.ROW_ID: Spelling("INTEGER"),  # with PRIMARY KEY: SQLite's rowid
        ColumnType.TEXT: Spelling("TEXT"),
        ColumnType.SORTED_TEXT: Spelling("TEXT"),  # SQLite compares text bytewise already
        ColumnType.FLAG: Spelling("INTEGER"),
        ColumnType.TIME: Spelling("INTEGER"),  # SQLite integers are 64-bit
    },
    glob_like=True,
)
POSTGRES: Final = Dialect(
    placeholder="%s",
    like="{column} LIKE {param}",
    ilike="{column} ILIKE {param}",
    column_types={
        ColumnType.ROW_ID: Spelling("BIGINT GENERATED ALWAYS AS IDENTITY"),
        ColumnType.TEXT: Spelling("TEXT"),
        # The "C" collation orders by bytes and makes ILIKE fold ASCII case only, as SQLite.
        ColumnType.SORTED_TEXT: Spelling('TEXT COLLATE "C"'),
        ColumnType.FLAG: Spelling("SMALLINT", check="CHECK ({name} IN (0, 1))"),
        ColumnType.TIME: Spelling("BIGINT"),  # INTEGER is 32-bit here
    },
    for_update=" FOR UPDATE",
)


# --- search conditions → WHERE --------------------------------------------------------------


def like_to_glob(pattern: str) -> str:
    """A case-sensitive LIKE pattern (``%``, ``_``, ``\\`` escapes) as an SQLite GLOB pattern.

    SQLite's LIKE ignores ASCII case; GLOB is case-sensitive, so ``like`` runs as GLOB.
    """
    out: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            escaped = False
            out.append(_glob_literal(char))
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        else:
            out.append(_glob_literal(char))
    return "".join(out)


def _glob_literal(char: str) -> str:
    return f"[{char}]" if char in "*?[" else char


_COMPARISONS: Final = {
    Operator.EQ: "=",
    Operator.NE: "<>",
    Operator.GT: ">",
    Operator.GE: ">=",
    Operator.LT: "<",
    Operator.LE: "<=",
}


def _bound(value: ConditionValue) -> str | int:
    """A condition value as the column stores it."""
    if isinstance(value, datetime):
        return to_micros(value)
    if isinstance(value, bool):
        return int(value)
    return value


def compile_conditions(
    conditions: Sequence[TokenCondition], dialect: Dialect
) -> tuple[str, list[str | int]]:
    """``(sql, params)``: the conditions joined with AND, or ``("", [])`` when there are none.

    Conditions are taken as checked (see ``TokenCondition``); nothing is validated here.
    """
    clauses: list[str] = []
    params: list[str | int] = []
    mark = dialect.placeholder
    for condition in conditions:
        column = condition.column.value
        operator = condition.operator
        if operator is Operator.IN:
            clauses.append(f"{column} IN ({_marks(mark, len(condition.values))})")
            params.extend(_bound(value) for value in condition.values)
        elif operator is Operator.LIKE:
            pattern = str(condition.values[0])
            clauses.append(dialect.like.format(column=column, param=mark))
            params.append(like_to_glob(pattern) if dialect.glob_like else pattern)
        elif operator is Operator.ILIKE:
            clauses.append(dialect.ilike.format(column=column, param=mark))
            params.append(str(condition.values[0]))
        else:
            clauses.append(f"{column} {_COMPARISONS[operator]} {mark}")
            params.append(_bound(condition.values[0]))
    return " AND ".join(clauses), params


# --- connections ----------------------------------------------------------------------------


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class Connection(Protocol):
    """The part of a DB-API connection the shared code uses; ``sqlite3.Connection`` and
    ``psycopg.Connection`` both have it."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Cursor: ...


# --- statements -----------------------------------------------------------------------------

TOKEN_COLUMNS: Final = (
    "account, lookup, sealed, alias, enabled, description, os, subscription, "
    "created_time, updated_time, version"
)
_KEY_COLUMNS: Final = "key_id, account, secret_hash, role, user_name, enabled, created_time"
_BEARER_COLUMNS: Final = "token_hash, key_id, account, expires_at"
_AUDIT_COLUMNS: Final = (
    "time, account, actor, actor_account, action, token_alias, token_id, key_id, detail"
)
_ACCOUNT_COLUMNS: Final = "name, parent, created_time"


def _marks(mark: str, count: int) -> str:
    return ", ".join([mark] * count)


class Statements:
    """Every statement ``SqlStore`` runs, in one dialect's placeholder style. Built once per
    store class from the constant column lists above; values are always bound, never spliced."""

    __slots__ = (
        "account_taken",
        "count_user_keys",
        "delete_expired_bearers",
        "delete_key",
        "delete_key_bearers",
        "find_account",
        "get_bearer",
        "get_key",
        "get_token",
        "get_token_for_update",
        "insert_account",
        "insert_audit",
        "insert_bearer",
        "insert_key",
        "insert_token",
        "key_exists",
        "list_accounts",
        "list_audit",
        "list_audit_of_account",
        "list_keys",
        "list_keys_of_account",
        "list_tokens",
        "search_tokens",
        "set_key_enabled",
        "update_token",
    )

    def __init__(self, dialect: Dialect) -> None:
        p = dialect.placeholder
        select_keys = f"SELECT {_KEY_COLUMNS} FROM api_keys"
        select_tokens = f"SELECT {TOKEN_COLUMNS} FROM agent_tokens"
        select_audit = f"SELECT id, {_AUDIT_COLUMNS} FROM audit_events"
        by_token = f"WHERE lookup = {p} AND account = {p}"

        self.account_taken = f"SELECT 1 FROM accounts WHERE lower(name) = lower({p})"
        self.find_account = (
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE lower(name) = lower({p})"
        )
        self.insert_account = f"INSERT INTO accounts ({_ACCOUNT_COLUMNS}) VALUES ({_marks(p, 3)})"
        self.list_accounts = f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY name"

        self.key_exists = f"SELECT 1 FROM api_keys WHERE key_id = {p}"
        self.count_user_keys = (
            f"SELECT count(*) FROM api_keys WHERE account = {p} AND user_name = {p}"
        )
        self.insert_key = f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES ({_marks(p, 7)})"
        self.get_key = f"{select_keys} WHERE key_id = {p}"
        self.list_keys = f"{select_keys} ORDER BY created_time, key_id"
        self.list_keys_of_account = (
            f"{select_keys} WHERE account = {p} ORDER BY created_time, key_id"
        )
        self.set_key_enabled = f"UPDATE api_keys SET enabled = {p} WHERE key_id = {p}"
        self.delete_key = f"DELETE FROM api_keys WHERE key_id = {p}"
        self.delete_key_bearers = f"DELETE FROM bearers WHERE key_id = {p}"

        self.insert_bearer = f"INSERT INTO bearers ({_BEARER_COLUMNS}) VALUES ({_marks(p, 4)})"
        self.get_bearer = f"SELECT {_BEARER_COLUMNS} FROM bearers WHERE token_hash = {p}"
        self.delete_expired_bearers = f"DELETE FROM bearers WHERE expires_at <= {p}"

        self.insert_token = f"INSERT INTO agent_tokens ({TOKEN_COLUMNS}) VALUES ({_marks(p, 11)})"
        self.get_token = f"{select_tokens} {by_token}"
        self.get_token_for_update = f"{select_tokens} {by_token}{dialect.for_update}"
        self.list_tokens = f"{select_tokens} WHERE account = {p} ORDER BY created_time, id"
        # ``{condition}`` is the WHERE clause ``compile_conditions`` builds, with bound values.
        self.search_tokens = (
            f"{select_tokens} WHERE account = {p}{{condition}} ORDER BY created_time, id"
        )
        self.update_token = (
            f"UPDATE agent_tokens SET alias = coalesce({p}, alias), "
            f"enabled = coalesce({p}, enabled), description = coalesce({p}, description), "
            f"os = coalesce({p}, os), subscription = coalesce({p}, subscription), "
            f"updated_time = {p} {by_token} RETURNING {TOKEN_COLUMNS}"
        )

        self.insert_audit = f"INSERT INTO audit_events ({_AUDIT_COLUMNS}) VALUES ({_marks(p, 9)})"
        self.list_audit = f"{select_audit} ORDER BY id DESC LIMIT {p}"
        self.list_audit_of_account = (
            f"{select_audit} WHERE account = {p} ORDER BY id DESC LIMIT {p}"
        )


# --- rows ↔ records -------------------------------------------------------------------------

# Dict lookups are cheaper than ``Role(...)``/``AuditAction(...)`` on the read path.
_ROLES: Final = {role.value: role for role in Role}
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


def token_params(record: TokenRecord) -> tuple[Any, ...]:
    """A token as the values of ``TOKEN_COLUMNS``, in that order."""
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


def _update_params(account: str, lookup: str, changes: TokenChanges) -> tuple[Any, ...]:
    return (
        changes.alias,
        None if changes.enabled is None else int(changes.enabled),
        changes.description,
        changes.os,
        changes.subscription,
        to_micros(changes.updated_time),
        lookup,
        account,
    )


def _key(row: Sequence[Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=row[0],
        account=row[1],
        secret_hash=row[2],
        role=_ROLES[row[3]],
        user=row[4],
        enabled=bool(row[5]),
        created_time=from_micros(row[6]),
    )


def _key_params(record: ApiKeyRecord) -> tuple[Any, ...]:
    return (
        record.key_id,
        record.account,
        record.secret_hash,
        record.role.value,
        record.user,
        int(record.enabled),
        to_micros(record.created_time),
    )


def _bearer(row: Sequence[Any]) -> BearerRecord:
    return BearerRecord(
        token_hash=row[0], key_id=row[1], account=row[2], expires_at=from_micros(row[3])
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


def _account(row: Sequence[Any]) -> AccountRecord:
    return AccountRecord(name=row[0], parent=row[1], created_time=from_micros(row[2]))


# --- migrations ---------------------------------------------------------------------------------


def apply_migrations(
    connection: Connection,
    migrations: Migrations,
    *,
    dialect: Dialect,
    where: str,
    instead: str,
    target: int | None = None,
) -> int:
    """Bring the schema to ``target`` (default: the newest); returns the version found before.

    Runs in the caller's transaction, which also holds whatever keeps two processes from
    migrating at once. Raises ``SchemaTooNew`` naming ``where`` ("database /x/tokens.db") and
    what to use ``instead`` ("database file") when the database is ahead of ``migrations``.
    """
    latest = len(migrations)
    connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
    current = int(row[0]) if row is not None and row[0] is not None else 0
    if current > latest:
        raise SchemaTooNew(
            f"the {where} has schema version {current}, but this server knows versions up to "
            f"{latest}: upgrade lacework-tokens or use another {instead}"
        )
    record = f"INSERT INTO schema_version (version) VALUES ({dialect.placeholder})"
    for number in range(current + 1, (latest if target is None else target) + 1):
        for statement in migrations[number - 1]:
            connection.execute(statement)
        connection.execute(record, (number,))
    return current


# --- the store ------------------------------------------------------------------------------


class SqlStore(abc.ABC):
    """``Store`` over SQL; see the module docstring for what a subclass supplies."""

    _dialect: ClassVar[Dialect]
    _sql: ClassVar[Statements]
    # The exception a violated unique constraint raises; the primitives let it through.
    _conflict: ClassVar[type[Exception]]

    def __init_subclass__(cls, *, dialect: Dialect, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._dialect = dialect
        cls._sql = Statements(dialect)

    # --- what a subclass supplies -----------------------------------------------------------

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of one autocommitted statement."""

    @abc.abstractmethod
    def _rowcount(self, sql: str, params: Sequence[Any] = ()) -> int:
        """How many rows one autocommitted statement changed."""

    @abc.abstractmethod
    def _transaction(self) -> AbstractContextManager[Connection]:
        """One write transaction: committed when the block ends, rolled back when it raises."""

    @abc.abstractmethod
    def _is_alias_conflict(self, exc: Exception) -> bool:
        """Whether a ``_conflict`` is the ``UNIQUE (account, alias)`` constraint."""

    @abc.abstractmethod
    def _lock_accounts(self, connection: Connection) -> None:
        """In a transaction: serialise account creation, so two names differing only in case
        cannot both get in."""

    @abc.abstractmethod
    def _lock_user_keys(self, connection: Connection, account: str, user: str) -> None:
        """In a transaction: serialise key creation for one user, so concurrent creates cannot
        both pass the count below the limit."""

    # --- accounts ---------------------------------------------------------------------------

    def insert_account(self, record: AccountRecord, audit: AuditEvent | None = None) -> None:
        sql = self._sql
        try:
            with self._transaction() as connection:
                self._lock_accounts(connection)
                if connection.execute(sql.account_taken, (record.name,)).fetchall():
                    raise DuplicateAccount(f"an account named {record.name!r} exists")
                connection.execute(
                    sql.insert_account,
                    (record.name, record.parent, to_micros(record.created_time)),
                )
                if audit is not None:
                    connection.execute(sql.insert_audit, _audit_params(audit))
        except self._conflict:
            raise DuplicateAccount(f"an account named {record.name!r} exists") from None

    def find_account(self, name: str) -> AccountRecord | None:
        rows = self._rows(self._sql.find_account, (name,))
        exact = [row for row in rows if row[0] == name]
        chosen = exact or rows
        return _account(chosen[0]) if chosen else None

    def list_accounts(self) -> list[AccountRecord]:
        return [_account(row) for row in self._rows(self._sql.list_accounts)]

    # --- API keys ---------------------------------------------------------------------------

    def insert_api_key(
        self,
        record: ApiKeyRecord,
        *,
        max_per_user: int | None = None,
        audit: AuditEvent | None = None,
    ) -> None:
        sql = self._sql
        try:
            with self._transaction() as connection:
                if max_per_user is not None:
                    self._lock_user_keys(connection, record.account, record.user)
                    if connection.execute(sql.key_exists, (record.key_id,)).fetchall():
                        raise DuplicateKey(f"an API key with id {record.key_id!r} exists")
                    row = connection.execute(
                        sql.count_user_keys, (record.account, record.user)
                    ).fetchone()
                    count = int(row[0]) if row is not None else 0
                    if count >= max_per_user:
                        raise TooManyKeys(
                            f"user {record.user!r} already has {count} API keys "
                            f"in account {record.account!r}"
                        )
                connection.execute(sql.insert_key, _key_params(record))
                if audit is not None:
                    connection.execute(sql.insert_audit, _audit_params(audit))
        except self._conflict:
            raise DuplicateKey(f"an API key with id {record.key_id!r} exists") from None

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        rows = self._rows(self._sql.get_key, (key_id,))
        return _key(rows[0]) if rows else None

    def list_api_keys(self, account: str | None = None) -> list[ApiKeyRecord]:
        if account is None:
            rows = self._rows(self._sql.list_keys)
        else:
            rows = self._rows(self._sql.list_keys_of_account, (account,))
        return [_key(row) for row in rows]

    def count_api_keys(self) -> int:
        return int(self._rows("SELECT count(*) FROM api_keys")[0][0])

    def set_api_key_enabled(
        self, key_id: str, enabled: bool, audit: AuditEvent | None = None
    ) -> bool:
        sql = self._sql
        with self._transaction() as connection:
            changed = connection.execute(sql.set_key_enabled, (int(enabled), key_id)).rowcount > 0
            if changed and audit is not None:
                connection.execute(sql.insert_audit, _audit_params(audit))
        return changed

    def delete_api_key(self, key_id: str, audit: AuditEvent | None = None) -> bool:
        sql = self._sql
        with self._transaction() as connection:
            deleted = connection.execute(sql.delete_key, (key_id,)).rowcount > 0
            if deleted:
                connection.execute(sql.delete_key_bearers, (key_id,))
                if audit is not None:
                    connection.execute(sql.insert_audit, _audit_params(audit))
        return deleted

    # --- bearer tokens ----------------------------------------------------------------------

    def insert_bearer(self, record: BearerRecord) -> None:
        params = (record.token_hash, record.key_id, record.account, to_micros(record.expires_at))
        try:
            self._rowcount(self._sql.insert_bearer, params)
        except self._conflict:
            raise StoreError("a bearer token with this hash already exists") from None

    def get_bearer(self, token_hash: str) -> BearerRecord | None:
        rows = self._rows(self._sql.get_bearer, (token_hash,))
        return _bearer(rows[0]) if rows else None

    def delete_expired_bearers(self, now: datetime) -> int:
        return self._rowcount(self._sql.delete_expired_bearers, (to_micros(now),))

    # --- agent access tokens ----------------------------------------------------------------

    def insert_token(self, record: TokenRecord, audit: AuditEvent | None = None) -> None:
        sql = self._sql
        try:
            if audit is None:  # one statement, no transaction: the fast path
                self._rowcount(sql.insert_token, token_params(record))
            else:
                with self._transaction() as connection:
                    connection.execute(sql.insert_token, token_params(record))
                    connection.execute(sql.insert_audit, _audit_params(audit))
        except self._conflict as exc:
            if self._is_alias_conflict(exc):
                raise DuplicateAlias(f"alias {record.alias!r} is taken") from None
            raise StoreError("a token with this value already exists") from None

    def get_token(self, account: str, lookup: str) -> TokenRecord | None:
        rows = self._rows(self._sql.get_token, (lookup, account))
        return _token(rows[0]) if rows else None

    def list_tokens(self, account: str) -> list[TokenRecord]:
        return [_token(row) for row in self._rows(self._sql.list_tokens, (account,))]

    def search_tokens(
        self, account: str, conditions: Sequence[TokenCondition]
    ) -> list[TokenRecord]:
        where, params = compile_conditions(conditions, self._dialect)
        query = self._sql.search_tokens.format(condition=f" AND {where}" if where else "")
        return [_token(row) for row in self._rows(query, [account, *params])]

    def update_token(
        self,
        account: str,
        lookup: str,
        changes: TokenChanges,
        audit: AuditFor | None = None,
    ) -> TokenRecord | None:
        sql = self._sql
        params = _update_params(account, lookup, changes)
        try:
            if audit is None:  # one statement, no transaction: the fast path
                rows = self._rows(sql.update_token, params)
                return _token(rows[0]) if rows else None
            with self._transaction() as connection:
                before = connection.execute(sql.get_token_for_update, (lookup, account)).fetchall()
                if not before:
                    return None
                after = _token(connection.execute(sql.update_token, params).fetchall()[0])
                connection.execute(sql.insert_audit, _audit_params(audit(_token(before[0]), after)))
                return after
        except self._conflict as exc:
            if self._is_alias_conflict(exc):
                raise DuplicateAlias(f"alias {changes.alias!r} is taken") from None
            raise StoreError("the update violates a constraint") from None

    # --- audit trail ------------------------------------------------------------------------

    def insert_audit(self, event: AuditEvent) -> None:
        self._rowcount(self._sql.insert_audit, _audit_params(event))

    def list_audit(self, account: str | None = None, limit: int = 100) -> list[AuditEvent]:
        if account is None:
            rows = self._rows(self._sql.list_audit, (limit,))
        else:
            rows = self._rows(self._sql.list_audit_of_account, (account, limit))
        return [_audit(row) for row in rows]


if TYPE_CHECKING:

    def _is_a_store(store: SqlStore) -> Store:
        """mypy proves here that every ``SqlStore`` satisfies the ``Store`` protocol."""
        return store

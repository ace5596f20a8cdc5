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
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol

from attrs import evolve, frozen

from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import (
    AccountRecord,
    AgentColumn,
    AgentQuery,
    AgentRecord,
    ApiKeyRecord,
    AuditAction,
    AuditEvent,
    AuditFor,
    BearerRecord,
    ConditionValue,
    DuplicateAccount,
    DuplicateAlias,
    DuplicateKey,
    EnrollmentsExhausted,
    Operator,
    Role,
    SchemaTooNew,
    StoreError,
    TokenChanges,
    TokenCondition,
    TokenRecord,
    TokenUsageRecord,
    TooManyKeys,
    Unchanged,
)
from lacework_tokens.server.storage.schema import (
    ACTIVITY_BUCKET_MICROS,
    ColumnType,
    Migrations,
    Spelling,
)

__all__ = [
    "AGENT_COLUMNS",
    "POSTGRES",
    "SQLITE",
    "TOKEN_COLUMNS",
    "Connection",
    "Cursor",
    "Dialect",
    "SqlStore",
    "Statements",
    "agent_params",
    "apply_migrations",
    "compile_agent_conditions",
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
    # timedelta's positional form is several times faster than its keywords: this runs twice
    # for every token listed.
    return _EPOCH + timedelta(0, 0, value)


# --- dialects -------------------------------------------------------------------------------


@frozen
class Dialect:
    """How one database spells what differs. ``like``/``ilike`` format ``{column}``/``{param}``."""

    placeholder: str
    like: str
    ilike: str
    # A whole-value regular expression match; the pattern arrives anchored, ``^(?:…)$``.
    rlike: str
    # One tag of an agent's ``tags`` JSON, ``{param}`` being what ``tag_key`` makes of its key.
    tag: str
    column_types: Mapping[ColumnType, Spelling]
    glob_like: bool = False  # SQLite: convert LIKE patterns to GLOB patterns
    # Appended to a SELECT that reads rows a transaction is about to update. SQLite needs
    # nothing: ``BEGIN IMMEDIATE`` already holds the database's write lock.
    for_update: str = ""
    tag_path: bool = False  # SQLite: the tag's key as a JSON path, ``$."key"``

    def tag_key(self, key: str) -> str:
        # Keys keep to ``limits.TAG_KEY`` (no quote, no backslash), so quoting cannot break.
        return f'$."{key}"' if self.tag_path else key


SQLITE: Final = Dialect(
    placeholder="?",
    like="{column} GLOB {param}",
    # SQLite's LIKE folds ASCII case only; that is what ilike means here.
    ilike="{column} LIKE {param} ESCAPE '\\'",
    # REGEXP calls the ``regexp`` function each connection registers (``sqlite.py``).
    rlike="{column} REGEXP {param}",
    tag="json_extract(a.tags, {param})",
    column_types={
        ColumnType.ROW_ID: Spelling("INTEGER"),  # with PRIMARY KEY: SQLite's rowid
        ColumnType.TEXT: Spelling("TEXT"),
        ColumnType.SORTED_TEXT: Spelling("TEXT"),  # SQLite compares text bytewise already
        ColumnType.FLAG: Spelling("INTEGER"),
        ColumnType.TIME: Spelling("INTEGER"),  # SQLite integers are 64-bit
        ColumnType.INTEGER: Spelling("INTEGER"),
    },
    glob_like=True,
    tag_path=True,
)
POSTGRES: Final = Dialect(
    placeholder="%s",
    like="{column} LIKE {param}",
    ilike="{column} ILIKE {param}",
    rlike="{column} ~ {param}",
    tag="(a.tags::jsonb ->> {param})",
    column_types={
        ColumnType.ROW_ID: Spelling("BIGINT GENERATED ALWAYS AS IDENTITY"),
        ColumnType.TEXT: Spelling("TEXT"),
        # The "C" collation orders by bytes and makes ILIKE fold ASCII case only, as SQLite.
        ColumnType.SORTED_TEXT: Spelling('TEXT COLLATE "C"'),
        ColumnType.FLAG: Spelling("SMALLINT", check="CHECK ({name} IN (0, 1))"),
        ColumnType.TIME: Spelling("BIGINT"),  # INTEGER is 32-bit here
        ColumnType.INTEGER: Spelling("BIGINT"),
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


def _bound(value: ConditionValue | int) -> str | int:
    """A condition value as the column stores it."""
    if isinstance(value, datetime):
        return to_micros(value)
    if isinstance(value, bool):
        return int(value)
    return value


_NEGATED: Final = {
    Operator.NOT_IN: Operator.IN,
    Operator.NOT_LIKE: Operator.LIKE,
    Operator.NOT_ILIKE: Operator.ILIKE,
    Operator.NOT_RLIKE: Operator.RLIKE,
}


def _clause(
    expression: str,
    operator: Operator,
    values: Sequence[ConditionValue | int],
    dialect: Dialect,
    params: list[str | int],
) -> str:
    """One condition on an SQL ``expression`` (without placeholders); appends its values."""
    mark = dialect.placeholder
    positive = _NEGATED.get(operator)
    if positive is not None:
        return f"NOT ({_clause(expression, positive, values, dialect, params)})"
    if operator is Operator.IN:
        params.extend(_bound(value) for value in values)
        return f"{expression} IN ({_marks(mark, len(values))})"
    if operator is Operator.BETWEEN:
        params.extend(_bound(value) for value in values[:2])
        return f"{expression} BETWEEN {mark} AND {mark}"
    if operator is Operator.LIKE:
        pattern = str(values[0])
        params.append(like_to_glob(pattern) if dialect.glob_like else pattern)
        return dialect.like.format(column=expression, param=mark)
    if operator is Operator.ILIKE:
        params.append(str(values[0]))
        return dialect.ilike.format(column=expression, param=mark)
    if operator is Operator.RLIKE:
        params.append(f"^(?:{values[0]})$")
        return dialect.rlike.format(column=expression, param=mark)
    params.append(_bound(values[0]))
    return f"{expression} {_COMPARISONS[operator]} {mark}"


def compile_conditions(
    conditions: Sequence[TokenCondition], dialect: Dialect
) -> tuple[str, list[str | int]]:
    """``(sql, params)``: the conditions joined with AND, or ``("", [])`` when there are none.

    Conditions are taken as checked (see ``TokenCondition``); nothing is validated here.
    """
    params: list[str | int] = []
    clauses = [
        _clause(condition.column.value, condition.operator, condition.values, dialect, params)
        for condition in conditions
    ]
    return " AND ".join(clauses), params


# Agent columns as the search query names them (``a`` the agent, ``t`` its token). A missing
# tag or scope compares as "", so ``ne`` and the negations hold for an agent without it.
_AGENT_EXPRESSIONS: Final = {
    AgentColumn.MID: "a.mid",
    AgentColumn.HOSTNAME: "a.hostname",
    AgentColumn.OS: "a.os",
    AgentColumn.AGENT_VERSION: "a.agent_version",
    AgentColumn.MODE: "a.mode",
    AgentColumn.IP_ADDR: "a.ip_addr",
    AgentColumn.SCOPE: "coalesce(a.scope, '')",
    AgentColumn.TOKEN: "a.token_lookup",
    AgentColumn.CREATED_TIME: "a.created_time",
    AgentColumn.LAST_UPDATE: "a.last_update",
}
_TEXT_OPERATORS: Final = frozenset(
    {
        Operator.LIKE,
        Operator.ILIKE,
        Operator.RLIKE,
        Operator.NOT_LIKE,
        Operator.NOT_ILIKE,
        Operator.NOT_RLIKE,
    }
)


def compile_agent_conditions(
    query: AgentQuery, statuses: tuple[str, str, str], dialect: Dialect
) -> tuple[str, list[str | int]]:
    """The WHERE clause (without ``WHERE``) of an agent search, its window and conditions,
    with its parameters. ``statuses`` names active, inactive and token-disabled agents."""
    mark = dialect.placeholder
    params: list[str | int] = [query.account, to_micros(query.start), to_micros(query.end)]
    clauses = [f"a.account = {mark}", f"a.last_update >= {mark}", f"a.created_time <= {mark}"]
    for condition in query.conditions:
        column = condition.column
        if column is AgentColumn.TAG:
            params.append(dialect.tag_key(condition.tag))
            expression = f"coalesce({dialect.tag.format(param=mark)}, '')"
        elif column is AgentColumn.STATUS:
            active, inactive, disabled = statuses
            params += [disabled, to_micros(query.active_since), active, inactive]
            expression = (
                f"(CASE WHEN t.enabled = 0 THEN {mark} WHEN a.last_update >= {mark} "
                f"THEN {mark} ELSE {mark} END)"
            )
        elif column is AgentColumn.MID and condition.operator in _TEXT_OPERATORS:
            expression = "CAST(a.mid AS TEXT)"
        else:
            expression = _AGENT_EXPRESSIONS[column]
        clauses.append(_clause(expression, condition.operator, condition.values, dialect, params))
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
# A token as read: its columns and its policy row (none: no policy, no agents).
_TOKEN_SELECT: Final = (
    "SELECT "
    + ", ".join(f"agent_tokens.{column.strip()}" for column in TOKEN_COLUMNS.split(","))
    + ", p.expires_at, p.max_enrollments, p.scope, coalesce(p.enrolled, 0) "
    "FROM agent_tokens LEFT JOIN agent_token_policy p ON p.lookup = agent_tokens.lookup"
)
_POLICY_COLUMNS: Final = "lookup, expires_at, max_enrollments, scope"
AGENT_COLUMNS: Final = (
    "account, mid, token_lookup, hostname, os, arch, agent_version, mode, ip_addr, tags, "
    "scope, created_time, last_update"
)
_AGENT_SELECT: Final = (
    "SELECT a.account, a.mid, a.token_lookup, a.hostname, a.os, a.arch, a.agent_version, "
    "a.mode, a.ip_addr, a.tags, a.scope, a.created_time, a.last_update, t.enabled "
    "FROM agents a JOIN agent_tokens t ON t.lookup = a.token_lookup"
)
# Counts an enrollment on its token's policy row, which a token created without a policy does
# not have yet. (A check-in writes its agent's row only: the token's last check-in is the
# newest ``last_update`` of its agents, one step down the ``agents_by_token`` index.)
_COUNT_AGENT: Final = (
    "INSERT INTO agent_token_policy (lookup, enrolled) VALUES ({p}, 1) "
    "ON CONFLICT (lookup) DO UPDATE SET enrolled = agent_token_policy.enrolled + 1"
)
_KEY_COLUMNS: Final = "key_id, account, secret_hash, role, user_name, enabled, created_time"
_BEARER_COLUMNS: Final = "token_hash, key_id, account, expires_at"
_AUDIT_COLUMNS: Final = (
    "time, account, actor, actor_account, action, token_alias, token_id, key_id, detail, address"
)
_ACCOUNT_COLUMNS: Final = "name, parent, created_time"


def _marks(mark: str, count: int) -> str:
    return ", ".join([mark] * count)


def _prefixed(table: str, columns: str) -> str:
    return ", ".join(f"{table}.{column.strip()}" for column in columns.split(","))


class Statements:
    """Every statement ``SqlStore`` runs, in one dialect's placeholder style. Built once per
    store class from the constant column lists above; values are always bound, never spliced."""

    __slots__ = (
        "account_taken",
        "activity_add",
        "activity_drop_empty",
        "activity_remove",
        "agent_for_checkin",
        "agent_touch",
        "checkin_same_hour",
        "count_agent",
        "count_user_keys",
        "delete_bearer",
        "delete_expired_bearers",
        "delete_key",
        "delete_key_bearers",
        "enrolled_count",
        "find_account",
        "find_token",
        "get_agent",
        "get_bearer",
        "get_bearer_key",
        "get_key",
        "get_token",
        "get_token_for_update",
        "insert_account",
        "insert_agent",
        "insert_audit",
        "insert_bearer",
        "insert_key",
        "insert_policy",
        "insert_token",
        "key_exists",
        "last_mid",
        "list_accounts",
        "list_audit",
        "list_audit_of_account",
        "list_audit_of_token",
        "list_keys",
        "list_keys_of_account",
        "list_tokens",
        "search_tokens",
        "set_key_enabled",
        "token_for_enrollment",
        "token_page",
        "token_page_after",
        "token_usage",
        "update_policy",
        "update_token",
    )

    def __init__(self, dialect: Dialect) -> None:
        p = dialect.placeholder
        select_keys = f"SELECT {_KEY_COLUMNS} FROM api_keys"
        select_tokens = _TOKEN_SELECT
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
        self.delete_bearer = f"DELETE FROM bearers WHERE token_hash = {p} AND key_id = {p}"

        self.insert_bearer = f"INSERT INTO bearers ({_BEARER_COLUMNS}) VALUES ({_marks(p, 4)})"
        self.get_bearer = f"SELECT {_BEARER_COLUMNS} FROM bearers WHERE token_hash = {p}"
        # A bearer and its key in one point query: authentication reads both on every request.
        self.get_bearer_key = (
            f"SELECT {_prefixed('b', _BEARER_COLUMNS)}, {_prefixed('k', _KEY_COLUMNS)} "
            f"FROM bearers b JOIN api_keys k ON k.key_id = b.key_id WHERE b.token_hash = {p}"
        )
        self.delete_expired_bearers = f"DELETE FROM bearers WHERE expires_at <= {p}"

        read_token = f"WHERE agent_tokens.lookup = {p} AND account = {p}"
        self.insert_token = f"INSERT INTO agent_tokens ({TOKEN_COLUMNS}) VALUES ({_marks(p, 11)})"
        self.insert_policy = (
            f"INSERT INTO agent_token_policy ({_POLICY_COLUMNS}) VALUES ({_marks(p, 4)})"
        )
        self.find_token = f"{select_tokens} WHERE agent_tokens.lookup = {p}"
        self.get_token = f"{select_tokens} {read_token}"
        # The policy row is on the nullable side of the join: lock the token's row only.
        lock = f"{dialect.for_update} OF agent_tokens" if dialect.for_update else ""
        self.get_token_for_update = f"{select_tokens} {read_token}{lock}"
        self.list_tokens = f"{select_tokens} WHERE account = {p} ORDER BY created_time, id"
        # ``{condition}`` is the WHERE clause ``compile_conditions`` builds, with bound values.
        self.search_tokens = (
            f"{select_tokens} WHERE account = {p}{{condition}} ORDER BY created_time, id"
        )
        # One page of a list or search, in the same order, after the last row of the page
        # before (created_time and id never change, so no token is skipped or repeated).
        select_page = (
            _TOKEN_SELECT.replace("SELECT ", "SELECT agent_tokens.id, ", 1)
            + f" WHERE account = {p}"
        )
        self.token_page = f"{select_page}{{condition}} ORDER BY created_time, id LIMIT {p}"
        self.token_page_after = (
            f"{select_page}{{condition}} AND (created_time, id) > ({p}, {p}) "
            f"ORDER BY created_time, id LIMIT {p}"
        )
        self.update_token = (
            f"UPDATE agent_tokens SET alias = coalesce({p}, alias), "
            f"enabled = coalesce({p}, enabled), description = coalesce({p}, description), "
            f"os = coalesce({p}, os), subscription = coalesce({p}, subscription), "
            f"updated_time = {p} {by_token}"
        )
        # The policy columns may be cleared: each takes a flag (1: write) and a value.
        self.update_policy = (
            f"INSERT INTO agent_token_policy ({_POLICY_COLUMNS}) VALUES ({p}, {p}, {p}, {p}) "
            "ON CONFLICT (lookup) DO UPDATE SET "
            f"expires_at = CASE WHEN {p} = 1 THEN excluded.expires_at "
            "ELSE agent_token_policy.expires_at END, "
            f"max_enrollments = CASE WHEN {p} = 1 THEN excluded.max_enrollments "
            "ELSE agent_token_policy.max_enrollments END, "
            f"scope = CASE WHEN {p} = 1 THEN excluded.scope ELSE agent_token_policy.scope END"
        )

        self.count_agent = _COUNT_AGENT.format(p=p)
        # The token's row, locked on PostgreSQL: its enrollments are counted one at a time.
        # The count is read by a statement of its own once the lock is held, so it sees the
        # enrollment that held the lock before (PostgreSQL reads each statement's snapshot).
        self.token_for_enrollment = f"SELECT 1 FROM agent_tokens WHERE lookup = {p}{lock}"
        self.enrolled_count = (
            f"SELECT coalesce(max(enrolled), 0) FROM agent_token_policy WHERE lookup = {p}"
        )
        self.last_mid = f"SELECT coalesce(max(mid), 0) FROM agents WHERE account = {p}"
        self.insert_agent = f"INSERT INTO agents ({AGENT_COLUMNS}) VALUES ({_marks(p, 13)})"
        self.activity_add = (
            f"INSERT INTO agent_activity (token_lookup, bucket, agents) VALUES ({p}, {p}, 1) "
            "ON CONFLICT (token_lookup, bucket) DO UPDATE SET agents = agent_activity.agents + 1"
        )
        self.activity_remove = (
            f"UPDATE agent_activity SET agents = agents - 1 "
            f"WHERE token_lookup = {p} AND bucket = {p}"
        )
        self.activity_drop_empty = (
            f"DELETE FROM agent_activity WHERE token_lookup = {p} AND bucket = {p} AND agents <= 0"
        )
        self.get_agent = f"{_AGENT_SELECT} WHERE a.account = {p} AND a.mid = {p}"
        # The agent's row only is locked: check-ins of one token do not queue behind each other.
        lock_agent = f"{dialect.for_update} OF a" if dialect.for_update else ""
        self.agent_for_checkin = (
            f"{_AGENT_SELECT} WHERE a.account = "
            f"(SELECT account FROM agent_tokens WHERE lookup = {p}) "
            f"AND a.mid = {p} AND a.token_lookup = {p}{lock_agent}"
        )
        # A check-in within the hour of the agent's last one, of an enabled token: one
        # statement, nothing else to count (the agent stays in its agent_activity hour).
        self.checkin_same_hour = (
            f"UPDATE agents SET last_update = {p} WHERE account = "
            f"(SELECT account FROM agent_tokens WHERE lookup = {p} AND enabled = 1) "
            f"AND mid = {p} AND token_lookup = {p} AND last_update < {p} "
            f"AND last_update >= {p} RETURNING {AGENT_COLUMNS}"
        )
        self.agent_touch = (
            f"UPDATE agents SET last_update = {p} WHERE account = {p} AND mid = {p} "
            f"AND last_update < {p}"
        )
        # One statement, so the three figures come from one snapshot. Whole hours after the
        # one ``since`` falls in are summed from agent_activity; that hour is counted exactly.
        self.token_usage = (
            "SELECT coalesce(p.enrolled, 0), "
            "(SELECT max(last_update) FROM agents WHERE token_lookup = t.lookup), "
            f"(SELECT coalesce(sum(agents), 0) FROM agent_activity "
            f"WHERE token_lookup = t.lookup AND bucket > {p}), "
            f"(SELECT count(*) FROM agents WHERE token_lookup = t.lookup "
            f"AND last_update >= {p} AND last_update < {p}) "
            f"FROM agent_tokens t LEFT JOIN agent_token_policy p ON p.lookup = t.lookup "
            f"WHERE t.lookup = {p}"
        )

        self.insert_audit = f"INSERT INTO audit_events ({_AUDIT_COLUMNS}) VALUES ({_marks(p, 10)})"
        self.list_audit = f"{select_audit} ORDER BY id DESC LIMIT {p}"
        self.list_audit_of_account = (
            f"{select_audit} WHERE account = {p} ORDER BY id DESC LIMIT {p}"
        )
        # Served by the account index: a token's events are a slice of its account's.
        self.list_audit_of_token = (
            f"{select_audit} WHERE account = {p} AND token_id = {p} ORDER BY id DESC LIMIT {p}"
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
        expires_at=None if row[11] is None else from_micros(row[11]),
        max_enrollments=row[12],
        scope=row[13],
        enrolled=int(row[14]),
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


def _policy_params(record: TokenRecord) -> tuple[Any, ...]:
    return (
        record.lookup,
        None if record.expires_at is None else to_micros(record.expires_at),
        record.max_enrollments,
        record.scope,
    )


def _has_policy(record: TokenRecord) -> bool:
    return (record.expires_at, record.max_enrollments, record.scope) != (None, None, None)


def _written(value: Any) -> tuple[int, Any]:
    """A policy column's (flag, value) pair in ``update_token``: (0, None) leaves it."""
    if isinstance(value, Unchanged):
        return 0, None
    return 1, to_micros(value) if isinstance(value, datetime) else value


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


def _policy_changes(lookup: str, changes: TokenChanges) -> tuple[Any, ...] | None:
    """``update_policy``'s values, or ``None`` when the update leaves the policy alone."""
    written = [_written(v) for v in (changes.expires_at, changes.max_enrollments, changes.scope)]
    if not any(flag for flag, _ in written):
        return None
    return (lookup, *(value for _, value in written), *(flag for flag, _ in written))


def _agent(row: Sequence[Any]) -> AgentRecord:
    return AgentRecord(
        account=row[0],
        mid=int(row[1]),
        token_lookup=row[2],
        hostname=row[3],
        os=row[4],
        arch=row[5],
        agent_version=row[6],
        mode=row[7],
        ip_addr=row[8],
        tags=json.loads(row[9]),
        scope=row[10],
        created_time=from_micros(row[11]),
        last_update=from_micros(row[12]),
        token_enabled=bool(row[13]) if len(row) > 13 else True,
    )


def agent_params(record: AgentRecord) -> tuple[Any, ...]:
    """An agent as the values of ``AGENT_COLUMNS``, in that order."""
    return (
        record.account,
        record.mid,
        record.token_lookup,
        record.hostname,
        record.os,
        record.arch,
        record.agent_version,
        record.mode,
        record.ip_addr,
        json.dumps(record.tags, separators=(",", ":"), sort_keys=True),
        record.scope,
        to_micros(record.created_time),
        to_micros(record.last_update),
    )


def _bucket(value: datetime) -> int:
    return to_micros(value) // ACTIVITY_BUCKET_MICROS


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
        address=row[10],
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
        event.address,
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
    def _lock_agents(self, connection: Connection, account: str) -> None:
        """In a transaction: serialise enrollments in one account, so two agents cannot draw
        the same next ``mid``."""

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
            if changed and not enabled:
                # Enabling the key again must not bring back what was issued before.
                connection.execute(sql.delete_key_bearers, (key_id,))
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

    def get_bearer_and_key(self, token_hash: str) -> tuple[BearerRecord, ApiKeyRecord] | None:
        rows = self._rows(self._sql.get_bearer_key, (token_hash,))
        return (_bearer(rows[0][:4]), _key(rows[0][4:])) if rows else None

    def delete_bearers(
        self, key_id: str, token_hash: str | None = None, audit: AuditEvent | None = None
    ) -> int:
        sql = self._sql
        with self._transaction() as connection:
            if token_hash is None:
                deleted = connection.execute(sql.delete_key_bearers, (key_id,)).rowcount
            else:
                deleted = connection.execute(sql.delete_bearer, (token_hash, key_id)).rowcount
            if audit is not None:
                connection.execute(sql.insert_audit, _audit_params(audit))
        return int(deleted)

    def delete_expired_bearers(self, now: datetime) -> int:
        return self._rowcount(self._sql.delete_expired_bearers, (to_micros(now),))

    # --- agent access tokens ----------------------------------------------------------------

    def insert_token(self, record: TokenRecord, audit: AuditEvent | None = None) -> None:
        sql = self._sql
        try:
            if audit is None and not _has_policy(record):  # one statement: the fast path
                self._rowcount(sql.insert_token, token_params(record))
            else:
                with self._transaction() as connection:
                    connection.execute(sql.insert_token, token_params(record))
                    if _has_policy(record):
                        connection.execute(sql.insert_policy, _policy_params(record))
                    if audit is not None:
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

    def token_pages(
        self, account: str, conditions: Sequence[TokenCondition] = (), page_size: int = 100
    ) -> Iterator[list[TokenRecord]]:
        where, params = compile_conditions(conditions, self._dialect)
        condition = f" AND {where}" if where else ""
        first = self._sql.token_page.format(condition=condition)
        after = self._sql.token_page_after.format(condition=condition)
        rows = self._rows(first, [account, *params, page_size])
        while rows:
            yield [_token(row[1:]) for row in rows]
            if len(rows) < page_size:
                return
            last = rows[-1]
            rows = self._rows(after, [account, *params, last[9], last[0], page_size])

    def update_token(
        self,
        account: str,
        lookup: str,
        changes: TokenChanges,
        audit: AuditFor | None = None,
    ) -> TokenRecord | None:
        sql = self._sql
        params = _update_params(account, lookup, changes)
        policy = _policy_changes(lookup, changes)
        try:
            with self._transaction() as connection:
                before = connection.execute(sql.get_token_for_update, (lookup, account)).fetchall()
                if not before:
                    return None
                connection.execute(sql.update_token, params)
                if policy is not None:
                    connection.execute(sql.update_policy, policy)
                after = _token(connection.execute(sql.get_token, (lookup, account)).fetchall()[0])
                if audit is not None:
                    event = audit(_token(before[0]), after)
                    connection.execute(sql.insert_audit, _audit_params(event))
                return after
        except self._conflict as exc:
            if self._is_alias_conflict(exc):
                raise DuplicateAlias(f"alias {changes.alias!r} is taken") from None
            raise StoreError("the update violates a constraint") from None

    def find_token(self, lookup: str) -> TokenRecord | None:
        rows = self._rows(self._sql.find_token, (lookup,))
        return _token(rows[0]) if rows else None

    # --- agents -----------------------------------------------------------------------------

    def enroll_agent(
        self,
        record: AgentRecord,
        *,
        max_enrollments: int | None = None,
        audit: AuditEvent | None = None,
    ) -> AgentRecord:
        sql = self._sql
        lookup = record.token_lookup
        with self._transaction() as connection:
            # The token's row first (locked on PostgreSQL): concurrent enrollments with one
            # token are counted one after the other, so a single-use token enrolls one agent.
            if not connection.execute(sql.token_for_enrollment, (lookup,)).fetchall():
                raise StoreError("the agent's token does not exist")
            count = int(connection.execute(sql.enrolled_count, (lookup,)).fetchall()[0][0])
            if max_enrollments is not None and count >= max_enrollments:
                raise EnrollmentsExhausted(f"the token has enrolled {count} agents")
            self._lock_agents(connection, record.account)
            last = connection.execute(sql.last_mid, (record.account,)).fetchall()
            enrolled = evolve(record, mid=int(last[0][0]) + 1)
            connection.execute(sql.insert_agent, agent_params(enrolled))
            connection.execute(sql.count_agent, (lookup,))
            connection.execute(sql.activity_add, (lookup, _bucket(enrolled.last_update)))
            if audit is not None:
                # The mid is drawn here, so the event names it here.
                named = evolve(audit, detail=f"agent {enrolled.mid}: {audit.detail}")
                connection.execute(sql.insert_audit, _audit_params(named))
        return enrolled

    def checkin_agent(self, token_lookup: str, mid: int, now: datetime) -> AgentRecord | None:
        sql = self._sql
        seen = to_micros(now)
        hour = _bucket(now) * ACTIVITY_BUCKET_MICROS
        same_hour = (seen, token_lookup, mid, token_lookup, seen, hour)
        rows = self._rows(sql.checkin_same_hour, same_hour)
        if rows:  # the common case
            return _agent(rows[0])
        with self._transaction() as connection:
            rows = connection.execute(
                sql.agent_for_checkin, (token_lookup, mid, token_lookup)
            ).fetchall()
            if not rows:
                return None
            agent = _agent(rows[0])
            # A disabled token's agent is refused (nothing written); time never moves back.
            if not agent.token_enabled or now <= agent.last_update:
                return agent
            connection.execute(sql.agent_touch, (seen, agent.account, mid, seen))
            before, after = _bucket(agent.last_update), _bucket(now)
            if before != after:
                connection.execute(sql.activity_remove, (token_lookup, before))
                connection.execute(sql.activity_drop_empty, (token_lookup, before))
                connection.execute(sql.activity_add, (token_lookup, after))
        return evolve(agent, last_update=now)

    def get_agent(self, account: str, mid: int) -> AgentRecord | None:
        rows = self._rows(self._sql.get_agent, (account, mid))
        return _agent(rows[0]) if rows else None

    def search_agents(self, query: AgentQuery, statuses: tuple[str, str, str]) -> list[AgentRecord]:
        where, params = compile_agent_conditions(query, statuses, self._dialect)
        mark = self._dialect.placeholder
        sql = f"{_AGENT_SELECT} WHERE {where} AND a.mid > {mark} ORDER BY a.mid LIMIT {mark}"
        return [_agent(row) for row in self._rows(sql, [*params, query.after, query.limit])]

    def count_agents(self, query: AgentQuery, statuses: tuple[str, str, str]) -> int:
        where, params = compile_agent_conditions(query, statuses, self._dialect)
        sql = (
            "SELECT count(*) FROM agents a JOIN agent_tokens t ON t.lookup = a.token_lookup "
            f"WHERE {where}"
        )
        return int(self._rows(sql, params)[0][0])

    def token_usage(self, lookup: str, since: datetime) -> TokenUsageRecord | None:
        first = _bucket(since)
        boundary_end = (first + 1) * ACTIVITY_BUCKET_MICROS
        rows = self._rows(self._sql.token_usage, (first, to_micros(since), boundary_end, lookup))
        if not rows:
            return None
        enrolled, last, whole_hours, boundary = rows[0]
        return TokenUsageRecord(
            enrolled=int(enrolled),
            # Bounded by enrolled: a check-in between the two counts cannot show more.
            active=min(int(enrolled), int(whole_hours) + int(boundary)),
            last_checkin=None if last is None else from_micros(last),
        )

    def insert_agents_bulk(self, records: Iterable[AgentRecord]) -> int:
        """Insert many agents as they are, mids included, in one transaction, then recount
        their tokens' usage (benchmarks, imports); all or nothing."""
        sql = self._sql
        lookups: set[str] = set()
        count = 0

        def rows() -> Iterable[tuple[Any, ...]]:
            nonlocal count
            for record in records:
                count += 1
                lookups.add(record.token_lookup)
                yield agent_params(record)

        mark = self._dialect.placeholder
        recount = (
            "INSERT INTO agent_token_policy (lookup, enrolled) "
            f"SELECT {mark}, count(*) FROM agents WHERE token_lookup = {mark} "
            "ON CONFLICT (lookup) DO UPDATE SET enrolled = excluded.enrolled"
        )
        rebuild = (
            "INSERT INTO agent_activity (token_lookup, bucket, agents) "
            f"SELECT token_lookup, last_update / {ACTIVITY_BUCKET_MICROS}, count(*) FROM agents "
            f"WHERE token_lookup = {mark} GROUP BY token_lookup, last_update / "
            f"{ACTIVITY_BUCKET_MICROS}"
        )
        try:
            with self._transaction() as connection:
                executemany = getattr(connection, "executemany", None)
                if executemany is not None:
                    executemany(sql.insert_agent, rows())
                else:  # psycopg connections have it on cursors
                    with connection.cursor() as cursor:  # type: ignore[attr-defined]
                        cursor.executemany(sql.insert_agent, list(rows()))
                for lookup in lookups:
                    connection.execute(recount, (lookup, lookup))
                    connection.execute(
                        f"DELETE FROM agent_activity WHERE token_lookup = {mark}", (lookup,)
                    )
                    connection.execute(rebuild, (lookup,))
        except self._conflict:
            raise StoreError("an agent's mid in the batch is taken") from None
        return count

    # --- audit trail ------------------------------------------------------------------------

    def insert_audit(self, event: AuditEvent) -> None:
        self._rowcount(self._sql.insert_audit, _audit_params(event))

    def insert_audit_events(self, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        with self._transaction() as connection:
            for event in events:
                connection.execute(self._sql.insert_audit, _audit_params(event))

    def list_audit(self, account: str | None = None, limit: int = 100) -> list[AuditEvent]:
        if account is None:
            rows = self._rows(self._sql.list_audit, (limit,))
        else:
            rows = self._rows(self._sql.list_audit_of_account, (account, limit))
        return [_audit(row) for row in rows]

    def list_audit_of_token(
        self, account: str, token_id: str, limit: int = 100
    ) -> list[AuditEvent]:
        rows = self._rows(self._sql.list_audit_of_token, (account, token_id, limit))
        return [_audit(row) for row in rows]


if TYPE_CHECKING:

    def _is_a_store(store: SqlStore) -> Store:
        """mypy proves here that every ``SqlStore`` satisfies the ``Store`` protocol."""
        return store

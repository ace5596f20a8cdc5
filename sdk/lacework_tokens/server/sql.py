"""SQL shared by the SQLite and PostgreSQL stores: time encoding and search filters → WHERE.

Times are stored as integer microseconds since the Unix epoch (``BIGINT`` in PostgreSQL), so
ordering and comparisons are plain integer comparisons in both databases.

Search filters are compiled to a WHERE clause with bound parameters only (never a value spliced
into SQL); a ``Dialect`` supplies the placeholder, the two pattern operators and the few other
spellings that differ between databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from attrs import frozen

from lacework_tokens.wire import Expression, SearchFilter, parse_time

__all__ = [
    "POSTGRES",
    "SEARCH_COLUMNS",
    "SQLITE",
    "Dialect",
    "compile_filters",
    "ends_in_escape",
    "from_micros",
    "like_to_glob",
    "to_micros",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch; a naive ``datetime`` is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


# Wire field → column. On the wire the top-level ``createdTime`` is the time of the LAST
# UPDATE (the provider maps it to ``last_updated_time``), so it filters ``updated_time``.
SEARCH_COLUMNS: Final = {
    "tokenAlias": "alias",
    "tokenEnabled": "enabled",
    "props.os": "os",
    "props.description": "description",
    "createdTime": "updated_time",
}
_TEXT_FIELDS: Final = frozenset({"tokenAlias", "props.os", "props.description"})
_COMPARISONS: Final = {
    Expression.EQ: "=",
    Expression.NE: "<>",
    Expression.GT: ">",
    Expression.GE: ">=",
    Expression.LT: "<",
    Expression.LE: "<=",
}


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
    if escaped:  # a trailing backslash stands for itself
        out.append("\\")
    return "".join(out)


def _glob_literal(char: str) -> str:
    return f"[{char}]" if char in "*?[" else char


def ends_in_escape(pattern: str) -> bool:
    """Whether a LIKE pattern ends in a lone (unescaped) ``\\``, which PostgreSQL refuses."""
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return trailing % 2 == 1


@frozen
class Dialect:
    """How one database spells what differs. ``like``/``ilike`` format ``{column}``/``{param}``."""

    placeholder: str
    like: str
    ilike: str
    glob_like: bool = False  # SQLite: convert LIKE patterns to GLOB patterns
    # PostgreSQL rejects a pattern ending in a lone escape; there it stands for itself.
    literal_trailing_escape: bool = False
    # Appended to a SELECT that reads rows a transaction is about to update. SQLite needs
    # nothing: ``BEGIN IMMEDIATE`` already holds the database's write lock.
    for_update: str = ""


SQLITE: Final = Dialect(
    placeholder="?",
    like="{column} GLOB {param}",
    # SQLite's LIKE folds ASCII case only; that is what ilike means here.
    ilike="{column} LIKE {param} ESCAPE '\\'",
    glob_like=True,
)
# Text columns should use COLLATE "C" in PostgreSQL so gt/lt order matches SQLite's bytewise order.
POSTGRES: Final = Dialect(
    placeholder="%s",
    like="{column} LIKE {param}",
    ilike="{column} ILIKE {param}",
    literal_trailing_escape=True,
    for_update=" FOR UPDATE",
)


def _value(item: SearchFilter, raw: str | int | None) -> str | int:
    """The bound value for one filter value; filters were validated by the service."""
    if raw is None:
        raise ValueError(f"{item.field}: a value is required")
    if item.field == "tokenEnabled":
        return int(raw)
    if item.field == "createdTime":
        if not isinstance(raw, str):
            raise ValueError("createdTime: must be an RFC 3339 time")
        return to_micros(parse_time(raw))
    return str(raw)


def compile_filters(
    filters: Sequence[SearchFilter], dialect: Dialect
) -> tuple[str, list[str | int]]:
    """``(sql, params)``: the filters joined with AND, or ``("", [])`` when there are none.

    Raises ``ValueError`` for a field or expression the store cannot search.
    """
    clauses: list[str] = []
    params: list[str | int] = []
    mark = dialect.placeholder
    for item in filters:
        column = SEARCH_COLUMNS.get(item.field)
        if column is None:
            raise ValueError(f"cannot search on {item.field!r}")
        expression = item.expression
        if expression is Expression.IN:
            values = item.values or ((item.value,) if item.value is not None else ())
            if not values:
                raise ValueError(f"{item.field}: 'in' needs values")
            clauses.append(f"{column} IN ({', '.join(mark for _ in values)})")
            params.extend(_value(item, v) for v in values)
        elif expression in _COMPARISONS:
            clauses.append(f"{column} {_COMPARISONS[expression]} {mark}")
            params.append(_value(item, item.value))
        elif expression in (Expression.LIKE, Expression.ILIKE):
            if item.field not in _TEXT_FIELDS:
                raise ValueError(f"{item.field}: {expression.value!r} needs a text field")
            pattern = str(_value(item, item.value))
            if dialect.literal_trailing_escape and ends_in_escape(pattern):
                pattern += "\\"
            if expression is Expression.LIKE:
                template = dialect.like
                if dialect.glob_like:
                    pattern = like_to_glob(pattern)
            else:
                template = dialect.ilike
            clauses.append(template.format(column=column, param=mark))
            params.append(pattern)
        else:  # pragma: no cover - Expression is a closed enum
            raise ValueError(f"unknown expression {expression!r}")
    return " AND ".join(clauses), params

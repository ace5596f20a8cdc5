"""Agents: enrollment and check-in (authenticated by the agent token), AgentInfo search with
paging, and usage per token.

- An agent enrolls with its token and what it says about itself; the token must exist (401
  otherwise), be enabled, not be past its ``expires_at``, grant the scope the agent asks for
  (a token without a scope grants none) and not have enrolled its ``max_enrollments`` agents
  yet (403 with the reason otherwise). The agent gets the account's next ``mid`` and joins the
  token's scope. Enrollments and refused enrollments are written to the audit trail.
- An agent checks in with the token it enrolled with; an agent of a disabled token is refused
  and its status reads ``TOKEN_DISABLED``. Expiry and ``max_enrollments`` stop enrollments only:
  enrolled agents keep checking in.
- The token value is never stored with an agent. ``tags.LwTokenShort`` (its first 30
  characters) is derived when an agent is shown, and a filter on it becomes the set of the
  account's tokens it matches.
- ``POST /api/v2/AgentInfo/search`` answers in pages of ``page_rows`` agents by ``mid``. A
  search without ``timeFilter`` covers the last 24 hours; an agent is in a window when it
  enrolled before its end and last checked in after its start. The next page's path carries the
  whole search (compressed), so any replica can answer it and pages stay consistent: the time
  windows, the status clock and ``totalRows`` are those of the first page.
- Filters: ``eq ne in not_in like ilike not_like not_ilike rlike not_rlike gt ge lt le between``.
  ``rlike`` matches a whole value (``db-server.*``, as ``lacework agent list --filter`` sends
  it), in RE2 syntax; text expressions on ``mid`` compare its digits; times take comparisons.
"""

from __future__ import annotations

import base64
import contextlib
import json
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from attrs import frozen

from lacework_tokens import limits, wire
from lacework_tokens.server.crypto import Sealer
from lacework_tokens.server.services.audit import token_id
from lacework_tokens.server.services.clock import Clock
from lacework_tokens.server.services.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    Unauthorized,
    check_field,
)
from lacework_tokens.server.services.identity import Principal
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import (
    AgentColumn,
    AgentCondition,
    AgentQuery,
    AgentRecord,
    AuditAction,
    AuditEvent,
    ConditionValue,
    EnrollmentsExhausted,
    Operator,
    TokenRecord,
    TokenUsageRecord,
)
from lacework_tokens.server.storage.sql import from_micros, to_micros

__all__ = [
    "ACTIVE_WINDOW",
    "AGENT_FIELDS",
    "DEFAULT_PAGE_ROWS",
    "DEFAULT_SEARCH_WINDOW",
    "LIST_ROWS_MAX",
    "LIST_WINDOW",
    "UNKNOWN_TOKEN_MESSAGE",
    "AgentListing",
    "AgentService",
    "ListedAgent",
]

DEFAULT_PAGE_ROWS: Final = 1000
# What the console lists: ``lacework agent list``'s window, and a bound on one page's rows.
LIST_WINDOW: Final = timedelta(days=7)
LIST_ROWS_MAX: Final = 10_000
DEFAULT_SEARCH_WINDOW: Final = timedelta(hours=24)
# An agent seen within this time is ACTIVE, else INACTIVE.
ACTIVE_WINDOW: Final = timedelta(hours=1)
ACTIVE_HOURS_MAX: Final = 24 * 366
USAGE_TOKENS_MAX: Final = limits.SEARCH_VALUES_MAX
UNKNOWN_TOKEN_MESSAGE: Final = "Unknown agent access token."
NEXT_PAGE_PREFIX: Final = "/api/v2/AgentInfo/search/"
# A next-page path holds a compressed search of at most this much JSON (a search body is at
# most 64 KiB): a forged one cannot make the server inflate more.
_CURSOR_JSON_MAX: Final = 256 * 1024
_SHORT_CACHE_SIZE: Final = 10_000
_TEXT_MAX: Final = 64
_PATTERN_MAX: Final = 1024

_STATUSES: Final = (
    wire.AgentStatus.ACTIVE.value,
    wire.AgentStatus.INACTIVE.value,
    wire.AgentStatus.TOKEN_DISABLED.value,
)
_OS_SHOWN: Final = {"linux": "Linux", "windows": "Windows"}

# Wire field → column; ``tags.<key>`` are the agent's tags.
_COLUMNS: Final = {
    "mid": AgentColumn.MID,
    "hostname": AgentColumn.HOSTNAME,
    "os": AgentColumn.OS,
    "agentVersion": AgentColumn.AGENT_VERSION,
    "mode": AgentColumn.MODE,
    "ipAddr": AgentColumn.IP_ADDR,
    "status": AgentColumn.STATUS,
    "createdTime": AgentColumn.CREATED_TIME,
    "lastUpdate": AgentColumn.LAST_UPDATE,
    "tags.Scope": AgentColumn.SCOPE,
}
AGENT_FIELDS: Final = (*_COLUMNS, "tags.LwTokenShort", "tags.<key>")
_TIMES: Final = frozenset({AgentColumn.CREATED_TIME, AgentColumn.LAST_UPDATE})
_TEXT_OPERATORS: Final = frozenset(
    {
        Operator.LIKE,
        Operator.ILIKE,
        Operator.NOT_LIKE,
        Operator.NOT_ILIKE,
        Operator.RLIKE,
        Operator.NOT_RLIKE,
    }
)
_LIST_OPERATORS: Final = frozenset({Operator.IN, Operator.NOT_IN, Operator.BETWEEN})
_RETURNABLE: Final = frozenset(
    {
        "agentVersion",
        "createdTime",
        "hostname",
        "ipAddr",
        "lastUpdate",
        "mid",
        "mode",
        "os",
        "status",
        "tags",
    }
)


@frozen
class ListedAgent:
    """An agent as a listing shows it: its record (which names its token by id, never by
    value) and its status (ACTIVE, INACTIVE or TOKEN_DISABLED)."""

    record: AgentRecord
    status: str


@frozen
class AgentListing:
    agents: tuple[ListedAgent, ...]
    total: int  # how many agents the listing's conditions select, beyond those listed


def _short(record: TokenRecord, sealer: Sealer) -> str:
    return sealer.open(record.sealed)[: limits.TOKEN_SHORT_LENGTH]


class AgentService:
    """Agents of every account: enrollment and check-in by token, search and usage by key."""

    def __init__(
        self, store: Store, sealer: Sealer, clock: Clock, *, page_rows: int = DEFAULT_PAGE_ROWS
    ) -> None:
        if page_rows < 1:
            raise ValueError("page_rows must be at least 1")
        self.store = store
        self.sealer = sealer
        self.clock = clock
        self.page_rows = page_rows
        # lookup → LwTokenShort. A token's value never changes, so what is cached stays true.
        self._shorts: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"AgentService({self.store!r})"

    # --- the agent's side: enroll and check in ----------------------------------------------

    def _token_of(self, token: str | None) -> TokenRecord:
        """The token an agent authenticates with (``Authorization``: raw or ``Bearer``)."""
        value = _credential(token)
        if not limits.is_printable_token_value(value):
            raise Unauthorized(UNKNOWN_TOKEN_MESSAGE)
        record = self.store.find_token(self.sealer.lookup(value))
        if record is None:
            raise Unauthorized(UNKNOWN_TOKEN_MESSAGE)
        return record

    def enroll(self, token: str | None, request: wire.AgentEnrollmentRequest) -> wire.Agent:
        record = self._token_of(token)
        agent = self._new_agent(record, request)
        now = self.clock.now()
        refusal = self._refusal(record, request, self.clock.precise())
        if refusal is not None:
            self._refused(record, request, refusal)
            raise Forbidden(refusal)
        audit = AuditEvent(
            time=now,
            account=record.account,
            actor=_agent_actor(request.hostname),
            action=AuditAction.AGENT_ENROLLED,
            token_alias=record.alias,
            token_id=token_id(record.lookup),
            detail=f"hostname {request.hostname!r}"
            + (f", scope {agent.scope!r}" if agent.scope else ""),
        )
        try:
            stored = self.store.enroll_agent(
                agent, max_enrollments=record.max_enrollments, audit=audit
            )
        except EnrollmentsExhausted:
            refusal = _used_up(record)
            self._refused(record, request, refusal)
            raise Forbidden(refusal) from None
        return self._to_wire(stored, self._short_of(record))

    def checkin(self, token: str | None, request: wire.AgentCheckinRequest) -> wire.Agent:
        # The hot path is one transaction: the agent's row, joined to its token, is read and
        # written; the token alone is read only to say why a check-in is refused.
        value = _credential(token)
        lookup = self.sealer.lookup(value) if limits.is_printable_token_value(value) else ""
        found = self.store.checkin_agent(lookup, request.mid, self.clock.now()) if lookup else None
        if found is None or not found.token_enabled:
            record = self._token_of(token)
            if not record.enabled:
                raise Forbidden(_disabled(record))
            raise NotFound(f"Agent {request.mid} is not enrolled with this agent access token.")
        # The token's value is the one sent: its first characters are the agent's tag.
        return self._to_wire(found, value[: limits.TOKEN_SHORT_LENGTH])

    def _new_agent(self, token: TokenRecord, request: wire.AgentEnrollmentRequest) -> AgentRecord:
        """The agent ``request`` describes, checked (400 naming the field at fault)."""
        check_field("hostname", limits.hostname_problem(request.hostname))
        check_field("os", limits.os_problem(request.os))
        check_field("arch", limits.label_problem(request.arch))
        check_field("mode", limits.label_problem(request.mode))
        for field, value in (("agentVersion", request.agent_version), ("ipAddr", request.ip_addr)):
            if len(value) > _TEXT_MAX or limits.has_control_characters(value):
                raise BadRequest(
                    f"{field} must be at most {_TEXT_MAX} printable characters.", field
                )
        if len(request.tags) > limits.TAGS_MAX:
            raise BadRequest(f"tags may hold at most {limits.TAGS_MAX} tags.", "tags")
        for key, value in request.tags.items():
            check_field("tags", limits.tag_problem(key, value))
        if request.scope is not None:
            check_field("scope", limits.scope_problem(request.scope))
        now = self.clock.now()
        tags = {
            **request.tags,
            "Hostname": request.hostname,
            "os": request.os,
            "arch": request.arch,
        }
        return AgentRecord(
            account=token.account,
            mid=0,
            token_lookup=token.lookup,
            hostname=request.hostname,
            os=_OS_SHOWN[request.os],
            arch=request.arch,
            agent_version=request.agent_version,
            mode=request.mode,
            ip_addr=request.ip_addr,
            tags=tags,
            scope=token.scope,
            created_time=now,
            last_update=now,
        )

    @staticmethod
    def _refusal(
        token: TokenRecord, request: wire.AgentEnrollmentRequest, now: datetime
    ) -> str | None:
        """Why ``token`` may not enroll this agent, or ``None``. Used up is the store's call."""
        if not token.enabled:
            return _disabled(token)
        if token.expires_at is not None and token.expires_at <= now:
            return (
                f"Agent access token '{token.alias}' expired at "
                f"{wire.format_time(token.expires_at)}: it enrolls no new agents "
                "(agents enrolled before keep checking in)."
            )
        if request.scope is not None and request.scope != token.scope:
            granted = f"scope '{token.scope}'" if token.scope else "no scope"
            return (
                f"Agent access token '{token.alias}' grants {granted}; this agent asked for "
                f"scope '{request.scope}'."
            )
        return None

    def _refused(self, token: TokenRecord, request: wire.AgentEnrollmentRequest, why: str) -> None:
        self.store.insert_audit(
            AuditEvent(
                time=self.clock.now(),
                account=token.account,
                actor=_agent_actor(request.hostname),
                action=AuditAction.AGENT_REFUSED,
                token_alias=token.alias,
                token_id=token_id(token.lookup),
                detail=why,
            )
        )

    # --- reading: AgentInfo search, usage -------------------------------------------------------

    def search(self, principal: Principal, request: wire.AgentSearchRequest) -> wire.AgentPage:
        """The first page of an AgentInfo search."""
        now = self.clock.precise()
        end = request.end_time or now
        start = request.start_time or (end - DEFAULT_SEARCH_WINDOW)
        if start > end:
            raise BadRequest("timeFilter.startTime must not be after endTime.", "timeFilter")
        returns = _returns(request.returns)
        conditions = self._conditions(principal.account, request.filters)
        query = AgentQuery(
            account=principal.account,
            start=start,
            end=end,
            active_since=now - ACTIVE_WINDOW,
            conditions=conditions,
            limit=self.page_rows,
        )
        total = self.store.count_agents(query, _STATUSES)
        cursor = {
            "filters": [wire.converter.unstructure(item) for item in request.filters],
            "start": to_micros(start),
            "end": to_micros(end),
            "now": to_micros(now),
            "returns": list(returns),
            "total": total,
        }
        return self._page(query, cursor, returns, total)

    def next_page(self, principal: Principal, page: str) -> wire.AgentPage:
        """A page after the first, from the path segment a previous page named."""
        cursor = _decode_cursor(page)
        try:
            filters = tuple(wire.parse(item, wire.SearchFilter) for item in cursor["filters"])
            start, end, now = (from_micros(int(cursor[key])) for key in ("start", "end", "now"))
            returns = _returns(tuple(str(name) for name in cursor["returns"]))
            total, after = int(cursor["total"]), int(cursor["after"])
            if not (0 <= after <= wire.MID_MAX and total >= 0):
                raise ValueError("out of range")
        except (KeyError, TypeError, ValueError, OverflowError, wire.WireError):
            raise _bad_cursor() from None
        query = AgentQuery(
            account=principal.account,
            start=start,
            end=end,
            active_since=now - ACTIVE_WINDOW,
            conditions=self._conditions(principal.account, filters),
            after=after,
            limit=self.page_rows,
        )
        return self._page(query, cursor, returns, total)

    def _page(
        self, query: AgentQuery, cursor: dict[str, Any], returns: tuple[str, ...], total: int
    ) -> wire.AgentPage:
        # One row more than a page tells whether another page follows.
        found = self.store.search_agents(
            AgentQuery(
                account=query.account,
                start=query.start,
                end=query.end,
                active_since=query.active_since,
                conditions=query.conditions,
                after=query.after,
                limit=query.limit + 1,
            ),
            _STATUSES,
        )
        rows, more = found[: query.limit], len(found) > query.limit
        agents = tuple(
            self._to_wire(record, self._short_for(record.token_lookup), query.active_since)
            for record in rows
        )
        next_page = None
        if more and rows:
            next_page = NEXT_PAGE_PREFIX + _encode_cursor({**cursor, "after": rows[-1].mid})
        return wire.AgentPage(
            agents=agents,
            rows=len(agents),
            total_rows=max(total, len(agents)),
            next_page=next_page,
            returns=returns,
        )

    def usage(self, principal: Principal, request: wire.TokenUsageRequest) -> list[wire.TokenUsage]:
        """Agents per token of the caller's account; a token of another account is 404."""
        if not request.tokens:
            raise BadRequest("accessTokens must name at least one token.", "accessTokens")
        if len(request.tokens) > USAGE_TOKENS_MAX:
            raise BadRequest(
                f"accessTokens may name at most {USAGE_TOKENS_MAX} tokens.", "accessTokens"
            )
        if not 1 <= request.active_hours <= ACTIVE_HOURS_MAX:
            raise BadRequest(f"activeHours must be from 1 to {ACTIVE_HOURS_MAX}.", "activeHours")
        since = self.clock.precise() - timedelta(hours=request.active_hours)
        answers = []
        for token in request.tokens:
            record = None
            if limits.is_printable_token_value(token):
                record = self.store.get_token(principal.account, self.sealer.lookup(token))
            usage = None if record is None else self.store.token_usage(record.lookup, since)
            if usage is None:
                shown = wire.mask(token) if limits.is_printable_token_value(token) else "****"
                raise NotFound(f"Agent access token '{shown}' was not found.")
            answers.append(
                wire.TokenUsage(
                    enrolled=usage.enrolled,
                    active=usage.active,
                    last_checkin=usage.last_checkin,
                    active_hours=request.active_hours,
                    token=token,
                )
            )
        return answers

    # --- filters → conditions ---------------------------------------------------------------

    def _conditions(
        self, account: str, filters: Sequence[wire.SearchFilter]
    ) -> tuple[AgentCondition, ...]:
        return tuple(
            self._condition(account, f"filters[{index}]", item)
            for index, item in enumerate(filters)
        )

    def _condition(self, account: str, where: str, item: wire.SearchFilter) -> AgentCondition:
        operator = Operator(item.expression.value)
        raw: tuple[str | int, ...] = (
            tuple(item.values or ()) if operator in _LIST_OPERATORS else (_required(item, where),)
        )
        _check_arity(operator, raw, where)
        field = item.field
        if field == "tags.LwTokenShort":
            return self._token_condition(account, operator, raw, where)
        column = _COLUMNS.get(field)
        tag = ""
        if column is None:
            key = field.removeprefix("tags.")
            if field == key or limits.TAG_KEY.fullmatch(key) is None:
                raise BadRequest(
                    f"Invalid field {field[:64]!r} in {where}.field: one of "
                    f"{', '.join(AGENT_FIELDS)}",
                    f"{where}.field",
                )
            column, tag = AgentColumn.TAG, key
        if column in _TIMES:
            if operator in _TEXT_OPERATORS:
                raise BadRequest(
                    f"{where}.expression: {operator.value!r} applies to text fields only.",
                    f"{where}.expression",
                )
            times = tuple(_time(value, f"{where}.value") for value in raw)
            return AgentCondition(column, operator, times)
        if column is AgentColumn.MID and operator not in _TEXT_OPERATORS:
            return AgentCondition(column, operator, tuple(_mid(v, f"{where}.value") for v in raw))
        return AgentCondition(column, operator, _texts(operator, raw, where), tag)

    def _token_condition(
        self, account: str, operator: Operator, raw: tuple[str | int, ...], where: str
    ) -> AgentCondition:
        """A filter on ``tags.LwTokenShort`` as the set of the account's tokens it selects."""
        if operator not in (Operator.EQ, Operator.NE, Operator.IN, Operator.NOT_IN) and (
            operator not in _TEXT_OPERATORS
        ):
            raise BadRequest(
                f"{where}.expression: {operator.value!r} does not apply to tags.LwTokenShort.",
                f"{where}.expression",
            )
        texts = _texts(operator, raw, where)
        matches = _text_matcher(operator, texts)
        selected = tuple(
            record.lookup
            for record in self.store.list_tokens(account)
            if matches(self._short_of(record))
        )
        # The token set is decided here, so the store only tests membership.
        return AgentCondition(AgentColumn.TOKEN, Operator.IN, selected or ("",))

    # --- by token id (the console names tokens so, never by value) ------------------------------

    def usage_by_id(
        self, principal: Principal, tokens: Sequence[TokenRecord], *, since: datetime
    ) -> dict[str, TokenUsageRecord]:
        """Agents per token of the caller's account, by token id (lookup): enrolled, checked in
        at or after ``since``, last check-in. Tokens of another account are left out."""
        usage: dict[str, TokenUsageRecord] = {}
        for record in tokens:
            if record.account != principal.account:
                continue
            found = self.store.token_usage(record.lookup, since)
            if found is not None:
                usage[record.lookup] = found
        return usage

    def list_agents(
        self,
        principal: Principal,
        *,
        token_lookup: str | None = None,
        status: str | None = None,
        window: timedelta = LIST_WINDOW,
        limit: int = LIST_ROWS_MAX,
    ) -> AgentListing:
        """The account's agents seen within ``window`` (``lacework agent list``'s last 7 days),
        optionally of one token (by its lookup) and in one status: the first ``limit`` by MID,
        newest check-in first, with how many there are in all."""
        if status is not None and status not in _STATUSES:
            raise BadRequest(f"status must be one of {', '.join(_STATUSES)}.", "status")
        if not 1 <= limit <= LIST_ROWS_MAX:
            raise BadRequest(f"limit must be from 1 to {LIST_ROWS_MAX}.", "limit")
        now = self.clock.precise()
        conditions: list[AgentCondition] = []
        if token_lookup is not None:
            conditions.append(AgentCondition(AgentColumn.TOKEN, Operator.EQ, (token_lookup,)))
        if status is not None:
            conditions.append(AgentCondition(AgentColumn.STATUS, Operator.EQ, (status,)))
        query = AgentQuery(
            account=principal.account,
            start=now - window,
            end=now,
            active_since=now - ACTIVE_WINDOW,
            conditions=tuple(conditions),
            limit=limit,
        )
        records = self.store.search_agents(query, _STATUSES)
        records.sort(key=lambda record: record.last_update, reverse=True)
        return AgentListing(
            agents=tuple(
                ListedAgent(record, self._status(record, query.active_since)) for record in records
            ),
            total=self.store.count_agents(query, _STATUSES),
        )

    @staticmethod
    def _status(record: AgentRecord, active_since: datetime) -> str:
        if not record.token_enabled:
            return wire.AgentStatus.TOKEN_DISABLED.value
        if record.last_update >= active_since:
            return wire.AgentStatus.ACTIVE.value
        return wire.AgentStatus.INACTIVE.value

    # --- shown ------------------------------------------------------------------------------

    def _short_of(self, record: TokenRecord) -> str:
        short = self._shorts.get(record.lookup)
        if short is None:
            short = _short(record, self.sealer)
            if len(self._shorts) >= _SHORT_CACHE_SIZE:
                self._shorts.clear()
            self._shorts[record.lookup] = short
        return short

    def _short_for(self, lookup: str) -> str:
        short = self._shorts.get(lookup)
        if short is not None:
            return short
        record = self.store.find_token(lookup)
        return "" if record is None else self._short_of(record)

    def _to_wire(
        self, record: AgentRecord, short: str, active_since: datetime | None = None
    ) -> wire.Agent:
        if active_since is None:
            active_since = self.clock.precise() - ACTIVE_WINDOW
        status = self._status(record, active_since)
        tags = {**record.tags, "LwTokenShort": short}
        if record.scope is not None:
            tags["Scope"] = record.scope
        return wire.Agent(
            mid=record.mid,
            hostname=record.hostname,
            status=status,
            agent_version=record.agent_version,
            os=record.os,
            mode=record.mode,
            ip_addr=record.ip_addr,
            created_time=record.created_time,
            last_update=record.last_update,
            tags=dict(sorted(tags.items())),
        )


# --- helpers ----------------------------------------------------------------------------------


def _credential(authorization: str | None) -> str:
    """The token in an ``Authorization`` header, raw or ``Bearer <token>``."""
    value = (authorization or "").strip()
    scheme, _, rest = value.partition(" ")
    if rest and scheme.lower() == "bearer":
        value = rest.strip()
    return value


def _agent_actor(hostname: str) -> str:
    return f"agent:{hostname[:64]}"


def _disabled(token: TokenRecord) -> str:
    return (
        f"Agent access token '{token.alias}' is disabled: agents can no longer enroll or "
        "check in with it."
    )


def _used_up(token: TokenRecord) -> str:
    count = token.max_enrollments
    agents = "agent" if count == 1 else "agents"
    return (
        f"Agent access token '{token.alias}' is used up: it has enrolled the {count} {agents} "
        "its max_enrollments allows."
    )


def _required(item: wire.SearchFilter, where: str) -> str | int:
    if item.value is None:
        raise BadRequest(f"{where}.value is required.", f"{where}.value")
    return item.value


def _check_arity(operator: Operator, raw: tuple[str | int, ...], where: str) -> None:
    if operator is Operator.BETWEEN and len(raw) != 2:
        raise BadRequest(f"{where}.values: 'between' takes two values.", f"{where}.values")
    if not raw:
        raise BadRequest(
            f"{where}.values: must be a non-empty list for {operator.value!r}", f"{where}.values"
        )
    if len(raw) > limits.SEARCH_VALUES_MAX:
        raise BadRequest(
            f"{where}.values may hold at most {limits.SEARCH_VALUES_MAX} values.",
            f"{where}.values",
        )


def _texts(operator: Operator, raw: tuple[str | int, ...], where: str) -> tuple[str, ...]:
    texts = tuple(str(value) for value in raw)
    for text in texts:
        if len(text) > _PATTERN_MAX:
            raise BadRequest(f"{where}.value is too long.", f"{where}.value")
    if operator in (Operator.LIKE, Operator.ILIKE, Operator.NOT_LIKE, Operator.NOT_ILIKE):
        trailing = len(texts[0]) - len(texts[0].rstrip("\\"))
        if trailing % 2 == 1:
            raise BadRequest(
                f"{where}.value: a pattern must not end with an unescaped backslash.",
                f"{where}.value",
            )
    if operator in (Operator.RLIKE, Operator.NOT_RLIKE):
        _regex(texts[0], where)
    return texts


def _regex(pattern: str, where: str) -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(f"^(?:{pattern})$", options)
    except re2.error:
        raise BadRequest(
            f"{where}.value is not a regular expression this server takes (RE2 syntax).",
            f"{where}.value",
        ) from None


def _like(pattern: str, *, fold: bool) -> Callable[[str], bool]:
    import re

    out: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    compiled = re.compile("".join(out), re.DOTALL | (re.IGNORECASE | re.ASCII if fold else 0))
    return lambda text: compiled.fullmatch(text) is not None


def _text_matcher(operator: Operator, texts: tuple[str, ...]) -> Callable[[str], bool]:
    """The filter as a test of one text, for the few values decided in Python."""
    positive: Callable[[str], bool]
    if operator in (Operator.EQ, Operator.NE, Operator.IN, Operator.NOT_IN):
        wanted = frozenset(texts)
        positive = wanted.__contains__
    elif operator in (Operator.RLIKE, Operator.NOT_RLIKE):
        compiled = _regex(texts[0], "filter")
        positive = lambda text: compiled.match(text) is not None  # noqa: E731
    else:
        positive = _like(texts[0], fold=operator in (Operator.ILIKE, Operator.NOT_ILIKE))
    if operator in (
        Operator.NE,
        Operator.NOT_IN,
        Operator.NOT_LIKE,
        Operator.NOT_ILIKE,
        Operator.NOT_RLIKE,
    ):
        return lambda text: not positive(text)
    return positive


def _time(raw: str | int, where: str) -> ConditionValue:
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            return wire.parse_time(raw)
    raise BadRequest(f"{where}: must be an RFC 3339 time.", where)


def _mid(raw: str | int, where: str) -> int:
    if isinstance(raw, int) or (isinstance(raw, str) and raw.isascii() and raw.isdigit()):
        value = int(raw)
        if 0 <= value <= wire.MID_MAX:
            return value
    raise BadRequest(f"{where}: mid is a whole number.", where)


def _returns(names: tuple[str, ...]) -> tuple[str, ...]:
    for index, name in enumerate(names):
        if name not in _RETURNABLE:
            raise BadRequest(
                f"returns[{index}]: unknown field {name[:64]!r}; one of "
                f"{', '.join(sorted(_RETURNABLE))}",
                f"returns[{index}]",
            )
    return names


def _encode_cursor(cursor: dict[str, Any]) -> str:
    packed = zlib.compress(json.dumps(cursor, separators=(",", ":")).encode(), 9)
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def _decode_cursor(page: str) -> dict[str, Any]:
    try:
        packed = base64.urlsafe_b64decode(page + "=" * (-len(page) % 4))
        inflater = zlib.decompressobj()
        text = inflater.decompress(packed, _CURSOR_JSON_MAX)
        if inflater.unconsumed_tail or inflater.unused_data or not inflater.eof:
            raise ValueError("too large or cut short")
        cursor = json.loads(text)
    except (ValueError, zlib.error, UnicodeDecodeError, RecursionError):
        raise _bad_cursor() from None
    if not isinstance(cursor, dict) or not isinstance(cursor.get("filters"), list):
        raise _bad_cursor()
    if not isinstance(cursor.get("returns"), list):
        raise _bad_cursor()
    return cursor


def _bad_cursor() -> BadRequest:
    return BadRequest(
        "This is not a page of an AgentInfo search: follow paging.urls.nextPage as it was "
        "given, or search again."
    )

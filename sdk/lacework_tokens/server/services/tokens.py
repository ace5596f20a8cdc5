"""Agent access tokens: create, read, update, search, with every rule that governs them.

- Token values are 224 random bits, sealed at rest and found by a keyed hash; the server owns
  every time (client-sent times are ignored) and keeps them to the millisecond.
- Names follow ``limits`` (1 to 64 characters without surrounding whitespace or control
  characters; a soft-deleted ``<name>-xxxxx-deleted`` may be longer) and are unique per
  account. A PATCH merges ``props`` key by key and always moves the update time.
- The enrollment policy (``props.expiresAt``, ``props.maxEnrollments``, ``props.scope``) is
  this project's extension: set at create (an expiry must lie in the future), changed or cleared
  (``null``) by a PATCH.
- Roles: ``admin`` may do everything, ``agent-installer`` may create tokens (with a policy) and
  read them, ``read-only`` may only read. A token of another account is indistinguishable from
  one that does not exist.
- Every read that returns token values (get, list, search) is audited, whoever reads: key,
  account, address and how many values (a get also names the token), in the deferred batch.
- A list or search can be read page by page (``token_pages``): each page is one query, so a
  large account is served in steps between which the server answers everyone else.
- Search semantics live here: which fields may be searched and as which column, the type of each
  field's values, the caps on filters and values, ``like``/``ilike`` on text only, and patterns
  that must not end in a lone ``\\``. A wire ``SearchFilter`` (JSON shape only) becomes a typed
  ``TokenCondition`` the store compiles as it is.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Final, TypeVar

from lacework_tokens import limits, wire
from lacework_tokens.server.crypto import Sealer, new_agent_token
from lacework_tokens.server.services.audit import (
    DeferredAudit,
    agents_seen,
    describe_changes,
    describe_policy,
    retire_detail,
    token_id,
    update_action,
)
from lacework_tokens.server.services.clock import Clock
from lacework_tokens.server.services.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    check_field,
)
from lacework_tokens.server.services.identity import Principal
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import (
    UNCHANGED,
    AuditAction,
    AuditEvent,
    ConditionValue,
    DuplicateAlias,
    Operator,
    Role,
    TokenChanges,
    TokenColumn,
    TokenCondition,
    TokenRecord,
    Unchanged,
)

__all__ = [
    "SEARCH_COLUMNS",
    "SEARCH_FIELDS",
    "SUBSCRIPTIONS",
    "TokenService",
    "may_create",
    "may_update",
    "search_conditions",
]

SUBSCRIPTIONS: Final = frozenset({"standard", "professional", "enterprise"})

# Wire field → column. On the wire the top-level ``createdTime`` is the time of the LAST
# UPDATE (the provider maps it to ``last_updated_time``), so it filters ``updated_time``.
SEARCH_COLUMNS: Final = {
    "tokenAlias": TokenColumn.ALIAS,
    "tokenEnabled": TokenColumn.ENABLED,
    "props.os": TokenColumn.OS,
    "props.description": TokenColumn.DESCRIPTION,
    "createdTime": TokenColumn.UPDATED_TIME,
}
SEARCH_FIELDS: Final = frozenset(SEARCH_COLUMNS)
_TEXT_COLUMNS: Final = frozenset({TokenColumn.ALIAS, TokenColumn.OS, TokenColumn.DESCRIPTION})
_OPERATORS: Final = {
    wire.Expression.EQ: Operator.EQ,
    wire.Expression.NE: Operator.NE,
    wire.Expression.GT: Operator.GT,
    wire.Expression.GE: Operator.GE,
    wire.Expression.LT: Operator.LT,
    wire.Expression.LE: Operator.LE,
    wire.Expression.IN: Operator.IN,
    wire.Expression.LIKE: Operator.LIKE,
    wire.Expression.ILIKE: Operator.ILIKE,
}
_PATTERNS: Final = frozenset({Operator.LIKE, Operator.ILIKE})

T = TypeVar("T")

_CAN_CREATE: Final = frozenset({Role.ADMIN, Role.AGENT_INSTALLER})
_CAN_UPDATE: Final = frozenset({Role.ADMIN})


class TokenService:
    """Agent access tokens of the caller's account."""

    def __init__(
        self, store: Store, sealer: Sealer, clock: Clock, deferred: DeferredAudit | None = None
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.clock = clock
        self.deferred = deferred or DeferredAudit(store)

    def __repr__(self) -> str:
        return f"TokenService({self.store!r})"

    def _to_wire(self, record: TokenRecord, token: str | None = None) -> wire.AgentAccessToken:
        return wire.AgentAccessToken(
            token=token if token is not None else self.sealer.open(record.sealed),
            name=record.alias,
            description=record.description,
            os=record.os,
            enabled=record.enabled,
            created_time=record.created_time,
            last_updated_time=record.updated_time,
            version=record.version,
            subscription=record.subscription,
            expires_at=record.expires_at,
            max_enrollments=record.max_enrollments,
            scope=record.scope,
        )

    def list_tokens(self, principal: Principal) -> list[wire.AgentAccessToken]:
        found = [self._to_wire(r) for r in self.store.list_tokens(principal.account)]
        self._read(principal, AuditAction.TOKENS_LISTED, len(found))
        return found

    def get_token(self, principal: Principal, token: str) -> wire.AgentAccessToken:
        if not limits.is_printable_token_value(token):
            raise _not_found(token)
        record = self.store.get_token(principal.account, self.sealer.lookup(token))
        if record is None:
            raise _not_found(token)
        self._read(principal, AuditAction.TOKEN_READ, 1, record)
        # Found by the keyed hash of ``token``, so the value is ``token``: no need to decrypt.
        return self._to_wire(record, token)

    def token_pages(
        self, principal: Principal, request: wire.SearchRequest | None = None, page_size: int = 100
    ) -> Iterator[list[wire.AgentAccessToken]]:
        """The tokens a list (``request`` ``None``) or a search returns, page by page.

        Filters are checked before the first page is read (``BadRequest``); the read is
        audited once the pages are done, or given up, with the number of values returned.
        """
        conditions = () if request is None else search_conditions(request.filters)
        action = AuditAction.TOKENS_LISTED if request is None else AuditAction.TOKENS_SEARCHED
        pages = self.store.token_pages(principal.account, conditions, page_size)

        def read() -> Iterator[list[wire.AgentAccessToken]]:
            returned = 0
            try:
                for page in pages:
                    answer = [self._to_wire(record) for record in page]
                    returned += len(answer)
                    yield answer
            finally:
                self._read(principal, action, returned, filters=request)

        return read()

    def _read(
        self,
        principal: Principal,
        action: AuditAction,
        values: int,
        record: TokenRecord | None = None,
        filters: wire.SearchRequest | None = None,
    ) -> None:
        """Audit a read that returned ``values`` token values."""
        detail = f"{values} token value{'' if values == 1 else 's'}"
        if filters is not None and filters.filters:
            detail += "; filters " + ", ".join(
                f"{item.field[:64]} {item.expression.value}" for item in filters.filters
            )
        # Built by the writer thread: a get pays for a partial, not for the event.
        self.deferred.record(
            functools.partial(
                AuditEvent,
                time=self.clock.precise(),
                account=principal.account,
                actor=principal.key_id,
                actor_account=principal.key_account,
                action=action,
                token_alias=None if record is None else record.alias,
                token_id=None if record is None else token_id(record.lookup),
                detail=detail,
                address=principal.address,
            )
        )

    def create_token(
        self, principal: Principal, request: wire.CreateAgentTokenRequest
    ) -> wire.AgentAccessToken:
        _require(principal, _CAN_CREATE, "create agent access tokens")
        alias = request.token_alias
        check_field("tokenAlias", limits.alias_problem(alias))
        props = _checked_props(request.props)
        expires_at = _policy(props.expires_at)
        if expires_at is not None and expires_at <= self.clock.precise():
            raise BadRequest("props.expiresAt must be in the future.", "props.expiresAt")
        token = new_agent_token()
        now = self.clock.now()
        record = TokenRecord(
            account=principal.account,
            lookup=self.sealer.lookup(token),
            sealed=self.sealer.seal(token),
            alias=alias,
            enabled=request.token_enabled,
            description=props.description or "",
            os=props.os if props.os is not None else limits.DEFAULT_OS,
            subscription=props.subscription,
            created_time=now,
            updated_time=now,
            version=wire.TOKEN_VERSION,
            expires_at=expires_at,
            max_enrollments=_policy(props.max_enrollments),
            scope=_policy(props.scope),
        )
        audit = _event(
            principal,
            AuditAction.TOKEN_CREATED,
            record,
            f"tokenEnabled {int(record.enabled)}, props.os {record.os!r}{describe_policy(record)}",
        )
        try:
            self.store.insert_token(record, audit)
        except DuplicateAlias:
            raise _duplicate(alias) from None
        return self._to_wire(record, token)

    def update_token(
        self,
        principal: Principal,
        token: str,
        request: wire.UpdateAgentTokenRequest,
        *,
        retire: str | None = None,
    ) -> wire.AgentAccessToken:
        """A PATCH. With ``retire`` (``wire.RETIRE_HEADER``) it must disable the token, and
        does so only when no agent enrolled with it checked in within the time given, unless
        forced: 409 otherwise. The audit trail records it as ``token.retired``."""
        _require(principal, _CAN_UPDATE, "update agent access tokens")
        alias = request.token_alias
        if alias is not None:
            check_field("tokenAlias", limits.alias_problem(alias, allow_soft_deleted=True))
        props = _checked_props(request.props or wire.TokenProps())
        intent = _retire_intent(retire, request)
        if not limits.is_printable_token_value(token):
            raise _not_found(token)
        lookup = self.sealer.lookup(token)
        retired = None if intent is None else self._retire_check(principal, lookup, intent)
        changes = TokenChanges(
            updated_time=self.clock.now(),
            alias=alias,
            enabled=request.token_enabled,
            description=props.description,
            os=props.os,
            subscription=props.subscription,
            expires_at=_change(props.expires_at),
            max_enrollments=_change(props.max_enrollments),
            scope=_change(props.scope),
        )

        def audit(before: TokenRecord, after: TokenRecord) -> AuditEvent:
            changed = describe_changes(before, after)
            if retired is not None and before.enabled and not after.enabled:
                return _event(principal, AuditAction.TOKEN_RETIRED, after, f"{retired}; {changed}")
            return _event(principal, update_action(before, after), after, changed)

        try:
            record = self.store.update_token(principal.account, lookup, changes, audit)
        except DuplicateAlias:
            raise _duplicate(alias or "") from None
        if record is None:
            raise _not_found(token)
        return self._to_wire(record, token)

    def _retire_check(
        self, principal: Principal, lookup: str, intent: wire.RetireIntent
    ) -> str | None:
        """What the audit trail says of this retire; ``Conflict`` while agents are active and
        the retire is not forced. ``None`` when the token is disabled already."""
        current = self.store.get_token(principal.account, lookup)
        if current is None or not current.enabled:
            return None  # 404 from the update, or a disable that changes nothing
        since = self.clock.precise() - timedelta(seconds=intent.idle_for_seconds)
        usage = self.store.token_usage(lookup, since)
        active = 0 if usage is None else usage.active
        last = None if usage is None else usage.last_checkin
        if active and not intent.force:
            raise Conflict(
                f"Agent access token '{current.alias}' is in use: "
                f"{agents_seen(active, intent.idle_for_seconds, last, 'enrolled with it ')}. "
                "Move them to another token, or force the retire."
            )
        return retire_detail(active, intent.idle_for_seconds, last)

    def search_tokens(
        self, principal: Principal, request: wire.SearchRequest
    ) -> list[wire.AgentAccessToken]:
        conditions = search_conditions(request.filters)
        found = [self._to_wire(r) for r in self.store.search_tokens(principal.account, conditions)]
        self._read(principal, AuditAction.TOKENS_SEARCHED, len(found), filters=request)
        return found

    # --- by id: the console names a token by its lookup, never by its value -----------------

    def id_of(self, token: str) -> str:
        """The id by which the console names a token: its lookup, never its value."""
        return self.sealer.lookup(token)

    def records(self, principal: Principal) -> list[TokenRecord]:
        """The account's tokens as stored, oldest first: everything but the value, which stays
        sealed."""
        return self.store.list_tokens(principal.account)

    def record(self, principal: Principal, lookup: str) -> TokenRecord:
        """One token of the account by its lookup (the keyed hash of its value)."""
        record = self.store.get_token(principal.account, lookup) if _is_lookup(lookup) else None
        if record is None:
            raise NotFound("Agent access token was not found.")
        return record

    def update_token_by_id(
        self, principal: Principal, lookup: str, request: wire.UpdateAgentTokenRequest
    ) -> TokenRecord:
        """``update_token`` for the token with this lookup, under the same rules."""
        _require(principal, _CAN_UPDATE, "update agent access tokens")
        value = self.sealer.open(self.record(principal, lookup).sealed)
        self.update_token(principal, value, request)
        return self.record(principal, lookup)

    def reveal(self, principal: Principal, lookup: str, *, why: str = "") -> str:
        """The token's value, shown to a person: every reveal is written to the audit trail."""
        record = self.record(principal, lookup)
        value = self.sealer.open(record.sealed)
        self.store.insert_audit(
            AuditEvent(
                time=self.clock.now(),
                account=principal.account,
                actor=principal.key_id,
                actor_account=principal.key_account,
                action=AuditAction.TOKEN_REVEALED,
                token_alias=record.alias,
                token_id=token_id(record.lookup),
                detail=why or "value shown",
            )
        )
        return value


# --- search filters → conditions ------------------------------------------------------------


def search_conditions(filters: Sequence[wire.SearchFilter]) -> tuple[TokenCondition, ...]:
    """The store's conditions for wire filters; ``BadRequest`` names the first value at fault.

    At most ``SEARCH_FILTERS_MAX`` filters holding ``SEARCH_VALUES_MAX`` values in all, so that
    every store runs the same searches (and none builds an unbounded query).
    """
    if len(filters) > limits.SEARCH_FILTERS_MAX:
        raise BadRequest(
            f"filters may hold at most {limits.SEARCH_FILTERS_MAX} filters (got {len(filters)}).",
            "filters",
        )
    conditions = tuple(_condition(f"filters[{index}]", item) for index, item in enumerate(filters))
    values = sum(len(condition.values) for condition in conditions)
    if values > limits.SEARCH_VALUES_MAX:
        raise BadRequest(
            f"filters may hold at most {limits.SEARCH_VALUES_MAX} values in all (got {values}).",
            "filters",
        )
    return conditions


def _condition(where: str, item: wire.SearchFilter) -> TokenCondition:
    column = SEARCH_COLUMNS.get(item.field)
    if column is None:
        allowed = ", ".join(sorted(SEARCH_FIELDS))
        raise BadRequest(
            f"{where}.field: unknown field {item.field[:64]!r}; one of {allowed}", f"{where}.field"
        )
    operator = _OPERATORS.get(item.expression)
    if operator is None:
        allowed = ", ".join(expression.value for expression in _OPERATORS)
        raise BadRequest(
            f"{where}.expression: {item.expression.value!r} is not supported here; one of "
            f"{allowed}",
            f"{where}.expression",
        )
    if operator is Operator.IN:
        values = item.values or ()
        if not values:
            raise BadRequest(
                f"{where}.values: must be a non-empty list for 'in'", f"{where}.values"
            )
        if len(values) > limits.SEARCH_VALUES_MAX:
            raise BadRequest(
                f"{where}.values may hold at most {limits.SEARCH_VALUES_MAX} values.",
                f"{where}.values",
            )
        typed = tuple(
            _value(column, value, f"{where}.values[{position}]")
            for position, value in enumerate(values)
        )
        return TokenCondition(column, operator, typed)
    if operator in _PATTERNS and column not in _TEXT_COLUMNS:
        raise BadRequest(
            f"{where}.expression: {item.expression.value!r} applies to text fields only.",
            f"{where}.expression",
        )
    value = _value(column, item.value, f"{where}.value")
    if operator in _PATTERNS and _ends_in_escape(str(value)):
        # SQL gives such a pattern no meaning (PostgreSQL refuses it): refuse it here.
        raise BadRequest(
            f"{where}.value: a pattern must not end with an unescaped backslash.", f"{where}.value"
        )
    return TokenCondition(column, operator, (value,))


def _value(column: TokenColumn, raw: str | int | None, where: str) -> ConditionValue:
    """One filter value as its column's type: 0/1 for ``tokenEnabled`` (as integers or text),
    an RFC 3339 time for ``createdTime``, text (an integer compares as its digits) otherwise."""
    if raw is None:
        raise BadRequest(f"{where} is required.", where)
    if column is TokenColumn.ENABLED:
        if raw not in (0, 1, "0", "1"):
            raise BadRequest(f"{where}: tokenEnabled is 0 or 1.", where)
        return raw in (1, "1")
    if column is TokenColumn.UPDATED_TIME:
        if isinstance(raw, str):
            with contextlib.suppress(ValueError):
                return wire.parse_time(raw)
        raise BadRequest(f"{where}: createdTime must be an RFC 3339 time.", where)
    if not isinstance(raw, str):
        return str(raw)
    if len(raw) > limits.DESCRIPTION_MAX_LENGTH:
        raise BadRequest(f"{where} is too long.", where)
    return raw


def _ends_in_escape(pattern: str) -> bool:
    """Whether a LIKE pattern ends in a lone (unescaped) ``\\``."""
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return trailing % 2 == 1


# --- helpers --------------------------------------------------------------------------------


def _policy(value: T | wire.Keep | None) -> T | None:
    """A policy value of a create: absent is no limit."""
    return None if isinstance(value, wire.Keep) else value


def _change(value: T | wire.Keep | None) -> T | Unchanged | None:
    """A policy value of a PATCH: absent leaves the column, ``null`` clears it."""
    return UNCHANGED if isinstance(value, wire.Keep) else value


def _checked_props(props: wire.TokenProps) -> wire.TokenProps:
    if isinstance(props.scope, str):
        check_field("props.scope", limits.scope_problem(props.scope))
    if isinstance(props.max_enrollments, int):
        check_field("props.maxEnrollments", limits.max_enrollments_problem(props.max_enrollments))
    if props.description is not None:
        check_field("props.description", limits.description_problem(props.description))
    if props.os is not None:
        check_field("props.os", limits.os_problem(props.os))
    if props.subscription is not None and props.subscription not in SUBSCRIPTIONS:
        allowed = ", ".join(sorted(SUBSCRIPTIONS))
        raise BadRequest(f"props.subscription must be one of {allowed}.", "props.subscription")
    return props


def _retire_intent(
    retire: str | None, request: wire.UpdateAgentTokenRequest
) -> wire.RetireIntent | None:
    if retire is None:
        return None
    try:
        intent = wire.RetireIntent.parse(retire)
    except wire.WireError as exc:
        raise BadRequest(str(exc), wire.RETIRE_HEADER) from None
    if request.token_enabled is not False:
        raise BadRequest(
            f"{wire.RETIRE_HEADER} goes with a request that disables the token "
            '({"tokenEnabled": 0}).',
            wire.RETIRE_HEADER,
        )
    return intent


def _event(
    principal: Principal, action: AuditAction, record: TokenRecord, detail: str
) -> AuditEvent:
    return AuditEvent(
        time=record.updated_time,
        account=principal.account,
        actor=principal.key_id,
        actor_account=principal.key_account,
        action=action,
        token_alias=record.alias,
        token_id=token_id(record.lookup),
        detail=detail,
    )


def _require(principal: Principal, allowed: frozenset[Role], action: str) -> None:
    if principal.role not in allowed:
        raise Forbidden(f"API key role '{principal.role.value}' may not {action}.")


def may_create(role: Role) -> bool:
    """Whether a key of this role may create agent access tokens."""
    return role in _CAN_CREATE


def may_update(role: Role) -> bool:
    """Whether a key of this role may rename, describe, enable, disable or soft-delete tokens."""
    return role in _CAN_UPDATE


def _is_lookup(text: str) -> bool:
    # A lookup is an HMAC-SHA256 in lowercase hex: anything else names no token.
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _duplicate(alias: str) -> Conflict:
    return Conflict(f"Agent access token with name '{alias}' already exists.")


def _not_found(token: str) -> NotFound:
    shown = wire.mask(token) if limits.is_printable_token_value(token) else "****"
    return NotFound(f"Agent access token '{shown}' was not found.")

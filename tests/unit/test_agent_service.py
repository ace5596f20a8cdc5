"""The agent service over each store, with a clock the tests move: enrollment refusals, check-ins,
usage figures across hours, searches with every kind of filter, and paging."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lacework_tokens import wire
from lacework_tokens.server.crypto import Sealer
from lacework_tokens.server.services import (
    BadRequest,
    Forbidden,
    NotFound,
    Principal,
    Services,
    Unauthorized,
)
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import AuditAction, Role
from lacework_tokens.wire import (
    AccessTokenRequest,
    AgentCheckinRequest,
    AgentEnrollmentRequest,
    AgentSearchRequest,
    CreateAgentTokenRequest,
    SearchFilter,
    TokenProps,
    TokenUsageRequest,
)
from together import run_together

START = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(store: Store, clock: Clock) -> Services:
    return Services(store, Sealer.ephemeral(), clock=clock, agent_page_rows=4)


def login(services: Services, account: str, role: Role = Role.ADMIN) -> Principal:
    key = services.identity.create_api_key(account, role=role)
    bearer = services.identity.issue_access_token(AccessTokenRequest(key_id=key.key_id), key.secret)
    return services.identity.authenticate(f"Bearer {bearer.token}")


@pytest.fixture
def admin(services: Services) -> Principal:
    return login(services, "acme")


def token(services: Services, who: Principal, alias: str, **policy: Any) -> wire.AgentAccessToken:
    props = TokenProps(**policy)
    return services.tokens.create_token(
        who, CreateAgentTokenRequest(token_alias=alias, props=props)
    )


def enroll(services: Services, value: str, hostname: str, **more: Any) -> wire.Agent:
    return services.agents.enroll(value, AgentEnrollmentRequest(hostname=hostname, **more))


def usage(services: Services, who: Principal, value: str, hours: int = 24) -> wire.TokenUsage:
    (found,) = services.agents.usage(who, TokenUsageRequest(tokens=(value,), active_hours=hours))
    return found


def search(services: Services, who: Principal, *filters: SearchFilter, **window: Any) -> list[int]:
    """Every mid the search finds, following every page."""
    page = services.agents.search(who, AgentSearchRequest(filters=filters, **window))
    mids = [agent.mid for agent in page.agents]
    while page.next_page is not None:
        page = services.agents.next_page(who, page.next_page.rsplit("/", 1)[1])
        mids += [agent.mid for agent in page.agents]
    return mids


def f(field: str, expression: str, value: Any = None, values: Any = None) -> SearchFilter:
    return SearchFilter(field, wire.Expression(expression), value, values)


# --- enrollment and its refusals ------------------------------------------------------------


def test_an_agent_enrolls_gets_the_next_mid_and_carries_its_token_and_scope(
    services: Services, admin: Principal
) -> None:
    made = token(services, admin, "web", scope="payments-web")
    first = enroll(services, made.token, "web-1", tags={"Env": "prod"}, os="windows")
    second = enroll(services, f"Bearer {made.token}", "web-2")
    assert (first.mid, second.mid) == (1, 2)
    assert first.os == "Windows" and first.tags["os"] == "windows"
    assert first.tags["LwTokenShort"] == made.token[:30]
    assert first.tags["Scope"] == "payments-web" and first.tags["Env"] == "prod"
    assert first.status == "ACTIVE" and first.created_time == first.last_update
    # Mids are counted per account.
    other = token(services, login(services, "other"), "other")
    assert enroll(services, other.token, "elsewhere").mid == 1
    events = services.audit.list_events("acme")
    assert events[0].action is AuditAction.AGENT_ENROLLED
    assert events[0].detail.startswith("agent 2: hostname 'web-2'")
    assert made.token not in json.dumps([str(event) for event in events])


def test_every_refusal_has_its_reason(services: Services, admin: Principal, clock: Clock) -> None:
    with pytest.raises(Unauthorized, match="Unknown agent access token"):
        enroll(services, "0" * 56, "h")
    with pytest.raises(Unauthorized, match="Unknown agent access token"):
        enroll(services, None, "h")  # type: ignore[arg-type]

    disabled = token(services, admin, "off")
    services.tokens.update_token(
        admin, disabled.token, wire.UpdateAgentTokenRequest(token_enabled=False)
    )
    with pytest.raises(Forbidden, match="'off' is disabled: agents can no longer enroll"):
        enroll(services, disabled.token, "h")

    expiring = token(services, admin, "soon", expires_at=START + timedelta(minutes=15))
    enroll(services, expiring.token, "early")
    clock.advance(minutes=15)
    with pytest.raises(Forbidden, match=r"'soon' expired at 2026-11-25T12:15:00.123Z"):
        enroll(services, expiring.token, "late")

    once = token(services, admin, "once", max_enrollments=1)
    enroll(services, once.token, "first")
    with pytest.raises(Forbidden, match="'once' is used up: it has enrolled the 1 agent its"):
        enroll(services, once.token, "second")

    scoped = token(services, admin, "scoped", scope="db")
    with pytest.raises(Forbidden, match="grants scope 'db'; this agent asked for scope 'web'"):
        enroll(services, scoped.token, "h", scope="web")
    unscoped = token(services, admin, "unscoped")
    with pytest.raises(Forbidden, match="grants no scope; this agent asked for scope 'web'"):
        enroll(services, unscoped.token, "h", scope="web")
    assert enroll(services, scoped.token, "h", scope="db").scope == "db"

    refused = [
        e for e in services.audit.list_events("acme") if e.action is AuditAction.AGENT_REFUSED
    ]
    assert {event.token_alias for event in refused} == {"off", "soon", "once", "scoped", "unscoped"}


def test_what_an_agent_says_is_checked(services: Services, admin: Principal) -> None:
    made = token(services, admin, "t")
    for request, field in (
        (dict(hostname=""), "hostname"),
        (dict(hostname="h", os="solaris"), "os"),
        (dict(hostname="h", tags={"LwTokenShort": "x"}), "tags"),
        (dict(hostname="h", tags={"bad key": "x"}), "tags"),
        (dict(hostname="h", scope="no spaces"), "scope"),
        (dict(hostname="h", agent_version="v" * 65), "agentVersion"),
    ):
        with pytest.raises(BadRequest) as refused:
            services.agents.enroll(made.token, AgentEnrollmentRequest(**request))
        assert refused.value.field == field


def test_expired_and_used_up_tokens_keep_their_agents_a_disabled_one_locks_them_out(
    services: Services, admin: Principal, clock: Clock
) -> None:
    made = token(services, admin, "t", max_enrollments=1, expires_at=START + timedelta(hours=1))
    agent = enroll(services, made.token, "h")
    clock.advance(hours=2)
    assert services.agents.checkin(made.token, AgentCheckinRequest(agent.mid)).status == "ACTIVE"

    services.tokens.update_token(
        admin, made.token, wire.UpdateAgentTokenRequest(token_enabled=False)
    )
    with pytest.raises(Forbidden, match="is disabled"):
        services.agents.checkin(made.token, AgentCheckinRequest(agent.mid))
    (shown,) = services.agents.search(admin, AgentSearchRequest()).agents
    assert shown.status == "TOKEN_DISABLED"

    services.tokens.update_token(
        admin, made.token, wire.UpdateAgentTokenRequest(token_enabled=True)
    )
    assert services.agents.checkin(made.token, AgentCheckinRequest(agent.mid)).status == "ACTIVE"
    # Another token cannot check this agent in, nor can a mid nobody enrolled.
    other = token(services, admin, "other")
    with pytest.raises(NotFound, match="Agent 1 is not enrolled with this agent access token"):
        services.agents.checkin(other.token, AgentCheckinRequest(agent.mid))
    with pytest.raises(NotFound):
        services.agents.checkin(made.token, AgentCheckinRequest(99))


def test_a_single_use_token_enrolls_one_agent_however_many_race(
    services: Services, admin: Principal
) -> None:
    once = token(services, admin, "race", max_enrollments=1)

    def attempt(index: int) -> str:
        try:
            enroll(services, once.token, f"racer-{index}")
        except Forbidden:
            return "refused"
        return "enrolled"

    outcomes = run_together(6, attempt)
    assert sorted(outcomes) == ["enrolled"] + ["refused"] * 5
    assert usage(services, admin, once.token).enrolled == 1


# --- usage ----------------------------------------------------------------------------------


def test_usage_counts_enrolled_active_and_the_last_check_in_across_hours(
    services: Services, admin: Principal, clock: Clock
) -> None:
    made = token(services, admin, "fleet")
    assert usage(services, admin, made.token) == wire.TokenUsage(0, 0, None, 24, made.token)
    mids = [enroll(services, made.token, f"h-{i}").mid for i in range(5)]
    clock.advance(hours=3, minutes=10)
    for mid in mids[:2]:
        services.agents.checkin(made.token, AgentCheckinRequest(mid))
    clock.advance(minutes=20)
    services.agents.checkin(made.token, AgentCheckinRequest(mids[2]))
    last = clock.now.replace(microsecond=clock.now.microsecond // 1000 * 1000)

    seen = usage(services, admin, made.token)
    assert (seen.enrolled, seen.active, seen.last_checkin) == (5, 5, last)
    assert usage(services, admin, made.token, hours=1).active == 3
    # The window's edge falls inside an hour: counted to the agent, not to the hour.
    clock.advance(minutes=50)
    assert usage(services, admin, made.token, hours=1).active == 1
    clock.advance(hours=30)
    assert usage(services, admin, made.token).active == 0
    assert usage(services, admin, made.token).enrolled == 5


def test_usage_is_of_the_callers_account_and_read_only_may_read_it(
    services: Services, admin: Principal
) -> None:
    made = token(services, admin, "mine")
    enroll(services, made.token, "h")
    reader = login(services, "acme", Role.READ_ONLY)
    assert usage(services, reader, made.token).enrolled == 1
    installer = login(services, "acme", Role.AGENT_INSTALLER)
    limited = token(services, installer, "installer-made", max_enrollments=2, scope="ci")
    assert (limited.max_enrollments, limited.scope) == (2, "ci")
    assert usage(services, installer, limited.token).enrolled == 0
    with pytest.raises(NotFound):
        usage(services, login(services, "other"), made.token)
    with pytest.raises(BadRequest):
        usage(services, admin, made.token, hours=0)


# --- search ---------------------------------------------------------------------------------


def test_search_filters_page_and_keep_the_window(
    services: Services, admin: Principal, clock: Clock
) -> None:
    web = token(services, admin, "web", scope="web")
    db = token(services, admin, "db")
    for index in range(1, 8):
        enroll(services, web.token, f"web-{index}", tags={"Env": "prod" if index % 2 else "dev"})
    for index in range(1, 4):
        enroll(services, db.token, f"db-{index}", os="windows")
    everything = search(services, admin)
    assert everything == list(range(1, 11))  # three pages of four

    assert search(services, admin, f("tags.LwTokenShort", "eq", web.token[:30])) == list(
        range(1, 8)
    )
    assert search(services, admin, f("tags.LwTokenShort", "rlike", db.token[:5] + ".*")) == [
        8,
        9,
        10,
    ]
    assert search(services, admin, f("tags.Scope", "eq", "web")) == list(range(1, 8))
    assert search(services, admin, f("tags.Env", "eq", "dev")) == [2, 4, 6]
    assert search(services, admin, f("tags.Env", "ne", "dev")) == [1, 3, 5, 7, 8, 9, 10]
    assert search(services, admin, f("hostname", "rlike", "db-.*")) == [8, 9, 10]
    assert search(services, admin, f("hostname", "rlike", "db")) == []  # the whole value
    assert search(services, admin, f("hostname", "not_rlike", "web-.*")) == [8, 9, 10]
    assert search(services, admin, f("os", "eq", "Windows")) == [8, 9, 10]
    assert search(services, admin, f("mid", "rlike", "1.*")) == [1, 10]
    assert search(services, admin, f("mid", "between", values=("3", "5"))) == [3, 4, 5]
    assert search(services, admin, f("mid", "in", values=(2, "9"))) == [2, 9]
    assert search(services, admin, f("status", "eq", "ACTIVE")) == everything
    assert search(services, admin, f("hostname", "ilike", "WEB-1")) == [1]

    clock.advance(hours=2)
    services.agents.checkin(web.token, AgentCheckinRequest(1))
    assert search(services, admin, f("status", "eq", "INACTIVE")) == list(range(2, 11))
    # The default window is the last 24 hours; agents last seen before it are not shown.
    clock.advance(hours=23)
    assert search(services, admin) == [1]
    since = START - timedelta(minutes=1)
    assert search(services, admin, start_time=since) == everything
    assert search(services, admin, start_time=since, end_time=since) == []


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (f("nope", "eq", "x"), "filters[0].field"),
        (f("createdTime", "rlike", "x"), "filters[0].expression"),
        (f("createdTime", "gt", "yesterday"), "filters[0].value"),
        (f("mid", "eq", "one"), "filters[0].value"),
        (f("hostname", "rlike", "(unclosed"), "filters[0].value"),
        (f("hostname", "like", "trailing\\"), "filters[0].value"),
        (f("mid", "between", values=("1",)), "filters[0].values"),
        (f("tags.LwTokenShort", "gt", "x"), "filters[0].expression"),
    ],
)
def test_a_search_the_server_cannot_run_names_its_culprit(
    services: Services, admin: Principal, item: SearchFilter, field: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        services.agents.search(admin, AgentSearchRequest(filters=(item,)))
    assert refused.value.field == field
    if field.endswith(".field"):
        assert refused.value.message.startswith("Invalid field 'nope'")


def test_a_forged_or_damaged_page_is_refused(services: Services, admin: Principal) -> None:
    made = token(services, admin, "t")
    for index in range(6):
        enroll(services, made.token, f"h-{index}")
    page = services.agents.search(admin, AgentSearchRequest())
    assert page.next_page is not None and page.total_rows == 6 and page.rows == 4
    cursor = page.next_page.rsplit("/", 1)[1]
    for forged in ("x", cursor[:-6], "A" * 40, cursor + "A"):
        with pytest.raises(BadRequest, match="not a page of an AgentInfo search"):
            services.agents.next_page(admin, forged)
    # A page is the account's own: another account following it sees its own agents (none).
    other = login(services, "other")
    assert services.agents.next_page(other, cursor).agents == ()

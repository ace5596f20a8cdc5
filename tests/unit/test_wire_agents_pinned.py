"""The agent side of the wire, pinned: AgentInfo records and pages, the AgentInfo search,
enrollment, check-in, token usage, the retire header, and a token's enrollment policy.

Each shape is read from JSON and written back, and everything the parser refuses is refused
with the field at fault, as the backend answers it and as the SDK reports it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from sdk_fakes import token_wire

from lacework_tokens import wire
from lacework_tokens.wire import (
    KEEP,
    Agent,
    AgentAccessToken,
    AgentCheckinRequest,
    AgentEnrollmentRequest,
    AgentPage,
    AgentSearchRequest,
    AgentStatus,
    CreateAgentTokenRequest,
    Expression,
    RetireIntent,
    SearchFilter,
    TokenProps,
    TokenUsage,
    TokenUsageRequest,
    WireError,
)

CREATED = datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)
UPDATED = datetime(2026, 11, 25, 13, 0, 0, tzinfo=UTC)
SHORT = "a" * 30
AGENT = {
    "agentVersion": "6.2.0",
    "createdTime": "2026-11-25T12:00:00.123Z",
    "hostname": "web-1",
    "ipAddr": "10.0.0.1",
    "lastUpdate": "2026-11-25T13:00:00.000Z",
    "mid": 7,
    "mode": "ebpf",
    "os": "Linux",
    "status": "INACTIVE",
    "tags": {
        "LwTokenShort": SHORT,
        "Scope": "web",
        "Name": "web-1a",
        "os": "linux",
        "arch": "arm64",
    },
}


def refusal(data: Any, model: type[Any]) -> tuple[str, str]:
    with pytest.raises(WireError) as caught:
        wire.parse(data, model)
    return caught.value.field, caught.value.message


# --- AgentInfo records ----------------------------------------------------------------------


def test_an_agent_record_is_read_and_written_back_as_it_came() -> None:
    agent = wire.parse(AGENT, Agent)
    assert agent == Agent(
        mid=7,
        hostname="web-1",
        status="INACTIVE",
        agent_version="6.2.0",
        os="Linux",
        mode="ebpf",
        ip_addr="10.0.0.1",
        created_time=CREATED,
        last_update=UPDATED,
        tags=AGENT["tags"],
    )
    assert wire.converter.unstructure(agent) == AGENT
    assert (agent.token_short, agent.scope, agent.name, agent.os_arch) == (
        SHORT,
        "web",
        "web-1a",
        "linux/arm64",
    )
    assert str(agent) == "agent 7 (web-1, INACTIVE)"


def test_an_agent_uses_the_token_its_first_30_characters_name() -> None:
    agent = wire.parse(AGENT, Agent)
    assert agent.uses(SHORT + "b" * 26)
    assert agent.uses(SHORT)
    assert not agent.uses("a" * 29 + "b" + "a" * 26)
    assert not agent.uses("a" * 29)
    assert not agent.uses("")
    untagged = Agent(mid=1, hostname="h")
    # An agent without LwTokenShort uses no token, not even the empty one.
    assert not untagged.uses("")
    assert (untagged.token_short, untagged.scope, untagged.name, untagged.os_arch) == (
        "",
        None,
        "",
        "/",
    )
    assert (untagged.status, untagged.mode) == ("ACTIVE", "normal")
    assert (untagged.agent_version, untagged.os, untagged.ip_addr) == ("", "", "")
    assert " ".join(AgentStatus) == "ACTIVE INACTIVE TOKEN_DISABLED"


def test_an_agent_record_with_only_a_mid_is_read_with_empty_fields() -> None:
    before = datetime.now(UTC)
    agent = wire.parse({"mid": 3, "tags": None, "hostname": None}, Agent)
    after = datetime.now(UTC)
    assert (agent.mid, agent.hostname, agent.status, agent.os, agent.mode) == (3, "", "", "", "")
    assert (agent.agent_version, agent.ip_addr, agent.tags) == ("", "", {})
    assert before <= agent.created_time == agent.last_update <= after


def test_one_of_the_two_times_stands_for_the_other() -> None:
    only_created = wire.parse({"mid": 1, "createdTime": AGENT["createdTime"]}, Agent)
    assert (only_created.created_time, only_created.last_update) == (CREATED, CREATED)
    only_updated = wire.parse({"mid": 1, "lastUpdate": AGENT["lastUpdate"]}, Agent)
    assert (only_updated.created_time, only_updated.last_update) == (UPDATED, UPDATED)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ([AGENT], "body", "must be a JSON object"),
        ({"hostname": "h"}, "mid", "is required"),
        ({"mid": None}, "mid", "is required"),
        ({"mid": "7"}, "mid", "must be an integer"),
        ({"mid": True}, "mid", "must be an integer"),
        ({"mid": 7.0}, "mid", "must be an integer"),
        ({"mid": 1, "hostname": 5}, "hostname", "must be a string"),
        ({"mid": 1, "os": ["linux"]}, "os", "must be a string"),
        ({"mid": 1, "status": 1}, "status", "must be a string"),
        ({"mid": 1, "agentVersion": 6}, "agentVersion", "must be a string"),
        ({"mid": 1, "mode": True}, "mode", "must be a string"),
        ({"mid": 1, "ipAddr": [10]}, "ipAddr", "must be a string"),
        ({"mid": 1, "tags": ["a"]}, "tags", "must be a JSON object"),
        ({"mid": 1, "tags": {"Env": 1}}, "tags.Env", "must be a string"),
        ({"mid": 1, "tags": {"Env": None}}, "tags.Env", "must be a string"),
        ({"mid": 1, "createdTime": "x"}, "createdTime", "not an RFC 3339 time: 'x'"),
        ({"mid": 1, "lastUpdate": 5}, "lastUpdate", "must be a string"),
    ],
)
def test_a_malformed_agent_record_names_its_field(data: Any, field: str, message: str) -> None:
    assert refusal(data, Agent) == (field, message)


# --- AgentInfo pages ------------------------------------------------------------------------


def test_a_page_is_read_and_written_back() -> None:
    answer = {
        "data": [AGENT],
        "paging": {"rows": 1, "totalRows": 9, "urls": {"nextPage": "/api/v2/AgentInfo/p2"}},
    }
    page = wire.parse(answer, AgentPage)
    assert page == AgentPage(
        agents=(wire.parse(AGENT, Agent),), rows=1, total_rows=9, next_page="/api/v2/AgentInfo/p2"
    )
    assert wire.converter.unstructure(page) == answer


@pytest.mark.parametrize(
    "answer",
    [{}, {"data": None}, {"data": [], "paging": None}, {"data": [], "paging": {"urls": None}}],
)
def test_an_empty_page_is_the_last(answer: dict[str, Any]) -> None:
    assert wire.parse(answer, AgentPage) == AgentPage(agents=(), rows=0, total_rows=0)


def test_a_page_without_paging_counts_its_own_agents() -> None:
    page = wire.parse({"data": [AGENT, {**AGENT, "mid": 8}], "paging": {"urls": {}}}, AgentPage)
    assert ([a.mid for a in page.agents], page.rows, page.total_rows) == ([7, 8], 2, 2)
    assert page.next_page is None
    blank = wire.parse({"data": [AGENT], "paging": {"urls": {"nextPage": ""}}}, AgentPage)
    assert blank.next_page is None


def test_a_page_written_with_returns_keeps_those_fields_only() -> None:
    agent = wire.parse(AGENT, Agent)
    page = AgentPage(agents=(agent,), rows=1, total_rows=1, returns=("mid", "hostname", "nope"))
    assert wire.converter.unstructure(page) == {
        "data": [{"mid": 7, "hostname": "web-1"}],
        "paging": {"rows": 1, "totalRows": 1, "urls": {"nextPage": None}},
    }


@pytest.mark.parametrize(
    ("answer", "field", "message"),
    [
        ([], "body", "must be a JSON object"),
        ({"data": {"mid": 1}}, "data", "must be a list"),
        ({"data": [AGENT, {"mid": "8"}]}, "data[1].mid", "must be an integer"),
        ({"data": [AGENT, {**AGENT, "tags": {"a": 1}}]}, "data[1].tags.a", "must be a string"),
        ({"paging": "all"}, "paging", "must be a JSON object"),
        ({"paging": {"urls": ["next"]}}, "paging.urls", "must be a JSON object"),
        ({"paging": {"rows": "1"}}, "paging.rows", "must be an integer"),
        ({"paging": {"totalRows": True}}, "paging.totalRows", "must be an integer"),
        ({"paging": {"urls": {"nextPage": 2}}}, "paging.urls.nextPage", "must be a string"),
    ],
)
def test_a_malformed_page_names_its_field(answer: Any, field: str, message: str) -> None:
    assert refusal(answer, AgentPage) == (field, message)


def test_a_row_that_is_no_object_is_named_by_its_index() -> None:
    field, message = refusal({"data": [AGENT, 5]}, AgentPage)
    assert field.startswith("data[1]")
    assert message == "must be a JSON object"


# --- the AgentInfo search -------------------------------------------------------------------


def test_an_agent_search_is_read_and_written_back() -> None:
    body = {
        "timeFilter": {
            "startTime": "2026-11-25T12:00:00.123Z",
            "endTime": "2026-11-25T13:00:00.000Z",
        },
        "filters": [{"field": "hostname", "expression": "rlike", "value": "web-.*"}],
        "returns": ["mid", "hostname"],
    }
    request = wire.parse(body, AgentSearchRequest)
    assert request == AgentSearchRequest(
        start_time=CREATED,
        end_time=UPDATED,
        filters=(SearchFilter("hostname", Expression.RLIKE, "web-.*"),),
        returns=("mid", "hostname"),
    )
    assert wire.converter.unstructure(request) == body


def test_an_agent_search_leaves_out_what_it_does_not_say() -> None:
    empty = {"timeFilter": None, "filters": None, "returns": None}
    assert wire.parse(empty, AgentSearchRequest) == AgentSearchRequest()
    assert wire.parse({}, AgentSearchRequest) == AgentSearchRequest()
    assert wire.converter.unstructure(AgentSearchRequest()) == {}
    assert wire.converter.unstructure(AgentSearchRequest(end_time=UPDATED)) == {
        "timeFilter": {"endTime": "2026-11-25T13:00:00.000Z"}
    }
    start_only = wire.parse({"timeFilter": {"startTime": AGENT["createdTime"]}}, AgentSearchRequest)
    assert (start_only.start_time, start_only.end_time) == (CREATED, None)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ([], "body", "must be a JSON object"),
        ({"timeFilter": "24h"}, "timeFilter", "must be a JSON object"),
        ({"timeFilter": {"startTime": "x"}}, "timeFilter.startTime", "not an RFC 3339 time: 'x'"),
        ({"timeFilter": {"endTime": 1}}, "timeFilter.endTime", "must be a string"),
        ({"filters": {"field": "mid"}}, "filters", "must be a list"),
        ({"filters": [{"field": "mid"}]}, "filters[0].expression", "is required"),
        ({"returns": "mid"}, "returns", "must be a list of field names"),
        ({"returns": ["mid", 5]}, "returns", "must be a list of field names"),
    ],
)
def test_a_malformed_agent_search_names_its_field(body: Any, field: str, message: str) -> None:
    assert refusal(body, AgentSearchRequest) == (field, message)


# --- enrollment and check-in ----------------------------------------------------------------


def test_an_enrollment_says_only_its_hostname_and_takes_the_defaults() -> None:
    expected = AgentEnrollmentRequest(hostname="h")
    assert (expected.os, expected.arch, expected.mode) == ("linux", "amd64", "normal")
    assert wire.parse({"hostname": "h"}, AgentEnrollmentRequest) == expected
    blanks = {"hostname": "h", "os": "", "arch": "", "mode": "", "agentVersion": None}
    assert wire.parse({**blanks, "ipAddr": None, "tags": None}, AgentEnrollmentRequest) == expected
    assert wire.converter.unstructure(expected) == {
        "hostname": "h",
        "os": "linux",
        "arch": "amd64",
        "agentVersion": "",
        "mode": "normal",
        "ipAddr": "",
        "tags": {},
    }


def test_an_enrollment_is_read_and_written_back() -> None:
    body = {
        "hostname": "db-1",
        "os": "windows",
        "arch": "arm64",
        "agentVersion": "6.2.0",
        "mode": "ebpf",
        "ipAddr": "10.0.0.2",
        "tags": {"Env": "prod"},
        "scope": "db",
    }
    request = wire.parse(body, AgentEnrollmentRequest)
    assert request == AgentEnrollmentRequest(
        hostname="db-1",
        os="windows",
        arch="arm64",
        agent_version="6.2.0",
        mode="ebpf",
        ip_addr="10.0.0.2",
        tags={"Env": "prod"},
        scope="db",
    )
    assert wire.converter.unstructure(request) == body


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ("h", "body", "must be a JSON object"),
        ({}, "hostname", "is required"),
        ({"hostname": None}, "hostname", "is required"),
        ({"hostname": 5}, "hostname", "must be a string"),
        ({"hostname": "h", "os": 1}, "os", "must be a string"),
        ({"hostname": "h", "arch": 64}, "arch", "must be a string"),
        ({"hostname": "h", "agentVersion": 6}, "agentVersion", "must be a string"),
        ({"hostname": "h", "mode": 0}, "mode", "must be a string"),
        ({"hostname": "h", "ipAddr": 10}, "ipAddr", "must be a string"),
        ({"hostname": "h", "scope": ["db"]}, "scope", "must be a string"),
        ({"hostname": "h", "tags": {"Env": 1}}, "tags.Env", "must be a string"),
    ],
)
def test_a_malformed_enrollment_names_its_field(body: Any, field: str, message: str) -> None:
    assert refusal(body, AgentEnrollmentRequest) == (field, message)


@pytest.mark.parametrize("mid", [1, 2, wire.MID_MAX])
def test_a_check_in_names_a_mid_of_64_bits(mid: int) -> None:
    assert wire.parse({"mid": mid}, AgentCheckinRequest) == AgentCheckinRequest(mid)
    assert wire.converter.unstructure(AgentCheckinRequest(mid)) == {"mid": mid}


def test_any_other_check_in_is_refused() -> None:
    assert wire.MID_MAX == 9_223_372_036_854_775_807
    outside = "must be from 1 to 9223372036854775807"
    assert refusal({"mid": 0}, AgentCheckinRequest) == ("mid", outside)
    assert refusal({"mid": -1}, AgentCheckinRequest) == ("mid", outside)
    assert refusal({"mid": wire.MID_MAX + 1}, AgentCheckinRequest) == ("mid", outside)
    assert refusal({}, AgentCheckinRequest) == ("mid", "is required")
    assert refusal({"mid": "1"}, AgentCheckinRequest) == ("mid", "must be an integer")
    assert refusal([1], AgentCheckinRequest) == ("body", "must be a JSON object")


# --- token usage ----------------------------------------------------------------------------


def test_a_usage_request_is_read_and_written_back_without_showing_its_tokens() -> None:
    request = wire.parse({"accessTokens": ["t1", "t2"]}, TokenUsageRequest)
    assert request == TokenUsageRequest(tokens=("t1", "t2"), active_hours=24)
    assert wire.converter.unstructure(request) == {"accessTokens": ["t1", "t2"], "activeHours": 24}
    assert TokenUsageRequest(tokens=("t1",)).active_hours == 24
    zero = wire.parse({"accessTokens": [], "activeHours": 0}, TokenUsageRequest)
    assert zero.active_hours == 0
    assert "t1" not in repr(request) and "(2 tokens)" in repr(request)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ([], "body", "must be a JSON object"),
        ({}, "accessTokens", "must be a list of token values"),
        ({"accessTokens": "t1"}, "accessTokens", "must be a list of token values"),
        ({"accessTokens": ["t1", 2]}, "accessTokens", "must be a list of token values"),
        ({"accessTokens": [], "activeHours": "24"}, "activeHours", "must be an integer"),
    ],
)
def test_a_malformed_usage_request_names_its_field(body: Any, field: str, message: str) -> None:
    assert refusal(body, TokenUsageRequest) == (field, message)


def test_a_usage_answer_is_read_and_written_back_without_showing_its_token() -> None:
    body = {
        "accessToken": "secret-token",
        "enrolled": 3,
        "active": 1,
        "activeHours": 0,
        "lastCheckin": "2026-11-25T13:00:00.000Z",
    }
    usage = wire.parse(body, TokenUsage)
    assert usage == TokenUsage(3, 1, UPDATED, active_hours=0, token="secret-token")
    assert wire.converter.unstructure(usage) == body
    assert "secret-token" not in repr(usage)
    made = TokenUsage(enrolled=0, active=0, last_checkin=None)
    assert (made.active_hours, made.token) == (24, "")
    least = wire.parse({"enrolled": 0, "active": 0}, TokenUsage)
    assert least == TokenUsage(0, 0, None, active_hours=24, token="")
    assert wire.converter.unstructure(least)["lastCheckin"] is None
    assert refusal([], TokenUsage) == ("body", "must be a JSON object")
    assert refusal({"active": 0}, TokenUsage) == ("enrolled", "is required")
    assert refusal({"enrolled": 0, "active": 0, "accessToken": 1}, TokenUsage) == (
        "accessToken",
        "must be a string",
    )
    assert refusal({"enrolled": 0, "active": 0, "lastCheckin": "x"}, TokenUsage) == (
        "lastCheckin",
        "not an RFC 3339 time: 'x'",
    )
    assert refusal({"enrolled": 0}, TokenUsage) == ("active", "is required")
    assert refusal({"enrolled": 0, "active": 0, "activeHours": "1"}, TokenUsage) == (
        "activeHours",
        "must be an integer",
    )


def test_a_token_is_used_up_once_it_enrolled_its_max_enrollments() -> None:
    token = wire.parse(token_wire(), AgentAccessToken)
    unlimited = TokenUsage(enrolled=1_000_000, active=0, last_checkin=None)
    assert not unlimited.used_up(token)
    capped = attrs.evolve(token, max_enrollments=3)
    used = [TokenUsage(n, 0, None).used_up(capped) for n in (0, 2, 3, 4)]
    assert used == [False, False, True, True]


# --- retiring -------------------------------------------------------------------------------


def test_the_retire_header_is_written_and_read_back() -> None:
    assert wire.RETIRE_HEADER == "Lacework-Tokens-Retire"
    assert RetireIntent(3600).header_value() == "idle-for=3600"
    assert RetireIntent(60, force=True).header_value() == "idle-for=60; force"
    for intent in (RetireIntent(1), RetireIntent(9_999_999_999, force=True)):
        assert RetireIntent.parse(intent.header_value()) == intent
    assert RetireIntent.parse(" idle-for=60 ; force ") == RetireIntent(60, force=True)
    assert RetireIntent.parse("idle-for=60;force") == RetireIntent(60, force=True)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "idle-for=",
        "idle-for=0",
        "idle-for=-1",
        "idle-for=10000000000",
        "idle-for=1.5",
        "idle-for=5;",
        "idle-for=5; forced",
        "idle-for=5 force",
        "force",
        "IDLE-FOR=5",
    ],
)
def test_any_other_retire_header_is_refused(value: str) -> None:
    with pytest.raises(WireError) as caught:
        RetireIntent.parse(value)
    assert (caught.value.field, caught.value.message) == (
        "Lacework-Tokens-Retire",
        "must be idle-for=<seconds, at least 1>, optionally '; force'",
    )


# --- a token's enrollment policy ------------------------------------------------------------


def test_a_token_expires_at_its_expiry_time() -> None:
    token = wire.parse(token_wire(), AgentAccessToken)
    assert token.expires_at is None
    assert not token.expired(CREATED)
    assert not token.expired()
    ending = attrs.evolve(token, expires_at=CREATED)
    assert ending.expired(CREATED)
    assert not ending.expired(CREATED - timedelta(microseconds=1))
    # Without a time given, now: CREATED is long past.
    assert ending.expired()
    assert not attrs.evolve(token, expires_at=datetime.now(UTC) + timedelta(hours=1)).expired()


def test_the_policy_keys_of_props_are_kept_unless_given() -> None:
    body = {"tokenAlias": "t", "props": {"os": "linux"}}
    props = wire.parse(body, CreateAgentTokenRequest).props
    assert props is not None
    assert (props.expires_at, props.max_enrollments, props.scope) == (KEEP, KEEP, KEEP)
    assert wire.converter.unstructure(props) == {"os": "linux"}
    cleared = {"expiresAt": None, "maxEnrollments": None, "scope": None}
    props = wire.parse({**body, "props": cleared}, CreateAgentTokenRequest).props
    assert props == TokenProps(expires_at=None, max_enrollments=None, scope=None)
    assert wire.converter.unstructure(props) == cleared
    given = {"expiresAt": "2026-11-25T12:00:00.123Z", "maxEnrollments": 1, "scope": "web"}
    props = wire.parse({**body, "props": given}, CreateAgentTokenRequest).props
    assert props == TokenProps(expires_at=CREATED, max_enrollments=1, scope="web")
    assert wire.converter.unstructure(props) == given
    most = wire.parse({**body, "props": {"maxEnrollments": 1_000_000}}, CreateAgentTokenRequest)
    assert most.props is not None and most.props.max_enrollments == 1_000_000


@pytest.mark.parametrize(
    ("props", "field", "message"),
    [
        ({"maxEnrollments": 0}, "props.maxEnrollments", "must be a whole number from 1 to 1000000"),
        (
            {"maxEnrollments": 1_000_001},
            "props.maxEnrollments",
            "must be a whole number from 1 to 1000000",
        ),
        ({"maxEnrollments": "5"}, "props.maxEnrollments", "must be an integer"),
        ({"maxEnrollments": True}, "props.maxEnrollments", "must be an integer"),
        ({"scope": 5}, "props.scope", "must be a string"),
        ({"expiresAt": "soon"}, "props.expiresAt", "not an RFC 3339 time: 'soon'"),
    ],
)
def test_a_malformed_policy_names_its_field(
    props: dict[str, Any], field: str, message: str
) -> None:
    body = {"tokenAlias": "t", "props": props}
    assert refusal(body, CreateAgentTokenRequest) == (field, message)


def test_a_token_answered_with_its_policy_is_read_and_written_back() -> None:
    policy = {"expiresAt": "2026-11-25T12:00:00.123Z", "maxEnrollments": 5, "scope": "web"}
    answer = token_wire()
    answer["props"].update(policy)
    token = wire.parse(answer, AgentAccessToken)
    assert (token.expires_at, token.max_enrollments, token.scope) == (CREATED, 5, "web")
    assert wire.converter.unstructure(token) == answer
    plain = wire.parse(token_wire(), AgentAccessToken)
    assert (plain.expires_at, plain.max_enrollments, plain.scope) == (None, None, None)
    assert "expiresAt" not in wire.converter.unstructure(plain)["props"]


@pytest.mark.parametrize(
    ("policy", "field", "message"),
    [
        ({"expiresAt": "soon"}, "props.expiresAt", "not an RFC 3339 time: 'soon'"),
        ({"maxEnrollments": "5"}, "props.maxEnrollments", "must be an integer"),
        ({"scope": 5}, "props.scope", "must be a string"),
    ],
)
def test_a_token_answered_with_a_malformed_policy_names_its_field(
    policy: dict[str, Any], field: str, message: str
) -> None:
    answer = token_wire()
    answer["props"].update(policy)
    assert refusal(answer, AgentAccessToken) == (field, message)

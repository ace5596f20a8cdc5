"""``client.agent_tokens.usage`` and ``retire`` against a fake server: what they send, and how
they read what it answers (a disabled token, idle agents, active ones, a forced retire, and the
server's own refusal when an agent checked in meanwhile)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses
from sdk_fakes import (
    BASE_URL,
    TOKEN,
    TOKENS_URL,
    add_bearer,
    body_of,
    calls_to,
    make_client,
    token_wire,
)

from lacework_tokens import errors, wire
from lacework_tokens.agent_tokens import AgentTokens

TOKEN_URL = f"{TOKENS_URL}/{TOKEN}"
USAGE_URL = f"{TOKENS_URL}/usage"
AGENTS_URL = f"{BASE_URL}/api/v2/AgentInfo/search"
OTHER = "b" * 56


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        add_bearer(mock)
        yield mock


@pytest.fixture
def tokens() -> AgentTokens:
    return make_client().agent_tokens


def usage_wire(token: str = TOKEN, last: datetime | None = None, **more: Any) -> dict[str, Any]:
    return {
        "accessToken": token,
        "enrolled": more.get("enrolled", 1),
        "active": more.get("active", 0),
        "activeHours": more.get("activeHours", 24),
        "lastCheckin": None if last is None else wire.format_time(last),
    }


def agent_wire(mid: int, hostname: str, seen: datetime) -> dict[str, Any]:
    return {
        "mid": mid,
        "hostname": hostname,
        "status": "ACTIVE",
        "createdTime": wire.format_time(seen - timedelta(days=30)),
        "lastUpdate": wire.format_time(seen),
        "tags": {"LwTokenShort": TOKEN[:30]},
    }


def agents_page(*agents: dict[str, Any]) -> dict[str, Any]:
    return {"data": list(agents), "paging": {"rows": len(agents), "totalRows": len(agents)}}


# --- usage ----------------------------------------------------------------------------------


def test_usage_of_no_tokens_asks_nothing(rsps: responses.RequestsMock, tokens: AgentTokens) -> None:
    assert tokens.usage_of([]) == {}
    assert calls_to(rsps, "POST", USAGE_URL) == []


def test_usage_of_several_tokens_is_one_request_read_by_token(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    last = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    answer = [usage_wire(OTHER, enrolled=2), usage_wire(TOKEN, last, active=1, activeHours=2)]
    rsps.add(responses.POST, USAGE_URL, json={"data": answer})
    found = tokens.usage_of([TOKEN, OTHER], active_hours=2)
    assert found == {
        TOKEN: wire.TokenUsage(1, 1, last, active_hours=2, token=TOKEN),
        OTHER: wire.TokenUsage(2, 0, None, active_hours=24, token=OTHER),
    }
    (call,) = calls_to(rsps, "POST", USAGE_URL)
    assert body_of(call) == {"accessTokens": [TOKEN, OTHER], "activeHours": 2}
    assert tokens.usage(TOKEN).enrolled == 1
    assert body_of(calls_to(rsps, "POST", USAGE_URL)[1]) == {
        "accessTokens": [TOKEN],
        "activeHours": 24,
    }


def test_usage_is_asked_again_after_a_gateway_error(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    # A POST, but it changes nothing: repeating it is safe.
    rsps.add(responses.POST, USAGE_URL, json={"message": "bad gateway"}, status=502)
    rsps.add(responses.POST, USAGE_URL, json={"data": [usage_wire(TOKEN, enrolled=4)]})
    assert tokens.usage(TOKEN).enrolled == 4
    assert len(calls_to(rsps, "POST", USAGE_URL)) == 2


def test_an_answer_without_a_token_asked_for_is_a_transport_error(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.POST, USAGE_URL, json={"data": [usage_wire(TOKEN)]})
    with pytest.raises(errors.TransportError) as caught:
        tokens.usage_of([TOKEN, OTHER])
    assert str(caught.value) == (
        f"unexpected answer from POST /api/v2/AgentAccessTokens/usage: no usage for "
        f"'{wire.mask(OTHER)}'"
    )


# --- retire ---------------------------------------------------------------------------------


def test_a_disabled_token_is_returned_as_it_is(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.GET, TOKEN_URL, json={"data": token_wire(enabled=0)})
    retired = tokens.retire(TOKEN)
    assert (retired.changed, retired.forced, retired.active) == (False, False, ())
    assert retired.token.enabled is False
    assert calls_to(rsps, "POST", USAGE_URL) == []
    assert calls_to(rsps, "PATCH", TOKEN_URL) == []


def test_a_token_no_agent_checked_in_with_is_disabled_with_the_retire_header(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.GET, TOKEN_URL, json={"data": token_wire()})
    long_ago = datetime.now(UTC) - timedelta(days=8)
    rsps.add(responses.POST, USAGE_URL, json={"data": [usage_wire(TOKEN, long_ago)]})
    rsps.add(responses.PATCH, TOKEN_URL, json={"data": token_wire(enabled=0)})
    retired = tokens.retire(TOKEN)
    assert (retired.changed, retired.forced, retired.active) == (True, False, ())
    assert retired.token.enabled is False
    (patch,) = calls_to(rsps, "PATCH", TOKEN_URL)
    assert body_of(patch) == {"tokenEnabled": 0}
    assert patch.request.headers["Lacework-Tokens-Retire"] == "idle-for=604800"
    assert calls_to(rsps, "POST", AGENTS_URL) == []


def test_a_token_agents_still_use_is_not_disabled(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.GET, TOKEN_URL, json={"data": token_wire()})
    recent = datetime.now(UTC) - timedelta(minutes=5)
    rsps.add(responses.POST, USAGE_URL, json={"data": [usage_wire(TOKEN, recent)]})
    rsps.add(responses.POST, AGENTS_URL, json=agents_page(agent_wire(3, "web-3", recent)))
    with pytest.raises(errors.TokenInUseError) as caught:
        tokens.retire(TOKEN, idle_for=timedelta(hours=1))
    error = caught.value
    assert (error.token_name, error.active, error.hostnames) == ("prod", 1, ("web-3",))
    assert error.idle_for == timedelta(hours=1)
    assert error.message.startswith(
        "1 agent enrolled with 'prod' checked in within the last 1 hour"
    )
    assert calls_to(rsps, "PATCH", TOKEN_URL) == []


def test_a_forced_retire_disables_it_and_says_whom_it_cut_off(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.GET, TOKEN_URL, json={"data": token_wire()})
    recent = datetime.now(UTC) - timedelta(minutes=5)
    rsps.add(responses.POST, USAGE_URL, json={"data": [usage_wire(TOKEN, recent)]})
    rsps.add(responses.POST, AGENTS_URL, json=agents_page(agent_wire(3, "web-3", recent)))
    rsps.add(responses.PATCH, TOKEN_URL, json={"data": token_wire(enabled=0)})
    retired = tokens.retire(TOKEN, idle_for=timedelta(hours=1), force=True)
    assert (retired.changed, retired.forced) == (True, True)
    assert [agent.hostname for agent in retired.active] == ["web-3"]
    (patch,) = calls_to(rsps, "PATCH", TOKEN_URL)
    assert patch.request.headers["Lacework-Tokens-Retire"] == "idle-for=3600; force"


def test_a_forced_retire_of_an_idle_token_is_not_called_forced(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.GET, TOKEN_URL, json={"data": token_wire()})
    rsps.add(responses.POST, USAGE_URL, json={"data": [usage_wire(TOKEN)]})
    rsps.add(responses.PATCH, TOKEN_URL, json={"data": token_wire(enabled=0)})
    retired = tokens.retire(TOKEN, force=True)
    assert (retired.changed, retired.forced, retired.active) == (True, False, ())


def test_when_the_server_refuses_because_an_agent_checked_in_meanwhile_that_agent_is_named(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.GET, TOKEN_URL, json={"data": token_wire()})
    just_now = datetime.now(UTC)
    rsps.add(responses.POST, USAGE_URL, json={"data": [usage_wire(TOKEN)]})
    rsps.add(responses.POST, USAGE_URL, json={"data": [usage_wire(TOKEN, just_now)]})
    rsps.add(responses.POST, AGENTS_URL, json=agents_page(agent_wire(4, "late-1", just_now)))
    in_use = {"message": "Agent access token 'prod' is in use: 1 agent ..."}
    rsps.add(responses.PATCH, TOKEN_URL, json=in_use, status=409)
    with pytest.raises(errors.TokenInUseError) as caught:
        tokens.retire(TOKEN)
    assert (caught.value.active, caught.value.hostnames) == (1, ("late-1",))
    assert caught.value.message.startswith(
        "1 agent enrolled with 'prod' checked in within the last"
    )


def test_when_the_server_refuses_and_no_agent_is_seen_its_word_stands(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.GET, TOKEN_URL, json={"data": token_wire()})
    rsps.add(responses.POST, USAGE_URL, json={"data": [usage_wire(TOKEN)]})
    message = "Agent access token 'prod' is in use: 1 agent enrolled with it checked in ..."
    rsps.add(responses.PATCH, TOKEN_URL, json={"message": message}, status=409)
    with pytest.raises(errors.TokenInUseError) as caught:
        tokens.retire(TOKEN, idle_for=timedelta(days=1))
    error = caught.value
    assert (error.token_name, error.active, error.idle_for) == ("prod", 1, timedelta(days=1))
    assert error.message == message

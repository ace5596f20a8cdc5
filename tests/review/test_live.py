"""``--live``: agents per token through Lacework's ``POST /api/v2/AgentInfo/search``.

The impact test runs against the backend's real AgentInfo, with agents enrolled on the tokens of
the real plan of ``scenarios.lifecycle``. Lacework itself is simulated with ``responses`` where
what is tested is its own behaviour: a ``nextPage`` URL on another host (the client keeps to its
own), one machine listed once per check-in, the exact request, and a refused lookup.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from review_harness import Lab
from scenarios import Scenario

from lacework_tokens import Client
from lacework_tokens.cli import main
from lacework_tokens.enrollment import AgentConnection
from lacework_tokens.review import ClientUsageSource
from lacework_tokens.review.plan import Plan

pytestmark = pytest.mark.terraform

LACEWORK = "https://acme.lacework.net"
SEARCH = f"{LACEWORK}/api/v2/AgentInfo/search"
TOKEN = "lacework_agent_access_token"
FLEET_1 = f"{TOKEN}.fleet[1]"
PAUSED = f"{TOKEN}.paused"
NIGHT_LINUX = 'module.night.module.os["linux"].lacework_agent_access_token.this'


def _agent(mid: int, hostname: str, token: str) -> dict[str, Any]:
    return {
        "mid": mid,
        "hostname": hostname,
        "status": "ACTIVE",
        "agentVersion": "6.8.0",
        "lastUpdate": "2026-11-30T10:00:00.000Z",
        "tags": {"LwTokenShort": token[:30], "Hostname": hostname},
    }


class SimulatedLacework:
    """AgentInfo search answers for the agents of some tokens; every request kept."""

    def __init__(self, agents: dict[str, list[dict[str, Any]]]) -> None:
        self.agents = agents  # by LwTokenShort
        self.searches: list[dict[str, Any]] = []
        self.pages: dict[str, list[dict[str, Any]]] = {}

    def search(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or "{}")
        self.searches.append(body)
        (only,) = body["filters"]
        rows = self.agents.get(only["value"], [])
        # Two per page: a longer list comes in pages, the next one linked by an absolute URL
        # whose host the client must ignore.
        first, rest = rows[:2], rows[2:]
        paging: dict[str, Any] = {"rows": len(first), "totalRows": len(rows), "urls": {}}
        if rest:
            key = f"page{len(self.pages) + 1}"
            self.pages[key] = rest
            paging["urls"]["nextPage"] = f"https://elsewhere.example/api/v2/AgentInfo/{key}"
        return 200, {}, json.dumps({"data": first, "paging": paging})

    def page(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        key = str(request.path_url).rsplit("/", 1)[-1]
        rows = self.pages[key]
        return 200, {}, json.dumps({"data": rows, "paging": {"rows": len(rows), "urls": {}}})


@pytest.fixture
def lacework(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[responses.RequestsMock]:
    for name in ("LW_API_SERVER_URL", "LW_PROFILE", "LW_SUBACCOUNT", "LW_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.lacework.toml
    monkeypatch.setenv("LW_ACCOUNT", "acme")
    monkeypatch.setenv("LW_API_KEY", "ACME_0123456789ABCDEF")
    monkeypatch.setenv("LW_API_SECRET", "_0123456789abcdef")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(
            responses.POST,
            f"{LACEWORK}/api/v2/access/tokens",
            json={"token": "bearer-for-tests", "expiresAt": "2099-01-01T00:00:00.000Z"},
            status=201,
        )
        yield mock


def _values(run_document: dict[str, Any]) -> dict[str, str]:
    """Token value by address, for the tokens the plan stops (the simulation needs them)."""
    return {address: value for value, address in Plan(run_document).token_values().items()}


def _review(lab: Lab, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["review", *args])
    captured = capsys.readouterr()
    lab.outputs += [captured.out, captured.err]
    return status, captured.out, captured.err


def test_live_counts_agents_and_sets_severity(
    lab: Lab,
    lifecycle: Scenario,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    values = _values(lifecycle.run.document)
    fleet, paused, night = values[FLEET_1], values[PAUSED], values[NIGHT_LINUX]
    with AgentConnection(lab.backend.url) as agent:
        # Three machines on the fleet token, one of them checking in again.
        web = [agent.enroll(fleet, f"web-{n}") for n in (1, 2, 3)]
        agent.checkin(fleet, web[1].mid)
        agent.enroll(paused, "batch-1")
        agent.enroll(night, "night-1")
        agent.enroll(night, "night-2")
    for name in ("LW_PROFILE", "LW_SUBACCOUNT", "LW_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, value in lab.backend.env().items():
        monkeypatch.setenv(name, value)

    status, out, err = _review(
        lab, capsys, str(lifecycle.run.json_path), "--live", "--window", "3d", "--format", "json"
    )
    assert status == 1, err
    report = json.loads(out)
    agents = {change["address"]: change["agents"] for change in report["changes"]}
    hosts = {change["address"]: change["agent_hostnames"] for change in report["changes"]}
    assert agents[FLEET_1] == 3 and hosts[FLEET_1] == ["web-1", "web-2", "web-3"]
    assert agents[PAUSED] == 1
    assert agents[NIGHT_LINUX] == 2
    assert agents[f"{TOKEN}.lonely[0]"] == 0
    assert agents[f"{TOKEN}.renamed"] is None  # a rename stops nothing: not looked up
    assert report["impact"] == {"checked": True, "window_seconds": 259200, "window": "3 days"}

    severity = {(item["rule"], item["address"]): item["severity"] for item in report["findings"]}
    assert severity[("LWT101", FLEET_1)] == "critical"
    assert severity[("LWT102", PAUSED)] == "critical"
    assert severity[("LWT101", f"{TOKEN}.lonely[0]")] == "low"  # no agent: safe to retire
    assert severity[("LWT303", "module.night")] == "critical"
    assert severity[("LWT303", 'module.team["blue"]')] == "low"
    messages = {(item["rule"], item["address"]): item["message"] for item in report["findings"]}
    assert (
        "3 agents checked in with it in the last 3 days (web-1, web-2, web-3)"
        in (messages[("LWT101", FLEET_1)])
    )
    # A window that ends before the agents enrolled sees none of them.
    usage = ClientUsageSource(lab.client).agents_using(
        fleet,
        start=datetime.now(UTC) - timedelta(days=3),
        end=datetime.now(UTC) - timedelta(days=1),
    )
    assert usage.agents == 0


def test_without_live_nothing_is_asked(
    lab: Lab,
    lifecycle: Scenario,
    lacework: responses.RequestsMock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = _review(lab, capsys, str(lifecycle.run.json_path), "--format", "markdown")
    assert status == 1
    assert len(lacework.calls) == 0
    assert "impact on agents not checked (--live)" in out
    assert "| not checked |" in out


def test_a_failed_lookup_is_one_line_and_exit_2(
    lab: Lab,
    lifecycle: Scenario,
    lacework: responses.RequestsMock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lacework.add(responses.POST, SEARCH, json={"message": "Forbidden"}, status=403)
    status, out, err = _review(lab, capsys, str(lifecycle.run.json_path), "--live")
    assert status == 2 and out == ""
    assert err.startswith("lacework-tokens review: error: --live: counting agents failed: [403]")
    assert len(err.splitlines()) == 1


def test_live_needs_credentials(
    lab: Lab,
    lifecycle: Scenario,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("LW_ACCOUNT", "LW_API_KEY", "LW_API_SECRET", "LW_API_SERVER_URL", "LW_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    status, out, err = _review(lab, capsys, str(lifecycle.run.json_path), "--live")
    assert status == 2 and out == ""
    assert err.startswith("lacework-tokens review: error: --live: no account configured")


def test_usage_source_over_the_sdk_client_keeps_to_its_own_host(
    lacework: responses.RequestsMock,
) -> None:
    token = "f" * 56
    # Five machines, the second listed twice (once per check-in), over two pages.
    rows = [_agent(mid, f"host-{mid}", token) for mid in range(1, 6)]
    simulated = SimulatedLacework({token[:30]: [*rows[:2], rows[1], *rows[2:]]})
    lacework.add_callback(responses.POST, SEARCH, callback=simulated.search)
    lacework.add_callback(
        responses.GET, f"{LACEWORK}/api/v2/AgentInfo/page1", callback=simulated.page
    )
    end = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with Client.from_env() as client:
        usage = ClientUsageSource(client).agents_using(
            token, start=end - timedelta(days=7), end=end
        )
    assert usage.agents == 5
    assert usage.hostnames == tuple(f"host-{mid}" for mid in range(1, 6))
    (search,) = simulated.searches
    assert search == {
        "timeFilter": {
            "startTime": "2026-11-23T12:00:00.000Z",
            "endTime": "2026-11-30T12:00:00.000Z",
        },
        "filters": [{"field": "tags.LwTokenShort", "expression": "eq", "value": token[:30]}],
    }
    # The bearer was fetched once and sent on both pages.
    assert [call.request.method for call in lacework.calls] == ["POST", "POST", "GET"]
    assert lacework.calls[2].request.headers["Authorization"] == "Bearer bearer-for-tests"

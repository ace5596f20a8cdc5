"""Agents over HTTP against a real server: enrollment and check-in with the token alone, every
refusal as the wire shows it, what the token cannot do, roles, AgentInfo pages, the usage
extension, and the ``agent`` and ``token`` commands a user runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from test_keys_and_roles import Caller, create_key
from wire_calls import TIMEOUT_SECONDS, Wire, assert_error

from lacework_tokens.enrollment import AgentConnection
from lacework_tokens.testing import Backend, run_backend

ENROLL = "/api/v2/AgentEnrollment"
CHECKIN = "/api/v2/AgentCheckin"
SEARCH = "/api/v2/AgentInfo/search"
USAGE = "/api/v2/AgentAccessTokens/usage"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    args = ["--rate-limit", "0", "--agent-page-rows", "5"]
    with run_backend(tmp_path_factory.mktemp("agents-http"), extra_args=args) as running:
        yield running


@pytest.fixture(scope="module")
def api(backend: Backend) -> Wire:
    return Wire(backend)


def as_agent(backend: Backend, path: str, token: str, body: Any) -> requests.Response:
    return requests.post(
        f"{backend.url}{path}", json=body, headers={"Authorization": token}, timeout=TIMEOUT_SECONDS
    )


def test_enrollment_and_check_in_on_the_wire(backend: Backend, api: Wire) -> None:
    made = api.create("wire-fleet", os="linux")
    enrolled = as_agent(
        backend, ENROLL, made["accessToken"], {"hostname": "wire-1", "tags": {"Env": "prod"}}
    )
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.headers["Content-Type"] == "application/json"
    agent = enrolled.json()["data"]
    assert type(agent["mid"]) is int and agent["status"] == "ACTIVE"
    assert agent["tags"]["LwTokenShort"] == made["accessToken"][:30]
    assert all(isinstance(value, str) for value in agent["tags"].values())

    checked = as_agent(backend, CHECKIN, f"Bearer {made['accessToken']}", {"mid": agent["mid"]})
    assert checked.status_code == 200, checked.text
    assert checked.json()["data"]["lastUpdate"] >= agent["lastUpdate"]

    # Enrolling never changes the token: a Terraform refresh sees what it saw before.
    assert api.get(made["accessToken"]).json()["data"] == made


def test_each_refusal_is_a_status_and_a_reason(backend: Backend, api: Wire) -> None:
    unknown = as_agent(backend, ENROLL, "f" * 56, {"hostname": "h"})
    assert assert_error(unknown, 401) == "Unknown agent access token."
    assert assert_error(as_agent(backend, ENROLL, "", {"hostname": "h"}), 401)

    off = api.create("wire-off")
    api.patch(off["accessToken"], {"tokenEnabled": 0})
    assert "is disabled" in assert_error(
        as_agent(backend, ENROLL, off["accessToken"], {"hostname": "h"}), 403
    )

    soon = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    expiring = api.create("wire-expiring", expiresAt=soon)
    assert expiring["props"]["expiresAt"] == soon
    first = as_agent(backend, ENROLL, expiring["accessToken"], {"hostname": "early"})
    assert first.status_code == 201
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while datetime.now(UTC) < deadline:
        late = as_agent(backend, ENROLL, expiring["accessToken"], {"hostname": "late"})
        if late.status_code != 201:
            break
    assert f"expired at {soon}" in assert_error(late, 403)
    kept = as_agent(backend, CHECKIN, expiring["accessToken"], {"mid": first.json()["data"]["mid"]})
    assert kept.status_code == 200  # enrolled before the expiry: still checks in

    once = api.create("wire-once", maxEnrollments=1)
    assert as_agent(backend, ENROLL, once["accessToken"], {"hostname": "a"}).status_code == 201
    assert "is used up" in assert_error(
        as_agent(backend, ENROLL, once["accessToken"], {"hostname": "b"}), 403
    )

    scoped = api.create("wire-scoped", scope="db")
    wrong = as_agent(backend, ENROLL, scoped["accessToken"], {"hostname": "h", "scope": "web"})
    assert "grants scope 'db'" in assert_error(wrong, 403)

    missing = as_agent(backend, CHECKIN, scoped["accessToken"], {"mid": 424242})
    assert "is not enrolled with this agent access token" in assert_error(missing, 404)
    malformed = as_agent(backend, ENROLL, scoped["accessToken"], {"hostname": 7})
    assert "hostname" in assert_error(malformed, 400)
    # A mid no 64-bit integer holds is refused, not carried to the database.
    huge = as_agent(backend, CHECKIN, scoped["accessToken"], {"mid": 2**70})
    assert "mid: must be from 1 to" in assert_error(huge, 400)


def test_a_disabled_tokens_agents_cannot_check_in_and_show_it(backend: Backend, api: Wire) -> None:
    made = api.create("wire-locked")
    mid = as_agent(backend, ENROLL, made["accessToken"], {"hostname": "locked-1"}).json()["data"][
        "mid"
    ]
    api.patch(made["accessToken"], {"tokenEnabled": 0})
    assert "is disabled" in assert_error(
        as_agent(backend, CHECKIN, made["accessToken"], {"mid": mid}), 403
    )
    body = {"filters": [{"field": "mid", "expression": "eq", "value": str(mid)}]}
    (shown,) = api.call("POST", SEARCH, json=body).json()["data"]
    assert shown["status"] == "TOKEN_DISABLED"


def test_the_agent_token_opens_nothing_but_enrollment_and_check_in(
    backend: Backend, api: Wire
) -> None:
    made = api.create("wire-only-agents")
    value = made["accessToken"]
    for method, path, body in (
        ("GET", "/api/v2/AgentAccessTokens", None),
        ("GET", f"/api/v2/AgentAccessTokens/{value}", None),
        ("POST", "/api/v2/AgentAccessTokens", {"tokenAlias": "sneaky"}),
        ("POST", SEARCH, {}),
        ("POST", USAGE, {"accessTokens": [value]}),
    ):
        for authorization in (value, f"Bearer {value}"):
            answer = requests.request(
                method,
                f"{backend.url}{path}",
                json=body,
                headers={"Authorization": authorization},
                timeout=TIMEOUT_SECONDS,
            )
            assert_error(answer, 401)
    # And an API bearer token is no agent token.
    assert_error(as_agent(backend, ENROLL, api.bearer, {"hostname": "h"}), 401)


def test_roles_read_usage_and_installers_create_with_a_policy(backend: Backend, api: Wire) -> None:
    db = str(backend.db_path)
    reader = Caller(backend, create_key(db, "--role", "read-only", "--user", "agents-reader"))
    installer = Caller(backend, create_key(db, "--role", "agent-installer", "--user", "agents-ci"))
    made = installer.call(
        "POST",
        "/api/v2/AgentAccessTokens",
        {"tokenAlias": "installer-policy", "props": {"maxEnrollments": 2, "scope": "ci"}},
    )
    assert made.status_code == 201, made.text
    value = made.json()["data"]["accessToken"]
    assert as_agent(backend, ENROLL, value, {"hostname": "ci-1"}).status_code == 201
    for caller in (reader, installer):
        usage = caller.call("POST", USAGE, {"accessTokens": [value]})
        assert usage.status_code == 200, usage.text
        assert usage.json()["data"][0]["enrolled"] == 1
        assert caller.call("POST", SEARCH, {}).status_code == 200
    refused = reader.call("POST", "/api/v2/AgentAccessTokens", {"tokenAlias": "reader-policy"})
    assert_error(refused, 403)
    changed = installer.call(
        "PATCH", f"/api/v2/AgentAccessTokens/{value}", {"props": {"scope": None}}
    )
    assert "may not update" in assert_error(changed, 403)


def test_agent_info_pages_link_by_path_and_keep_their_totals(backend: Backend, api: Wire) -> None:
    made = api.create("wire-pages")
    with AgentConnection(backend.url) as agent:
        mids = [agent.enroll(made["accessToken"], f"page-{n}").mid for n in range(12)]
    body = {
        "filters": [
            {"field": "tags.LwTokenShort", "expression": "eq", "value": made["accessToken"][:30]}
        ]
    }
    answer = api.call("POST", SEARCH, json=body).json()
    seen = [row["mid"] for row in answer["data"]]
    assert answer["paging"]["rows"] == 5 and answer["paging"]["totalRows"] == 12
    while answer["paging"]["urls"]["nextPage"]:
        following = answer["paging"]["urls"]["nextPage"]
        assert following.startswith("/api/v2/AgentInfo/search/")
        answer = api.call("GET", following).json()
        assert answer["paging"]["totalRows"] == 12
        seen += [row["mid"] for row in answer["data"]]
    assert seen == mids and answer["paging"]["urls"]["nextPage"] is None
    only = api.call("POST", SEARCH, json={**body, "returns": ["mid", "hostname"]}).json()
    assert set(only["data"][0]) == {"mid", "hostname"}
    damaged = api.call("GET", "/api/v2/AgentInfo/search/not-a-page")
    assert "not a page of an AgentInfo search" in assert_error(damaged, 400)


def run_cli(backend: Backend, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **backend.env(), "HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, "-m", "lacework_tokens", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_agent_commands_as_a_user_runs_them(
    backend: Backend, api: Wire, tmp_path: Path
) -> None:
    made = api.create("cli-agents", scope="cli")
    value = made["accessToken"]
    enrolled = run_cli(
        backend, tmp_path, "agent", "enroll", value, "--hostname", "cli-1", "--tag", "Name=first"
    )
    assert enrolled.returncode == 0, enrolled.stderr
    mid = int(enrolled.stdout)
    config = json.loads(
        next(tmp_path.glob(f".lacework-tokens/agents/*/{mid}/config.json")).read_text()
    )
    assert config["tokens"]["AccessToken"] == value and config["serverurl"] == backend.url
    checked = run_cli(backend, tmp_path, "agent", "checkin", str(mid))
    assert checked.returncode == 0 and f"agent {mid} (cli-1) checked in at" in checked.stdout

    fleet = run_cli(
        backend, tmp_path, "agent", "simulate", value, "--count", "6", "--checkins", "2"
    )
    assert fleet.returncode == 0, fleet.stderr
    assert "Enrolled 6 of 6 agents" in fleet.stdout and "Checked in 12 of 12 times" in fleet.stdout

    wrong = run_cli(backend, tmp_path, "agent", "enroll", value, "--hostname", "x", "--scope", "db")
    assert wrong.returncode == 1 and wrong.stdout == ""
    assert wrong.stderr.strip() == (
        "lacework-tokens agent enroll: error: [403] Agent access token 'cli-agents' grants "
        "scope 'cli'; this agent asked for scope 'db'"
    )

    listed = run_cli(backend, tmp_path, "agent", "list", "--token", "cli-agents")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split("  ")[0] == "MID" and "LAST CHECK-IN" in header and "OS ARCH" in header
    assert len(rows) == 7
    filtered = run_cli(
        backend,
        tmp_path,
        "agent",
        "list",
        "--filter",
        "hostname:sim-[12]",
        "--token",
        value,
        "--json",
    )
    assert sorted(agent["hostname"] for agent in json.loads(filtered.stdout)) == ["sim-1", "sim-2"]
    bad = run_cli(backend, tmp_path, "agent", "list", "--filter", "hostname")
    assert bad.returncode == 2 and "expected key:value" in bad.stderr

    shown = run_cli(backend, tmp_path, "token", "show", "--name", "cli-agents", "--json")
    usage = json.loads(shown.stdout)["usage"]
    assert (usage["enrolled"], usage["active"], usage["state"]) == (7, 7, "enabled")


def test_token_create_with_a_policy_and_its_state(backend: Backend, tmp_path: Path) -> None:
    made = run_cli(
        backend,
        tmp_path,
        "token",
        "create",
        "cli-once",
        "--max-enrollments",
        "1",
        "--expires-in",
        "15m",
        "--scope",
        "ops",
        "--json",
        "--show-token",
    )
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    props = created["props"]
    assert props["maxEnrollments"] == 1 and props["scope"] == "ops"
    expires = datetime.fromisoformat(props["expiresAt"].replace("Z", "+00:00"))
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)
    value = created["accessToken"]
    assert as_agent(backend, ENROLL, value, {"hostname": "only"}).status_code == 201
    listed = run_cli(backend, tmp_path, "token", "list")
    (row,) = [line for line in listed.stdout.splitlines() if " cli-once " in line]
    columns = re.split(r"\s{2,}", row)
    # TOKEN, NAME, STATE, OS, CREATED AT, UPDATED AT, AGENTS, ACTIVE (24H), LAST CHECK-IN
    assert columns[2] == "Used up" and columns[6:8] == ["1", "1"]
    bad = run_cli(backend, tmp_path, "token", "create", "cli-bad", "--expires-in", "soon")
    assert bad.returncode == 2 and "expected a duration such as 90s, 15m, 24h" in bad.stderr

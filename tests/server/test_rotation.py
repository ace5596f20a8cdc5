"""Rotation against a real backend: ``rotate`` makes exactly one successor, however often it is
run and wherever it is interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pytest
import requests
from raw_api import bearer_token
from stalling_proxy import StallingProxy

from lacework_tokens import (
    AgentAccessToken,
    Client,
    ConflictError,
    PermissionDeniedError,
    TokenInUseError,
    wire,
)
from lacework_tokens.enrollment import AgentConnection
from lacework_tokens.rotation import successor_name
from lacework_tokens.testing import Backend, run_backend

TOKENS_PATH: Final = "/api/v2/AgentAccessTokens"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with run_backend(tmp_path_factory.mktemp("rotation-backend")) as running:
        yield running


@pytest.fixture
def client(backend: Backend) -> Iterator[Client]:
    with backend.client() as opened:
        yield opened


def named(client: Client, prefix: str) -> list[AgentAccessToken]:
    """The tokens whose name starts with ``prefix``, by name."""
    found = [t for t in client.agent_tokens.list() if t.name.startswith(prefix)]
    return sorted(found, key=lambda t: t.name)


def token_cli(
    url: str, backend: Backend, *args: str, wait: bool = True
) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env.update(backend.env(), LW_API_SERVER_URL=url)
    command = [sys.executable, "-m", "lacework_tokens", "token", *args]
    if not wait:
        return subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("name", "successor"),
    [
        ("prod", "prod-v2"),
        ("prod-v2", "prod-v3"),
        ("prod-v9", "prod-v10"),
        ("prod-v0", "prod-v0-v2"),  # generations start at 1
        ("eu-v1-canary", "eu-v1-canary-v2"),
    ],
)
def test_successor_names_raise_the_generation(name: str, successor: str) -> None:
    assert successor_name(name) == successor


def test_rotate_creates_an_enabled_successor_with_the_same_settings(client: Client) -> None:
    old = client.agent_tokens.create("rot-a", description="k8s production", os="windows")
    rotation = client.agent_tokens.rotate(old.token)
    assert rotation.created is True
    assert rotation.old == client.agent_tokens.get(old.token)
    new = rotation.new
    assert (new.name, new.description, new.os, new.enabled) == (
        "rot-a-v2",
        "k8s production",
        "windows",
        True,
    )
    assert new.token != old.token
    assert client.agent_tokens.get(old.token).enabled  # the old token keeps working


def test_rotate_again_returns_the_same_successor(client: Client) -> None:
    old = client.agent_tokens.create("rot-b", description="d")
    first = client.agent_tokens.rotate(old)
    second = client.agent_tokens.rotate(old.token)
    assert second.created is False
    assert second.new.token == first.new.token
    assert [t.name for t in named(client, "rot-b")] == ["rot-b", "rot-b-v2"]


def test_rotating_the_successor_makes_the_next_generation(client: Client) -> None:
    old = client.agent_tokens.create("rot-c-v1")
    v2 = client.agent_tokens.rotate(old).new
    v3 = client.agent_tokens.rotate(v2, description="third").new
    assert (v2.name, v3.name, v3.description) == ("rot-c-v2", "rot-c-v3", "third")


def test_the_successor_keeps_the_enrollment_policy_unless_told_otherwise(client: Client) -> None:
    lifetime = timedelta(days=2)
    old = client.agent_tokens.create(
        "rot-p",
        expires_at=datetime.now(UTC) + lifetime,
        max_enrollments=5,
        scope="eu-web",
    )
    before = datetime.now(UTC)
    new = client.agent_tokens.rotate(old).new
    assert (new.max_enrollments, new.scope) == (5, "eu-web")
    assert old.expires_at is not None and new.expires_at is not None
    # As long after its own creation as the old token's expiry was after its creation.
    expected = old.expires_at - old.created_time
    assert before + expected - timedelta(seconds=5) <= new.expires_at
    assert new.expires_at <= datetime.now(UTC) + expected + timedelta(seconds=5)
    assert client.agent_tokens.rotate(old).new.token == new.token  # resumed

    with pytest.raises(ConflictError, match="its scope is 'eu-web', not 'eu-db'"):
        client.agent_tokens.rotate(old, scope="eu-db")
    other = client.agent_tokens.rotate(
        old, new_name="rot-p-db", scope="eu-db", max_enrollments=None, expires_in=None
    ).new
    assert (other.scope, other.max_enrollments, other.expires_at) == ("eu-db", None, None)


def test_a_token_that_is_not_a_successor_is_a_conflict_not_a_second_token(
    client: Client,
) -> None:
    old = client.agent_tokens.create("rot-d", description="prod", os="linux")
    client.agent_tokens.create("rot-d-v2", description="something else")
    with pytest.raises(ConflictError, match="not a successor of 'rot-d': its description"):
        client.agent_tokens.rotate(old)
    client.agent_tokens.create("rot-d-win", description="prod", os="windows")
    with pytest.raises(ConflictError, match="its os is 'windows', not 'linux'"):
        client.agent_tokens.rotate(old, new_name="rot-d-win")
    with pytest.raises(ConflictError, match="other than 'rot-d'"):
        client.agent_tokens.rotate(old, new_name="rot-d")
    assert len(named(client, "rot-d")) == 3


def test_a_soft_deleted_token_needs_an_explicit_successor_name(client: Client) -> None:
    old = client.agent_tokens.soft_delete(client.agent_tokens.create("rot-e").token)
    with pytest.raises(ConflictError, match="soft-deleted"):
        client.agent_tokens.rotate(old)
    assert client.agent_tokens.rotate(old, new_name="rot-e").new.name == "rot-e"


def test_concurrent_rotations_agree_on_one_successor(backend: Backend, client: Client) -> None:
    old = client.agent_tokens.create("rot-f")

    def rotate_once(_: int) -> str:
        with backend.client() as own:
            return own.agent_tokens.rotate(old.token).new.token

    with ThreadPoolExecutor(max_workers=6) as pool:
        successors = set(pool.map(rotate_once, range(6)))
    assert len(successors) == 1
    assert [t.name for t in named(client, "rot-f")] == ["rot-f", "rot-f-v2"]


def test_cli_rotate_prints_both_tokens_masked_and_json_for_scripts(
    backend: Backend, client: Client
) -> None:
    old = client.agent_tokens.create("rot-g", description="cli")
    result = token_cli(backend.url, backend, "rotate", "rot-g")
    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == 0, result.stderr
    new = client.agent_tokens.find("rot-g-v2")
    assert new is not None
    assert wire.mask(new.token) in result.stdout and new.token not in result.stdout
    hidden = token_cli(backend.url, backend, "rotate", "rot-g", "--json")
    assert isinstance(hidden, subprocess.CompletedProcess)
    assert json.loads(hidden.stdout)["new"]["accessToken"] is None
    assert "Created 'rot-g-v2'" in result.stderr
    assert "lacework-tokens token retire rot-g" in result.stderr

    again = token_cli(backend.url, backend, "rotate", old.token, "--json", "--show-token")
    assert isinstance(again, subprocess.CompletedProcess)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["created"] is False
    assert report["old"]["accessToken"] == old.token
    assert report["new"]["accessToken"] == new.token


@pytest.mark.parametrize(
    ("stalled", "forward", "label"),
    [
        ("GET", False, "before anything changed"),
        ("POST", False, "while sending the create"),
        ("POST", True, "after the server created the successor"),
    ],
)
def test_a_rotation_killed_at_any_step_is_resumed_by_running_it_again(
    backend: Backend, client: Client, stalled: str, forward: bool, label: str
) -> None:
    name = f"rot-kill-{stalled.lower()}-{int(forward)}"
    old = client.agent_tokens.create(name, description=label)
    # The step: reading the old token (GET) or creating the successor (POST to the collection).
    path = f"{TOKENS_PATH}/{old.token}" if stalled == "GET" else TOKENS_PATH
    with StallingProxy(backend.url, stalled, path, forward=forward) as proxy:
        process = token_cli(proxy.url, backend, "rotate", name, wait=False)
        assert isinstance(process, subprocess.Popen)
        try:
            assert proxy.stalled.wait(60), proxy.seen
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(30)
    existing = named(client, name)
    assert len(existing) == (2 if forward else 1)

    resumed = token_cli(backend.url, backend, "rotate", name, "--json", "--show-token")
    assert isinstance(resumed, subprocess.CompletedProcess)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["created"] is (not forward)
    after = named(client, name)
    assert [t.name for t in after] == [name, f"{name}-v2"]
    successor = client.agent_tokens.find(f"{name}-v2")
    assert successor is not None and report["new"]["accessToken"] == successor.token
    if forward:
        # The successor the killed run created is the one the resumed run found.
        assert {t.token for t in existing} == {t.token for t in after}


# --- retire: only once no agent uses the old token ------------------------------------------

IDLE: Final = timedelta(seconds=2)


def audit_events(backend: Backend, token_alias: str) -> list[dict[str, Any]]:
    """The backend's audit trail about one token, newest first."""
    command = ["audit", "--db", str(backend.db_path), "--limit", "1000", "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "lacework_tokens", *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [e for e in json.loads(result.stdout) if e.get("tokenAlias") == token_alias]


def wait_past(moment: datetime, window: timedelta) -> None:
    """Sleep until ``window`` has passed since ``moment`` (and a little more)."""
    remaining = (moment + window - datetime.now(UTC)).total_seconds() + 0.3
    if remaining > 0:
        time.sleep(remaining)


@pytest.fixture
def agent_connection(backend: Backend) -> Iterator[AgentConnection]:
    with AgentConnection(backend.url) as connection:
        yield connection


def test_retire_refuses_while_an_agent_checks_in_with_the_old_token_and_succeeds_after(
    backend: Backend, client: Client, agent_connection: AgentConnection
) -> None:
    old = client.agent_tokens.create("ret-a", description="fleet")
    fleet = {
        host: agent_connection.enroll(old.token, host).mid for host in ("web-1", "web-2", "db-1")
    }
    new = client.agent_tokens.rotate(old).new

    with pytest.raises(TokenInUseError) as refused:
        client.agent_tokens.retire(old.token, idle_for=IDLE)
    assert refused.value.active == 3
    assert set(refused.value.hostnames) == {"web-1", "web-2", "db-1"}
    assert refused.value.last_checkin is not None
    assert "3 agents enrolled with 'ret-a' checked in within the last 2 seconds" in str(
        refused.value
    )
    assert client.agent_tokens.get(old.token).enabled  # nothing changed

    # Two agents move to the successor; db-1 keeps checking in with the old token.
    moved = {host: agent_connection.enroll(new.token, host).mid for host in ("web-1", "web-2")}
    wait_past(datetime.now(UTC), IDLE)
    agent_connection.checkin(old.token, fleet["db-1"])
    with pytest.raises(TokenInUseError) as still:
        client.agent_tokens.retire(old, idle_for=IDLE)
    assert (still.value.active, still.value.hostnames) == (1, ("db-1",))
    assert "1 agent enrolled with 'ret-a'" in str(still.value)

    # The last one moves; once the window has passed in silence, the retire goes through.
    moved["db-1"] = agent_connection.enroll(new.token, "db-1").mid
    last_old_checkin = client.agent_tokens.usage(old.token).last_checkin
    assert last_old_checkin is not None
    wait_past(last_old_checkin, IDLE)
    retirement = client.agent_tokens.retire(old, idle_for=IDLE)
    assert retirement.changed and not retirement.forced and retirement.active == ()
    assert retirement.token.enabled is False
    assert client.agent_tokens.get(old.token).enabled is False

    # The old token locks its agents out; the moved ones keep working with the successor.
    with pytest.raises(PermissionDeniedError):
        agent_connection.checkin(old.token, fleet["web-1"])
    for mid in moved.values():
        assert agent_connection.checkin(new.token, mid).uses(new.token)
    usage = client.agent_tokens.usage(new.token)
    assert (usage.enrolled, usage.active) == (3, 3)

    (retired_event,) = [e for e in audit_events(backend, "ret-a") if e["action"] == "token.retired"]
    assert retired_event["detail"].startswith("retired: no agent checked in within 2 seconds")

    # Again: nothing to do, nothing recorded.
    again = client.agent_tokens.retire(old, idle_for=IDLE)
    assert again.changed is False
    assert len([e for e in audit_events(backend, "ret-a") if e["action"] == "token.retired"]) == 1


def test_a_forced_retire_says_so_in_the_audit_trail(
    backend: Backend, client: Client, agent_connection: AgentConnection
) -> None:
    old = client.agent_tokens.create("ret-b")
    agent_connection.enroll(old.token, "edge-1")
    agent_connection.enroll(old.token, "edge-2")
    retirement = client.agent_tokens.retire(old, force=True)  # the default window: 7 days
    assert retirement.changed and retirement.forced
    assert sorted(agent.hostname for agent in retirement.active) == ["edge-1", "edge-2"]
    assert client.agent_tokens.get(old.token).enabled is False

    # Newest first among the changes (reads of the token are audited too, a moment later).
    event = next(e for e in audit_events(backend, "ret-b") if e["action"] != "token.read")
    assert event["action"] == "token.retired"
    assert event["detail"].startswith("forced: 2 agents checked in within 7 days, the last at ")
    assert "tokenEnabled 1 -> 0" in event["detail"]
    assert old.token not in json.dumps(event)


def test_the_server_checks_a_retire_itself(
    backend: Backend, client: Client, agent_connection: AgentConnection
) -> None:
    """The PATCH that retires carries the window: the server refuses it while agents are
    active (an agent may check in between the SDK's look and the disable), whatever the
    client thought."""
    old = client.agent_tokens.create("ret-c")
    agent_connection.enroll(old.token, "late-1")
    bearer = bearer_token(backend)

    def patch(header: str, body: dict[str, Any]) -> requests.Response:
        headers = {"Authorization": f"Bearer {bearer}", wire.RETIRE_HEADER: header}
        return requests.patch(
            f"{backend.url}{TOKENS_PATH}/{old.token}", json=body, headers=headers, timeout=30
        )

    refused = patch("idle-for=3600", {"tokenEnabled": 0})
    assert refused.status_code == 409, refused.text
    assert (
        "'ret-c' is in use: 1 agent enrolled with it checked in within 1 hour"
        in (refused.json()["message"])
    )
    assert client.agent_tokens.get(old.token).enabled

    for header, body in (
        ("idle-for=0", {"tokenEnabled": 0}),
        ("idle for a week", {"tokenEnabled": 0}),
        ("idle-for=60", {"tokenAlias": "ret-c2"}),
        ("idle-for=60", {"tokenEnabled": 1}),
    ):
        answer = patch(header, body)
        assert answer.status_code == 400, (header, answer.text)
        assert wire.RETIRE_HEADER in answer.json()["message"]

    forced = patch("idle-for=3600; force", {"tokenEnabled": 0})
    assert forced.status_code == 200, forced.text
    assert forced.json()["data"]["tokenEnabled"] == 0
    (forced_event,) = [e for e in audit_events(backend, "ret-c") if e["action"] == "token.retired"]
    assert forced_event["detail"].startswith("forced: 1 agent checked in")


def test_cli_retire_checks_refuses_and_retires(
    backend: Backend, client: Client, agent_connection: AgentConnection
) -> None:
    old = client.agent_tokens.create("ret-d")
    mid = agent_connection.enroll(old.token, "cli-1").mid

    def retire(*args: str) -> subprocess.CompletedProcess[str]:
        result = token_cli(backend.url, backend, "retire", "ret-d", *args)
        assert isinstance(result, subprocess.CompletedProcess)
        return result

    check = retire("--idle-for", "1h", "--check")
    assert check.returncode == 1
    assert "1 agent enrolled with 'ret-d' checked in within the last 1 hour" in check.stderr
    assert "(cli-1)" in check.stderr
    assert retire("--idle-for", "1h").returncode == 1
    assert client.agent_tokens.get(old.token).enabled

    assert retire("--idle-for", "soon").returncode == 2
    assert retire("--force", "--check").returncode == 2

    agent_connection.checkin(old.token, mid)
    wait_past(datetime.now(UTC), IDLE)
    check = retire("--idle-for", "2s", "--check")
    assert check.returncode == 0, check.stderr
    assert "it can be retired" in check.stdout
    assert client.agent_tokens.get(old.token).enabled  # a check changes nothing

    done = retire("--idle-for", "2s", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["changed"], report["forced"], report["token"]["tokenEnabled"]) == (
        True,
        False,
        0,
    )
    assert report["token"]["accessToken"] is None
    again = retire("--idle-for", "2s")
    assert again.returncode == 0
    assert "disabled already: nothing changed" in again.stderr

"""Rotation against a real backend: ``rotate`` makes exactly one successor, however often it is
run and wherever it is interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import pytest
from stalling_proxy import StallingProxy

from lacework_tokens import AgentAccessToken, Client, ConflictError, wire
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

"""The Python examples, each run as a user would: a separate process with LW_* variables."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lacework_tokens import AgentConfig, PermissionDeniedError, wire
from lacework_tokens.enrollment import AgentConnection
from lacework_tokens.testing import Backend, run_backend

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with run_backend(tmp_path_factory.mktemp("examples-backend")) as running:
        yield running


def run_example(
    backend: Backend, script: str, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env.update(backend.env())
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_quickstart_runs_the_lifecycle_and_cleans_up(backend: Backend) -> None:
    result = run_example(backend, "quickstart.py", "--name", "qs-example")
    assert result.returncode == 0, result.stderr
    for step in ("created:", "found:", "updated:", "disabled:", "enabled:", "deleted:"):
        assert step in result.stdout
    with backend.client() as client:
        assert client.agent_tokens.find("qs-example") is None
        leftovers = [t for t in client.agent_tokens.list() if t.name.startswith("qs-example-")]
    assert len(leftovers) == 1
    assert re.fullmatch(r"qs-example-[a-z0-9]{5}-deleted", leftovers[0].name)
    assert leftovers[0].enabled is False
    assert leftovers[0].token not in result.stdout


def test_quickstart_keep_leaves_the_token(backend: Backend) -> None:
    result = run_example(backend, "quickstart.py", "--name", "qs-kept", "--keep")
    assert result.returncode == 0, result.stderr
    with backend.client() as client:
        kept = client.agent_tokens.find("qs-kept")
    assert kept is not None and kept.enabled


def test_import_token_finds_a_token_by_value(backend: Backend) -> None:
    with backend.client() as client:
        token = client.agent_tokens.create("to-import", description="imported")
    result = run_example(backend, "import_token.py", extra_env={"LW_AGENT_TOKEN": token.token})
    assert result.returncode == 0, result.stderr
    assert "imported 'to-import'" in result.stdout
    assert wire.mask(token.token) in result.stdout
    assert token.token not in result.stdout

    unknown = run_example(backend, "import_token.py", "0" * 56)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: [404]")
    assert run_example(backend, "import_token.py").returncode == 2


def agents_cli(backend: Backend, state_dir: Path, *args: str) -> str:
    """``lacework-tokens agent …`` as the machines of a fleet run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env.update(backend.env(), LW_AGENT_STATE_DIR=str(state_dir))
    result = subprocess.run(
        [sys.executable, "-m", "lacework_tokens", "agent", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_rotation_moves_a_fleet_and_retires_the_old_token_only_once_it_is_idle(
    backend: Backend, tmp_path: Path
) -> None:
    with backend.client() as client:
        old = client.agent_tokens.create("py-rot", description="k8s", max_enrollments=10)
    # A fleet of three simulated agents uses the old token.
    simulated = agents_cli(backend, tmp_path / "fleet", "simulate", old.token, "--count", "3")
    fleet = re.search(r"mids (\d+) to", simulated)
    assert fleet is not None, simulated
    old_fleet_mid = int(fleet.group(1))
    config_path = tmp_path / "etc" / "lacework" / "config.json"
    rotate = ("py-rot", "--idle-for", "2s", "--config-out", str(config_path), "--show-token")

    first = run_example(backend, "rotation.py", *rotate)
    assert first.returncode == 3, first.stderr  # waiting for the agents
    report = json.loads(first.stdout)
    assert report["state"] == "waiting" and report["successorCreated"] is True
    assert sorted(report["activeAgents"]) == ["sim-1", "sim-2", "sim-3"]
    assert report["old"]["enabled"] is True and report["new"]["name"] == "py-rot-v2"
    new_token = report["new"]["token"]
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    assert AgentConfig.read(config_path).token == new_token

    # Run again before anything moved: the same successor, still waiting, nothing else made.
    again = run_example(backend, "rotation.py", *rotate)
    assert again.returncode == 3, again.stderr
    assert json.loads(again.stdout)["successorCreated"] is False
    assert json.loads(again.stdout)["new"]["token"] == new_token

    # The machines pick up the new config.json and enroll with the token it holds.
    delivered = AgentConfig.read(config_path).token
    for host in ("sim-1", "sim-2", "sim-3"):
        agents_cli(backend, tmp_path / "moved", "enroll", delivered, "--hostname", host)
    with backend.client() as client:
        last_old = client.agent_tokens.usage(old.token).last_checkin
    assert last_old is not None
    time.sleep(max(0.0, (last_old + timedelta(seconds=2.3) - datetime.now(UTC)).total_seconds()))

    done = run_example(backend, "rotation.py", *rotate)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["state"], report["forced"], report["activeAgents"]) == ("retired", False, [])
    assert report["old"]["enabled"] is False and report["new"]["enabled"] is True

    # Once more: retired before, nothing changes.
    with backend.client() as client:
        retired = client.agent_tokens.get(old.token)
    final = run_example(backend, "rotation.py", *rotate)
    assert final.returncode == 0, final.stderr
    assert json.loads(final.stdout)["state"] == "retired"
    with backend.client() as client:
        assert client.agent_tokens.get(old.token) == retired
        names = sorted(t.name for t in client.agent_tokens.list() if t.name.startswith("py-rot"))
        assert names == ["py-rot", "py-rot-v2"]
        moved = client.agent_tokens.usage(new_token)
        successor = client.agent_tokens.find("py-rot-v2")
    assert moved.enrolled == 3
    assert successor is not None and successor.max_enrollments == 10

    # The old token now locks out an agent that did not move; the moved ones work.
    with AgentConnection(backend.url) as agent:
        with pytest.raises(PermissionDeniedError):
            agent.checkin(old.token, old_fleet_mid)
        assert agent.checkin(new_token, moved_mid(tmp_path / "moved")).uses(new_token)


def moved_mid(state_dir: Path) -> int:
    """The mid of one agent enrolled from ``state_dir`` (its saved config.json names it)."""
    saved = next(state_dir.rglob("*.json"))
    mid: int = json.loads(saved.read_text())["mid"]
    return mid


def test_rotation_of_an_unknown_name_fails_cleanly(backend: Backend) -> None:
    result = run_example(backend, "rotation.py", "no-such-token")
    assert result.returncode == 1
    assert "no-such-token" in result.stderr
    assert "Traceback" not in result.stderr

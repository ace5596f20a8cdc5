"""The Python examples, each run as a user would: a separate process with LW_* variables."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lacework_tokens import wire
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


def test_rotation_moves_the_name_to_an_enabled_successor(backend: Backend) -> None:
    with backend.client() as client:
        old = client.agent_tokens.create("rotate-me", description="k8s", os="linux")
    result = run_example(backend, "rotation.py", "rotate-me", "--show-token")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["old"]["enabled"] is False
    assert report["new"]["enabled"] is True
    assert report["new"]["name"] == "rotate-me"

    with backend.client() as client:
        successor = client.agent_tokens.find("rotate-me")
        retired = client.agent_tokens.get(old.token)
    assert successor is not None
    assert successor.token != old.token
    assert successor.token == report["new"]["token"]
    assert (successor.enabled, successor.description, successor.os) == (True, "k8s", "linux")
    assert retired.enabled is False
    assert re.fullmatch(r"rotate-me-retired-\d{14}", retired.name)
    # The successor existed, enabled, before the old token was disabled.
    assert successor.created_time <= retired.last_updated_time


def test_rotation_of_an_unknown_name_fails_cleanly(backend: Backend) -> None:
    result = run_example(backend, "rotation.py", "no-such-token")
    assert result.returncode == 1
    assert "no-such-token" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_rotation_that_cannot_finish_leaves_nothing_behind(backend: Backend) -> None:
    """A second rotation within the same second needs the names the first one used."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    with backend.client() as client:
        old = client.agent_tokens.create("rotate-twice", description="k8s")
        # The names a rotation of this second (or the next few) would retire the old token to.
        for seconds in range(10):
            stamp = (now + timedelta(seconds=seconds)).strftime("%Y%m%d%H%M%S")
            client.agent_tokens.create(f"rotate-twice-retired-{stamp}", enabled=False)
    result = run_example(backend, "rotation.py", "rotate-twice")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "exists already" in line and "nothing changed" in line
    assert result.stdout == ""
    with backend.client() as client:
        current = client.agent_tokens.find("rotate-twice")
        leftovers = [t.name for t in client.agent_tokens.list() if "rotate-twice-next" in t.name]
    assert current is not None and current.token == old.token and current.enabled
    assert leftovers == []

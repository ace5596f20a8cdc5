"""The SDK installs alone: with only its own dependencies it runs the token lifecycle and the
``token`` command, and the commands that need an extra say which one.

The lone environment is a venv without pip whose site-packages link exactly the distributions the
package metadata requires without extras (resolved from ``importlib.metadata``, so a dependency
that pyproject.toml forgets shows up here), and the package source. Nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import lacework_tokens
from lacework_tokens.testing import Backend, run_backend

DISTRIBUTION = "lacework-tokens"
# Top-level modules of the extras: none may be importable where only the SDK is installed.
EXTRA_MODULES = ("uvicorn", "httptools", "cryptography", "grpc", "tf", "msgpack", "psycopg")

# The five-line story of the README, then what it could import and what it loaded; the extras'
# module names come as arguments.
STORY = textwrap.dedent(
    """
    import importlib.util, json, sys

    from lacework_tokens import Client

    with Client.from_env() as client:
        token = client.agent_tokens.create("alone", description="only the SDK's dependencies")
        client.agent_tokens.disable(token.token)
        deleted = client.agent_tokens.soft_delete(token.token)

    faces = ("lacework_tokens.server", "lacework_tokens.provider")
    print(json.dumps({
        "token": token.token,
        "deleted": deleted.name,
        "enabled": deleted.enabled,
        "importable": [m for m in sys.argv[1:] if importlib.util.find_spec(m) is not None],
        "loaded": sorted(m for m in sys.modules if m.startswith(faces)),
    }))
    """
)


def sdk_distributions() -> set[str]:
    """The distributions ``pip install lacework-tokens`` brings in (no extras), recursively."""
    wanted = {canonicalize_name(DISTRIBUTION)}
    pending = [DISTRIBUTION]
    while pending:
        for text in metadata.requires(pending.pop()) or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            name = canonicalize_name(requirement.name)
            if name not in wanted:
                wanted.add(name)
                pending.append(requirement.name)
    wanted.discard(canonicalize_name(DISTRIBUTION))
    return wanted


def top_level_entries(distribution: str) -> set[Path]:
    """The files and directories a distribution installed at the top of site-packages."""
    found = metadata.distribution(distribution)
    entries: set[Path] = set()
    for file in found.files or []:
        first = file.parts[0]
        if first in ("..", "__pycache__") or first.endswith((".dist-info", ".egg-info")):
            continue
        entries.add(Path(str(found.locate_file(first))))
    return entries


@pytest.fixture(scope="module")
def lone_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("sdk-alone") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [python, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    for distribution in sorted(sdk_distributions()):
        for entry in top_level_entries(distribution):
            (site_packages / entry.name).symlink_to(entry)
    (site_packages / "lacework_tokens").symlink_to(Path(lacework_tokens.__file__).parent)
    return python


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with run_backend(tmp_path_factory.mktemp("sdk-alone-backend")) as running:
        yield running


def run_alone(
    python: Path, home: Path, backend: Backend, *args: str
) -> subprocess.CompletedProcess[str]:
    # -I: no PYTHONPATH, no user site, not the working directory: only the venv's site-packages.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **backend.env()}
    return subprocess.run(
        [python, "-I", *args], env=env, cwd=home, capture_output=True, text=True, timeout=120
    )


def test_the_sdk_story_runs_with_only_the_sdks_dependencies(
    lone_python: Path, backend: Backend, tmp_path: Path
) -> None:
    assert sdk_distributions() >= {"requests", "attrs", "cattrs", "tenacity"}
    result = run_alone(lone_python, tmp_path, backend, "-c", STORY, *EXTRA_MODULES)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["importable"] == []
    assert outcome["loaded"] == []
    assert re.fullmatch(r"alone-[a-z0-9]{5}-deleted", outcome["deleted"])
    assert outcome["enabled"] is False
    with backend.client() as client:
        seen = client.agent_tokens.get(outcome["token"])
    assert (seen.name, seen.enabled) == (outcome["deleted"], False)


def test_the_token_command_runs_with_only_the_sdks_dependencies(
    lone_python: Path, backend: Backend, tmp_path: Path
) -> None:
    with backend.client() as client:
        made = client.agent_tokens.create("alone-cli", description="listed without the extras")
    result = run_alone(lone_python, tmp_path, backend, "-m", "lacework_tokens", "token", "list")
    assert result.returncode == 0, result.stderr
    assert "alone-cli" in result.stdout
    assert made.token not in result.stdout  # masked


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        (("serve", "--port", "0"), "server"),
        (("keys", "list"), "server"),
        (("audit",), "server"),
        (("terraform", "install", "--mirror", "mirror"), "terraform"),
    ],
    ids=["serve", "keys", "audit", "terraform-install"],
)
def test_a_command_that_needs_an_extra_names_it(
    lone_python: Path, backend: Backend, tmp_path: Path, command: tuple[str, ...], extra: str
) -> None:
    result = run_alone(lone_python, tmp_path, backend, "-m", "lacework_tokens", *command)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"lacework-tokens {command[0]}: error: ")
    assert f"needs the '{extra}' extra" in line
    assert "-m pip install " in line and f"[{extra}]" in line
    assert not (tmp_path / "mirror").exists()  # nothing half-installed


def test_using_the_sdk_loads_neither_the_server_nor_the_plugin(backend: Backend) -> None:
    # In the full development environment, where every extra could be imported.
    script = textwrap.dedent(
        """
        import json, sys
        import lacework_tokens
        from lacework_tokens import Client, SearchFilter, Expression, errors

        with Client.from_env() as client:
            client.agent_tokens.search([SearchFilter("tokenAlias", Expression.EQ, "nobody")])
            try:
                client.agent_tokens.get("0" * 56)
            except errors.NotFoundError:
                pass
        print(json.dumps(sorted(sys.modules)))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **backend.env()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    heavy = [
        name
        for name in loaded
        if name.startswith(("lacework_tokens.server", "lacework_tokens.provider"))
        or name.split(".")[0] in EXTRA_MODULES
    ]
    assert heavy == []
    assert "lacework_tokens.client" in loaded

"""``lacework-tokens token config|install-command`` against a real backend, as a user runs them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lacework_tokens import AgentAccessToken, AgentConfig, wire
from lacework_tokens.testing import Backend, run_backend


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with run_backend(tmp_path_factory.mktemp("delivery-backend")) as running:
        yield running


@pytest.fixture(scope="module")
def prod(backend: Backend) -> AgentAccessToken:
    with backend.client() as client:
        return client.agent_tokens.create("delivery-prod", description="k8s production")


def token_cli(
    backend: Backend, *args: str, umask: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env.update(backend.env())

    def set_umask() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run(
        [sys.executable, "-m", "lacework_tokens", "token", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # A umask of 0 would leave new files world-readable: the mode must be the CLI's own.
        preexec_fn=set_umask,
    )


def test_config_prints_the_agent_config_without_the_token_by_default(
    backend: Backend, prod: AgentAccessToken
) -> None:
    result = token_cli(
        backend,
        "config",
        "delivery-prod",
        "--server-url",
        "https://api.fra.lacework.net",
        "--tag",
        "env=prod",
        "--tag",
        "team=payments",
    )
    assert result.returncode == 0, result.stderr
    assert prod.token not in result.stdout + result.stderr
    assert json.loads(result.stdout) == {
        "tokens": {"AccessToken": None},
        "serverurl": "https://api.fra.lacework.net",
        "tags": {"env": "prod", "team": "payments"},
    }
    assert "--show-token" in result.stderr and "-o FILE" in result.stderr


def test_config_by_value_with_show_token_prints_the_token(
    backend: Backend, prod: AgentAccessToken
) -> None:
    result = token_cli(backend, "config", prod.token, "--show-token", "--autoupgrade", "disable")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "tokens": {"AccessToken": prod.token},
        "autoupgrade": "disable",
    }


def test_config_output_file_is_written_0600_with_the_token(
    backend: Backend, prod: AgentAccessToken, tmp_path: Path
) -> None:
    path = tmp_path / "var" / "lib" / "lacework" / "config" / "config.json"
    result = token_cli(
        backend,
        "config",
        "delivery-prod",
        "--server-url",
        "https://api.lacework.net",
        "-o",
        str(path),
        umask=0,
    )
    assert result.returncode == 0, result.stderr
    assert prod.token not in result.stdout + result.stderr
    assert result.stdout == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = AgentConfig.read(path)
    assert written.token == prod.token
    assert written.server_url == "https://api.lacework.net"
    assert "mode 0600" in result.stderr


def test_config_output_updates_an_existing_file_in_place(
    backend: Backend, prod: AgentAccessToken, tmp_path: Path
) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"tokens": {"accesstoken": "old"}, "perfmode": "lite"}\n')
    path.chmod(0o644)
    result = token_cli(backend, "config", "delivery-prod", "-o", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(path.read_text()) == {
        "tokens": {"AccessToken": prod.token},
        "perfmode": "lite",
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "other properties kept" in result.stderr


def test_config_of_a_disabled_token_warns(backend: Backend) -> None:
    with backend.client() as client:
        off = client.agent_tokens.create("delivery-off", enabled=False)
    result = token_cli(backend, "config", "delivery-off")
    assert result.returncode == 0, result.stderr
    assert "'delivery-off' is disabled" in result.stderr
    assert off.token not in result.stdout


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (("config", "no-such-token"), 1, "No agent access token is named 'no-such-token'"),
        (("config", "0" * 56), 1, f"No agent access token is named '{wire.mask('0' * 56)}'"),
        (("config", "delivery-prod", "--tag", "novalue"), 2, "--tag takes NAME=VALUE"),
        (("config", "delivery-prod", "--server-url", "api.lacework.net"), 2, "server URL"),
        (("install-command", "no-such-token"), 1, "No agent access token"),
        (
            ("install-command", "delivery-prod", "--server-url", "https://127.0.0.1:8080"),
            2,
            "install.sh accepts only a server URL",
        ),
    ],
)
def test_refusals_are_one_line_and_a_status(
    backend: Backend, prod: AgentAccessToken, args: tuple[str, ...], status: int, message: str
) -> None:
    result = token_cli(backend, *args)
    assert result.returncode == status, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_install_command_prints_the_line_masked_unless_asked(
    backend: Backend, prod: AgentAccessToken
) -> None:
    masked = token_cli(backend, "install-command", "delivery-prod")
    assert masked.returncode == 0, masked.stderr
    assert masked.stdout.strip() == (
        "curl -sSL https://packages.lacework.net/install.sh | sudo sh -s -- "
        + wire.mask(prod.token)
    )
    assert "--show-token" in masked.stderr

    full = token_cli(
        backend,
        "install-command",
        "delivery-prod",
        "--server-url",
        "https://api.fra.lacework.net",
        "--show-token",
    )
    assert full.returncode == 0, full.stderr
    assert full.stdout.strip() == (
        "curl -sSL https://packages.lacework.net/install.sh | sudo sh -s -- "
        f"{prod.token} -U https://api.fra.lacework.net"
    )


def test_install_command_refuses_a_windows_token(backend: Backend) -> None:
    with backend.client() as client:
        client.agent_tokens.create("delivery-windows", os="windows")
    result = token_cli(backend, "install-command", "delivery-windows")
    assert result.returncode == 1
    assert "windows token" in result.stderr and "config.json" in result.stderr


@pytest.mark.parametrize("command", ["config", "install-command"])
def test_help(backend: Backend, command: str) -> None:
    result = token_cli(backend, command, "--help")
    assert result.returncode == 0
    assert f"lacework-tokens token {command}" in result.stdout
    assert "--show-token" in result.stdout and "--server-url" in result.stdout

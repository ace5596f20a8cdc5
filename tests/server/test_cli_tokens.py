"""``lacework-tokens token ...`` against a real backend, as a user runs it."""

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

COMMANDS = ("list", "show", "create", "update", "enable", "disable", "delete")
LW_VARIABLES = (
    "LW_ACCOUNT",
    "LW_SUBACCOUNT",
    "LW_API_KEY",
    "LW_API_SECRET",
    "LW_API_TOKEN",
    "LW_PROFILE",
    "LW_API_SERVER_URL",
    "LW_ORGANIZATION",
)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with run_backend(tmp_path_factory.mktemp("cli-backend")) as running:
        yield running


def cli(
    *args: str, env: dict[str, str] | None = None, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``lacework-tokens`` as a separate process with only the given LW_* variables."""
    child_env = {k: v for k, v in os.environ.items() if k not in LW_VARIABLES}
    child_env.update(env or {})
    if home is not None:
        child_env["HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "lacework_tokens", *args],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def token_cli(
    backend: Backend, *args: str, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return cli("token", *args, env=backend.env(), home=home)


def test_create_list_show_update_enable_disable_delete(backend: Backend, tmp_path: Path) -> None:
    created = token_cli(backend, "create", "cli-prod", "--description", "k8s production")
    assert created.returncode == 0, created.stderr
    assert "cli-prod" in created.stdout
    assert "--show-token" in created.stderr  # how to reveal the masked value

    value = backend_token(backend, "cli-prod")
    assert value not in created.stdout
    assert wire.mask(value) in created.stdout

    listed = token_cli(backend, "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    # Lacework's CLI lists TOKEN, NAME, STATE; the rest are this project's additions.
    assert re.split(r"\s{2,}", header) == [
        "TOKEN", "NAME", "STATE", "OS", "CREATED AT", "UPDATED AT",
        "AGENTS", "ACTIVE (24H)", "LAST CHECK-IN",
    ]  # fmt: skip
    row = next(r for r in rows if r.split()[1] == "cli-prod")
    assert row.split()[2] == "Enabled"
    # A new token: no agent has enrolled with it yet.
    assert re.split(r"\s{2,}", row)[-3:] == ["0", "0", "never"]
    assert wire.mask(value) in row
    assert value not in listed.stdout

    shown = token_cli(backend, "show", "--name", "cli-prod", "--show-token")
    assert shown.returncode == 0, shown.stderr
    assert value in shown.stdout
    assert "k8s production" in shown.stdout

    updated = token_cli(backend, "update", value, "--name", "cli-production")
    assert updated.returncode == 0, updated.stderr
    assert "cli-production" in updated.stdout
    assert value not in updated.stdout

    disabled = token_cli(backend, "disable", value, "--json")
    assert json.loads(disabled.stdout)["tokenEnabled"] == 0
    enabled = token_cli(backend, "enable", value, "--json")
    assert json.loads(enabled.stdout)["tokenEnabled"] == 1

    deleted = token_cli(backend, "delete", value, "--json")
    assert deleted.returncode == 0, deleted.stderr
    gone = json.loads(deleted.stdout)
    assert gone["tokenEnabled"] == 0
    assert re.fullmatch(r"cli-production-[a-z0-9]{5}-deleted", gone["tokenAlias"])
    assert token_cli(backend, "create", "cli-production").returncode == 0


def backend_token(backend: Backend, name: str) -> str:
    with backend.client() as client:
        found = client.agent_tokens.find(name)
    assert found is not None
    return found.token


def test_list_json_masks_tokens_unless_asked(backend: Backend) -> None:
    assert token_cli(backend, "create", "cli-json", "--os", "windows", "--disabled").returncode == 0
    value = backend_token(backend, "cli-json")

    hidden = token_cli(backend, "list", "--json")
    masked = json.loads(hidden.stdout)
    entry = next(t for t in masked if t["tokenAlias"] == "cli-json")
    # A hidden value must not look like a value: null, with the reason on stderr.
    assert entry["accessToken"] is None
    assert "accessToken is null" in hidden.stderr and "--show-token" in hidden.stderr
    assert wire.mask(value) not in hidden.stdout
    assert entry["tokenEnabled"] == 0
    assert entry["props"]["os"] == "windows"

    revealed = json.loads(token_cli(backend, "list", "--json", "--show-token").stdout)
    assert value in {t["accessToken"] for t in revealed}


def test_failures_are_one_line_on_stderr_without_a_traceback(backend: Backend) -> None:
    unknown = "0" * 56
    missing = token_cli(backend, "show", unknown)
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert missing.stderr.startswith("lacework-tokens token show: error: [404]")
    assert len(missing.stderr.strip().splitlines()) == 1
    assert unknown not in missing.stderr

    assert token_cli(backend, "create", "cli-dup").returncode == 0
    duplicate = token_cli(backend, "create", "cli-dup")
    assert duplicate.returncode == 1
    assert duplicate.stderr.startswith("lacework-tokens token create: error: [409]")
    assert "Traceback" not in duplicate.stderr

    by_name = token_cli(backend, "show", "--name", "no-such-name")
    assert by_name.returncode == 1
    assert "no-such-name" in by_name.stderr


def test_missing_configuration_names_the_variable(tmp_path: Path) -> None:
    result = cli("token", "list", home=tmp_path)
    assert result.returncode == 1
    assert "LW_ACCOUNT" in result.stderr
    assert str(tmp_path / ".lacework.toml") in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_secret_is_reported_without_the_secret(backend: Backend) -> None:
    wrong = "_not-the-secret-at-all"
    result = token_cli(backend, "--api-secret", wrong, "list")
    assert result.returncode == 1
    assert result.stderr.startswith("lacework-tokens token list: error: [401]")
    assert wrong not in result.stderr


def test_profile_and_options_configure_the_connection(backend: Backend, tmp_path: Path) -> None:
    (tmp_path / ".lacework.toml").write_text(
        f'[staging]\naccount = "{backend.account}"\napi_key = "{backend.api_key}"\n'
        f'api_secret = "{backend.api_secret}"\n'
    )
    env = {"LW_API_SERVER_URL": backend.url}
    before = cli("token", "--profile", "staging", "list", env=env, home=tmp_path)
    assert before.returncode == 0, before.stderr
    after = cli("token", "list", "--profile", "staging", env=env, home=tmp_path)
    assert after.returncode == 0, after.stderr
    # Options alone, without variables or profiles.
    explicit = cli(
        "token",
        "list",
        "--account",
        backend.account,
        "--api-key",
        backend.api_key,
        "--api-secret",
        backend.api_secret,
        "--base-url",
        backend.url,
        home=tmp_path / "empty",
    )
    assert explicit.returncode == 0, explicit.stderr
    absent = cli("token", "--profile", "prod", "list", env=env, home=tmp_path)
    assert absent.returncode == 1
    assert "profile [prod] not found" in absent.stderr


def test_usage_errors_exit_2(backend: Backend) -> None:
    assert token_cli(backend, "show").returncode == 2
    assert token_cli(backend, "update", "abc").returncode == 2
    assert token_cli(backend, "create").returncode == 2
    assert token_cli(backend).returncode == 2


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = cli("token", command, "--help")
    assert result.returncode == 0
    assert f"lacework-tokens token {command}" in result.stdout
    assert "--show-token" in result.stdout

"""The agent's ``config.json``, the install line and the Kubernetes Secret, as an agent,
install.sh and Kubernetes would read them."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from lacework_tokens import (
    AgentAccessToken,
    AgentConfig,
    agent_config,
    install_command,
    kubernetes_secret,
)
from lacework_tokens.delivery import CONFIG_PATHS, install_script_token_problem

TOKEN = "6f3a0c5e9b1d4a7f8e2c6b0a9d3f5e1c7b4a2d8f6e0c3b9a5d1f7e4c"  # 56 hex, as minted


def token_model(value: str = TOKEN, os_name: str = "linux") -> AgentAccessToken:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    return AgentAccessToken(
        token=value, name="prod", os=os_name, created_time=now, last_updated_time=now
    )


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets everyone read new files, to show the mode does not come from it."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- config.json content --------------------------------------------------------------------


def test_minimal_config_holds_only_the_token_under_the_install_script_spelling() -> None:
    config = agent_config(TOKEN)
    assert json.loads(config.to_json()) == {"tokens": {"AccessToken": TOKEN}}
    assert config.to_json().endswith("}\n")


def test_every_property_is_written_under_the_agent_names() -> None:
    config = agent_config(
        token_model(),
        server_url="https://api.fra.lacework.net",
        proxy_url="http://10.10.10.10:3128",
        autoupgrade=False,
        tags={"env": "prod", "team": "payments"},
    )
    assert json.loads(config.to_json()) == {
        "tokens": {"AccessToken": TOKEN},
        "serverurl": "https://api.fra.lacework.net",
        "proxyurl": "http://10.10.10.10:3128",
        "autoupgrade": "disable",
        "tags": {"env": "prod", "team": "payments"},
    }
    assert agent_config(TOKEN, autoupgrade=True).as_dict()["autoupgrade"] == "enable"


def test_the_token_never_shows_in_repr_and_masked_hides_it() -> None:
    config = agent_config(TOKEN, server_url="https://api.lacework.net")
    assert TOKEN not in repr(config)
    masked = config.masked()
    assert TOKEN not in masked.to_json()
    assert masked.as_dict()["serverurl"] == "https://api.lacework.net"


@pytest.mark.parametrize(
    "text",
    [
        # install.sh and Lacework's Terraform modules
        '{"tokens": {"AccessToken": "%s"}, "serverurl": "https://api.lacework.net"}',
        # Lacework's documentation
        '{"tokens": {"accesstoken": "%s"}, "serverurl": "https://api.lacework.net"}',
    ],
)
def test_both_spellings_of_the_token_key_are_read(text: str) -> None:
    config = AgentConfig.from_json(text % TOKEN)
    assert config.token == TOKEN
    assert config.server_url == "https://api.lacework.net"


def test_a_config_without_a_token_is_refused() -> None:
    with pytest.raises(ValueError, match="AccessToken"):
        AgentConfig.from_json('{"serverurl": "https://api.lacework.net"}')


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"server_url": "api.lacework.net"}, "server URL"),
        ({"server_url": "https://api.lacework.net/ x"}, "server URL"),
        ({"proxy_url": "ftp://proxy:21"}, "proxy URL"),
        ({"tags": {"": "x"}}, "tag name"),
        ({"tags": {"env": "a\nb"}}, "control characters"),
    ],
)
def test_values_an_agent_could_not_use_are_refused(
    arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        agent_config(TOKEN, **arguments)  # type: ignore[arg-type]


def test_an_empty_or_unprintable_token_is_refused() -> None:
    for value in ("", " x", "a\tb"):
        with pytest.raises(ValueError, match="token"):
            agent_config(value)


def test_config_paths_are_the_documented_ones() -> None:
    assert str(CONFIG_PATHS["linux"]) == "/var/lib/lacework/config/config.json"
    assert str(CONFIG_PATHS["windows"]) == "C:\\ProgramData\\Lacework\\config.json"


# --- writing the file -----------------------------------------------------------------------


def test_a_new_file_is_owner_only_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "lacework" / "config" / "config.json"
    assert agent_config(TOKEN).write(path) is False
    assert mode(path) == 0o600
    assert AgentConfig.read(path).token == TOKEN
    # No draft is left beside it.
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]


def test_an_existing_file_keeps_its_other_properties_and_loses_the_old_token(
    tmp_path: Path, open_umask: None
) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "tokens": {"accesstoken": "old-token-value"},
                "serverurl": "https://api.lacework.net",
                "fim": {"mode": "disable"},
                "perfmode": "lite",
                "tags": {"env": "prod", "owner": "sre"},
            }
        )
    )
    path.chmod(0o644)
    updated = agent_config(TOKEN, tags={"env": "staging"}).write(path)
    assert updated is True
    assert mode(path) == 0o600
    data = json.loads(path.read_text())
    assert data == {
        "tokens": {"AccessToken": TOKEN},
        "serverurl": "https://api.lacework.net",
        "fim": {"mode": "disable"},
        "perfmode": "lite",
        "tags": {"env": "staging", "owner": "sre"},
    }
    assert "old-token-value" not in path.read_text()


def test_keep_existing_false_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"tokens": {"AccessToken": "old"}, "perfmode": "lite"}')
    agent_config(TOKEN).write(path, keep_existing=False)
    assert json.loads(path.read_text()) == {"tokens": {"AccessToken": TOKEN}}


def test_an_existing_file_that_is_not_json_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{ not json")
    with pytest.raises(ValueError, match="not JSON"):
        agent_config(TOKEN).write(path)
    assert path.read_text() == "{ not json"


# --- the install line -----------------------------------------------------------------------


def test_install_line_pipes_the_script_to_sh_with_the_token_and_server_url() -> None:
    assert install_command(TOKEN) == (
        f"curl -sSL https://packages.lacework.net/install.sh | sudo sh -s -- {TOKEN}"
    )
    assert install_command(token_model(), server_url="https://api.fra.lacework.net") == (
        "curl -sSL https://packages.lacework.net/install.sh | sudo sh -s -- "
        f"{TOKEN} -U https://api.fra.lacework.net"
    )


@pytest.mark.parametrize(
    "value",
    ["a", "-abc", "abc-", "ab_cd", "ab cd", "a" * 58, "ab;rm -rf /", "$(id)"],
)
def test_install_line_refuses_tokens_install_sh_would_drop(value: str) -> None:
    assert install_script_token_problem(value) is not None
    with pytest.raises(ValueError, match=r"install\.sh takes only"):
        install_command(value)


@pytest.mark.parametrize("value", ["ab", "a-b", "A" * 57, TOKEN])
def test_install_line_takes_what_install_sh_takes(value: str) -> None:
    assert install_script_token_problem(value) is None


@pytest.mark.parametrize(
    "url", ["http://api.lacework.net", "https://127.0.0.1:8080", "https://lacework.net.evil"]
)
def test_install_line_refuses_server_urls_install_sh_would_refuse(url: str) -> None:
    with pytest.raises(ValueError, match=r"https://….lacework.net"):
        install_command(TOKEN, server_url=url)


def test_install_line_is_for_linux_tokens() -> None:
    with pytest.raises(ValueError, match="windows token"):
        install_command(token_model(os_name="windows"))


# --- the Kubernetes Secret ------------------------------------------------------------------


def test_kubernetes_secret_holds_the_token_where_lacework_s_daemonset_reads_it() -> None:
    config = agent_config(TOKEN, server_url="https://api.fra.lacework.net", tags={"env": "k8s"})
    manifest = yaml.safe_load(kubernetes_secret(config))
    assert {key: manifest[key] for key in ("apiVersion", "kind", "type")} == {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
    }
    assert manifest["metadata"] == {"name": "lacework-agent-access-token"}
    data = {key: base64.b64decode(value).decode() for key, value in manifest["data"].items()}
    # The DaemonSet's LaceworkAccessToken, and config.json byte for byte as the SDK writes it.
    assert data == {"agent-access-token": TOKEN, "config.json": config.to_json()}
    assert AgentConfig.from_json(data["config.json"]) == config


def test_kubernetes_secret_takes_a_name_and_a_namespace() -> None:
    manifest = yaml.safe_load(
        kubernetes_secret(agent_config(TOKEN), name="agents.prod-v2", namespace="lacework")
    )
    assert manifest["metadata"] == {"name": "agents.prod-v2", "namespace": "lacework"}


@pytest.mark.parametrize(
    ("name", "namespace", "refused"),
    [
        ("Lacework", None, "a Secret's name"),
        ("lacework-", None, "a Secret's name"),
        ("a" * 254, None, "a Secret's name"),
        ("x\nkind: ConfigMap", None, "a Secret's name"),
        ("lacework", "kube.system", "a namespace"),
        ("lacework", "a" * 64, "a namespace"),
        ("lacework", "", "a namespace"),
    ],
)
def test_kubernetes_secret_refuses_names_kubernetes_would_refuse(
    name: str, namespace: str | None, refused: str
) -> None:
    with pytest.raises(ValueError, match=refused):
        kubernetes_secret(agent_config(TOKEN), name=name, namespace=namespace)

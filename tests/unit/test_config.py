"""Configuration: explicit values > LW_* variables > ~/.lacework.toml profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from lacework_tokens import Client, errors
from lacework_tokens.config import resolve_settings

PROFILES = """
[default]
account = "default-acct"
api_key = "DEFAULT_KEY"
api_secret = "_default_secret_value"

[staging]
account = "staging-acct"
subaccount = "staging-child"
api_key = "STAGING_KEY"
api_secret = "_staging_secret_value"
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def write_profiles(home: Path, text: str = PROFILES) -> Path:
    path = home / ".lacework.toml"
    path.write_text(text)
    return path


def test_default_profile_is_used_without_variables(home: Path) -> None:
    write_profiles(home)
    settings = resolve_settings(environ={"HOME": str(home)})
    assert settings.account == "default-acct"
    assert settings.api_key == "DEFAULT_KEY"
    assert settings.api_secret == "_default_secret_value"
    assert settings.base_url == "https://default-acct.lacework.net"
    assert settings.profile == "default"


def test_lw_profile_selects_a_named_profile(home: Path) -> None:
    write_profiles(home)
    settings = resolve_settings(environ={"HOME": str(home), "LW_PROFILE": "staging"})
    assert settings.account == "staging-acct"
    assert settings.subaccount == "staging-child"
    assert settings.profile == "staging"


def test_profile_argument_beats_lw_profile(home: Path) -> None:
    write_profiles(home)
    settings = resolve_settings("default", environ={"HOME": str(home), "LW_PROFILE": "staging"})
    assert settings.account == "default-acct"


def test_variables_beat_the_profile_and_explicit_values_beat_variables(home: Path) -> None:
    write_profiles(home)
    environ = {"HOME": str(home), "LW_ACCOUNT": "env-acct", "LW_API_KEY": "ENV_KEY"}
    settings = resolve_settings(environ=environ)
    assert (settings.account, settings.api_key) == ("env-acct", "ENV_KEY")
    assert settings.api_secret == "_default_secret_value"  # still from the profile
    explicit = resolve_settings(account="given", environ=environ)
    assert (explicit.account, explicit.api_key) == ("given", "ENV_KEY")


def test_lw_api_server_url_sets_the_base_url(home: Path) -> None:
    environ = {
        "HOME": str(home),
        "LW_ACCOUNT": "acme",
        "LW_API_KEY": "K",
        "LW_API_SECRET": "S",
        "LW_API_SERVER_URL": "http://127.0.0.1:9999/",
    }
    assert resolve_settings(environ=environ).base_url == "http://127.0.0.1:9999"
    explicit = resolve_settings(base_url="http://other:1", environ=environ)
    assert explicit.base_url == "http://other:1"


def test_api_token_replaces_key_and_secret(home: Path) -> None:
    environ = {"HOME": str(home), "LW_ACCOUNT": "acme", "LW_API_TOKEN": "_static_bearer"}
    settings = resolve_settings(environ=environ)
    assert settings.api_token == "_static_bearer"
    assert settings.api_key is None


def test_organization_flag_from_variable(home: Path) -> None:
    environ = {"HOME": str(home), "LW_ACCOUNT": "a", "LW_API_TOKEN": "t", "LW_ORGANIZATION": "true"}
    assert resolve_settings(environ=environ).organization is True
    environ["LW_ORGANIZATION"] = "maybe"
    with pytest.raises(errors.ConfigurationError, match="LW_ORGANIZATION"):
        resolve_settings(environ=environ)


@pytest.mark.parametrize(
    ("environ", "missing", "variable"),
    [
        ({"LW_API_KEY": "K", "LW_API_SECRET": "_secret_a"}, "account", "LW_ACCOUNT"),
        ({"LW_ACCOUNT": "a", "LW_API_SECRET": "_secret_a"}, "api_key", "LW_API_KEY"),
        ({"LW_ACCOUNT": "a", "LW_API_KEY": "K"}, "api_secret", "LW_API_SECRET"),
    ],
)
def test_a_missing_setting_names_the_variable_and_the_profile_file(
    home: Path, environ: dict[str, str], missing: str, variable: str
) -> None:
    with pytest.raises(errors.ConfigurationError) as caught:
        resolve_settings(environ={"HOME": str(home), **environ})
    message = str(caught.value)
    assert missing in message
    assert variable in message
    assert str(home / ".lacework.toml") in message
    assert "_secret_a" not in message


def test_a_named_profile_that_does_not_exist_is_an_error(home: Path) -> None:
    write_profiles(home)
    with pytest.raises(errors.ConfigurationError, match=r"profile \[prod\] not found"):
        resolve_settings("prod", environ={"HOME": str(home)})


def test_a_named_profile_without_a_file_is_an_error(home: Path) -> None:
    with pytest.raises(errors.ConfigurationError, match="does not exist"):
        resolve_settings(environ={"HOME": str(home), "LW_PROFILE": "prod"})


def test_invalid_toml_is_reported_without_its_contents(home: Path) -> None:
    write_profiles(home, '[default]\napi_secret = "_leaky_secret\n')
    with pytest.raises(errors.ConfigurationError) as caught:
        resolve_settings(environ={"HOME": str(home)})
    assert "not valid TOML" in str(caught.value)
    assert "_leaky_secret" not in str(caught.value)


def test_a_non_string_setting_is_reported(home: Path) -> None:
    write_profiles(home, "[default]\naccount = 42\n")
    with pytest.raises(errors.ConfigurationError, match="account in profile"):
        resolve_settings(environ={"HOME": str(home)})


def test_settings_repr_hides_secrets(home: Path) -> None:
    write_profiles(home)
    settings = resolve_settings(environ={"HOME": str(home)})
    assert "_default_secret_value" not in repr(settings)


def test_client_from_env_uses_home_and_variables(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_profiles(home)
    for name in ("LW_ACCOUNT", "LW_API_KEY", "LW_API_SECRET", "LW_API_TOKEN", "LW_SUBACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("LW_PROFILE", "staging")
    monkeypatch.setenv("LW_API_SERVER_URL", "http://127.0.0.1:1")
    with Client.from_env(max_attempts=1) as client:
        assert client.account == "staging-acct"
        assert client.subaccount == "staging-child"
        assert client.base_url == "http://127.0.0.1:1"
        assert client.session.headers["Account-Name"] == "staging-child"
        assert client.max_attempts == 1
    with Client.from_env(account="override") as client:
        assert client.account == "override"

"""What the SDK tells a person when something is off: DNS, retries, URLs, accounts, sentences."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from sdk_fakes import (
    ACCESS_URL,
    API_KEY,
    API_SECRET,
    BASE_URL,
    TOKEN,
    TOKENS_URL,
    add_bearer,
    calls_to,
    make_client,
    token_wire,
)

from lacework_tokens import Client, errors, wire
from lacework_tokens.client import USER_PROFILE_PATH, RetryNotice
from lacework_tokens.config import ClientSettings, resolve_settings

PROFILE_URL = f"{BASE_URL}{USER_PROFILE_PATH}"


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def unresolvable(host: str) -> requests.exceptions.ConnectionError:
    """What ``requests`` raises when the resolver does not know ``host``."""
    return requests.exceptions.ConnectionError(
        socket.gaierror(socket.EAI_NONAME, f"Name or service not known: {host}")
    )


# --- DNS ------------------------------------------------------------------------------------


def test_a_host_that_does_not_resolve_is_named_at_once_without_retries(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LW_API_SERVER_URL", raising=False)
    url = "https://local.lacework.net/api/v2/access/tokens"
    rsps.add(responses.POST, url, body=unresolvable("local.lacework.net"))
    sleeps: list[float] = []
    client = Client("local", API_KEY, API_SECRET, sleep=sleeps.append)
    with pytest.raises(errors.TransportError) as caught:
        client.agent_tokens.list()
    message = str(caught.value)
    assert "cannot resolve the host name local.lacework.net (DNS)" in message
    assert "account 'local'" in message
    assert "LW_API_SERVER_URL=http://127.0.0.1:8080" in message
    assert "connection refused" not in message
    assert sleeps == []
    assert len(rsps.calls) == 1


def test_an_unresolvable_server_url_points_at_the_setting(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, "http://backend.invalid:8080/api/v2/access/tokens",
             body=unresolvable("backend.invalid"))  # fmt: skip
    sleeps: list[float] = []
    client = Client(
        "local", API_KEY, API_SECRET, base_url="http://backend.invalid:8080", sleep=sleeps.append
    )
    with pytest.raises(errors.TransportError) as caught:
        client.authenticate()
    assert "cannot resolve the host name backend.invalid (DNS)" in str(caught.value)
    assert "http://backend.invalid:8080 (LW_API_SERVER_URL" in str(caught.value)
    assert sleeps == []


# --- retries --------------------------------------------------------------------------------


def test_every_retry_is_told_to_on_retry_with_the_wait_ahead(
    rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, TOKENS_URL, body=requests.exceptions.ConnectionError("refused"))
    notices: list[RetryNotice] = []
    sleeps: list[float] = []
    client = make_client(sleeps, on_retry=notices.append, max_attempts=3)
    with (
        caplog.at_level(logging.INFO, "lacework_tokens.client"),
        pytest.raises(errors.TransportError) as caught,
    ):
        client.agent_tokens.list()
    assert [n.attempt for n in notices] == [1, 2]
    assert [n.wait for n in notices] == sleeps
    assert all(n.max_attempts == 3 and n.method == "GET" for n in notices)
    assert all(n.elapsed >= 0 for n in notices)
    assert "retrying in" in str(notices[0])
    assert "(attempt 2 of 3)" in str(notices[0])
    assert isinstance(notices[0].failure, errors.TransportError)
    assert len([r for r in caplog.records if "retrying in" in r.getMessage()]) == 2
    assert "gave up after 3 attempts in " in str(caught.value)


def test_a_library_hears_nothing_about_retries_unless_it_asks(
    rsps: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, TOKENS_URL, status=503, json={"message": "busy"})
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    assert make_client().agent_tokens.list() == []
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# --- the server URL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("127.0.0.1:8080", "has no scheme: write the server's URL in full, like http://127.0.0.1:8080"),
        ("localhost:8080", "like http://localhost:8080"),
        ("ftp://127.0.0.1:8080", "must start with http:// or https://"),
        ("http://", "names no valid host and port"),
        ("http://127.0.0.1:port", "names no valid host and port"),
    ],
)  # fmt: skip
def test_a_server_url_that_is_no_url_names_the_setting(url: str, expected: str) -> None:
    with pytest.raises(errors.ConfigurationError) as from_variable:
        resolve_settings(
            environ={"LW_ACCOUNT": "a", "LW_API_KEY": "k", "LW_API_SECRET": "s",
                     "LW_API_SERVER_URL": url, "HOME": "/nonexistent"}
        )  # fmt: skip
    assert str(from_variable.value).startswith(f"LW_API_SERVER_URL is '{url}'")
    assert expected in str(from_variable.value)
    with pytest.raises(errors.ConfigurationError) as from_argument:
        ClientSettings.given("a", "k", "s", base_url=url, environ={})
    assert str(from_argument.value).startswith(f"base_url is '{url}'")


def test_a_full_server_url_is_kept_without_its_trailing_slash() -> None:
    settings = ClientSettings.given("a", "k", "s", base_url="http://[::1]:8080/", environ={})
    assert settings.base_url == "http://[::1]:8080"


# --- sentences ------------------------------------------------------------------------------


def test_an_error_reads_as_a_clause_inside_a_longer_sentence() -> None:
    error = errors.error_for_status(401, "Invalid API key or secret.")
    assert error.message == "Invalid API key or secret."  # the server's text, as sent
    sentence = f"The server answered {error} while exchanging the API key."
    assert sentence == (
        "The server answered [401] Invalid API key or secret while exchanging the API key."
    )
    assert str(errors.TransportError("cut short…")) == "cut short…"
    assert str(errors.ConfigurationError("wait...")) == "wait..."


# --- the key's account ----------------------------------------------------------------------


def profile(url: str = "acme.lacework.net", *accounts: tuple[str, int]) -> dict[str, Any]:
    listed = accounts or (("ACME", 1), ("prod", 1), ("old", 0))
    return {
        "data": [
            {
                "username": "admin",
                "orgAccount": True,
                "url": url,
                "orgAdmin": True,
                "orgUser": False,
                "accounts": [
                    {"admin": True, "accountName": name, "custGuid": "C", "userGuid": "U",
                     "userEnabled": enabled}
                    for name, enabled in listed
                ],
            }
        ]
    }  # fmt: skip


def checking_client(account: str) -> Client:
    return Client(account, API_KEY, API_SECRET, base_url=BASE_URL, check_account=True,
                  sleep=lambda _: None)  # fmt: skip


def test_a_key_of_another_account_is_refused_naming_both(rsps: responses.RequestsMock) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, PROFILE_URL, json=profile())
    with pytest.raises(errors.ConfigurationError) as caught:
        checking_client("other").agent_tokens.list()
    message = str(caught.value)
    assert "the account is set to 'other'" in message
    assert f"API key {API_KEY} belongs to account 'acme' (sub-accounts: prod)" in message
    assert "set LW_ACCOUNT=acme" in message
    assert not calls_to(rsps, "GET", TOKENS_URL)


def test_a_sub_account_named_as_the_account_suggests_lw_subaccount(
    rsps: responses.RequestsMock,
) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, PROFILE_URL, json=profile())
    with pytest.raises(errors.ConfigurationError) as caught:
        checking_client("prod").authenticate()
    assert "set LW_ACCOUNT=acme and LW_SUBACCOUNT=prod" in str(caught.value)


def test_the_key_s_own_account_is_asked_about_once(rsps: responses.RequestsMock) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, PROFILE_URL, json=profile())
    rsps.add(responses.GET, TOKENS_URL, json={"data": [token_wire()]})
    client = checking_client("ACME")
    assert [t.token for t in client.agent_tokens.list()] == [TOKEN]
    assert [t.token for t in client.agent_tokens.list()] == [TOKEN]
    assert len(calls_to(rsps, "GET", PROFILE_URL)) == 1


def test_a_server_without_user_profile_is_not_held_against_the_key(
    rsps: responses.RequestsMock,
) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, PROFILE_URL, status=404, json={"message": "Not found."})
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    assert checking_client("other").agent_tokens.list() == []


def test_the_account_s_own_server_and_host_accounts_are_not_asked(
    rsps: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LW_API_SERVER_URL", raising=False)
    own = "https://other.lacework.net"
    rsps.add(responses.POST, f"{own}/api/v2/access/tokens", json={"token": "b",
             "expiresAt": "2099-01-01T00:00:00.000Z"}, status=201)  # fmt: skip
    rsps.add(responses.GET, f"{own}/api/v2/AgentAccessTokens", json={"data": []})
    Client("other", API_KEY, API_SECRET, check_account=True).agent_tokens.list()
    assert not [c for c in rsps.calls if USER_PROFILE_PATH in (c.request.url or "")]

    add_bearer(rsps)
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    checking_client("127.0.0.1:8443#").agent_tokens.list()
    assert not [c for c in rsps.calls if USER_PROFILE_PATH in (c.request.url or "")]


def test_from_env_checks_the_account(rsps: responses.RequestsMock) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, PROFILE_URL, json=profile("local.lacework.net", ("local", 1)))
    environ = {"LW_ACCOUNT": "other", "LW_API_KEY": API_KEY, "LW_API_SECRET": API_SECRET,
               "LW_API_SERVER_URL": BASE_URL, "HOME": "/nonexistent"}  # fmt: skip
    with pytest.raises(errors.ConfigurationError) as caught:
        Client.from_env(environ=environ, sleep=lambda _: None).authenticate()
    assert "'other'" in str(caught.value) and "'local'" in str(caught.value)
    assert calls_to(rsps, "POST", ACCESS_URL)


def test_user_profile_reads_lacework_s_shape() -> None:
    parsed = wire.parse(profile("https://ACME.lacework.net")["data"][0], wire.UserProfile)
    assert parsed.account_name == "acme"
    assert parsed.sub_account_names == ("prod",)  # own account and disabled ones left out
    assert parsed.accounts[2].user_enabled is False
    assert wire.converter.unstructure(parsed) == profile("https://ACME.lacework.net")["data"][0]

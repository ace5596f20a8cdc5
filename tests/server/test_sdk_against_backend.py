"""The SDK against a real backend process: the whole token lifecycle over HTTP."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from lacework_tokens import Client, Expression, SearchFilter, errors, wire
from lacework_tokens.testing import Backend, run_backend

FORWARDED_HEADERS = ("Authorization", "X-LW-UAKS", "Content-Type", "Account-Name", "Accept")


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with run_backend(tmp_path_factory.mktemp("sdk-backend")) as running:
        yield running


@pytest.fixture
def client(backend: Backend) -> Iterator[Client]:
    with backend.client() as opened:
        yield opened


def test_token_lifecycle(client: Client) -> None:
    tokens = client.agent_tokens
    created = tokens.create("life-prod", description="k8s production", os="linux")
    assert created.name == "life-prod"
    assert created.enabled is True
    assert len(created.token) >= 32

    assert tokens.get(created.token) == created
    assert tokens.import_token(created.token) == created
    assert tokens.find("life-prod") == created
    assert tokens.find("life-pro") is None
    assert created.token in {t.token for t in tokens.list()}

    renamed = tokens.update(created.token, name="life-production", description="moved")
    assert (renamed.name, renamed.description, renamed.os) == ("life-production", "moved", "linux")
    assert tokens.update(created.token, description="").description == ""
    assert tokens.get(created.token).os == "linux"  # props are merged, not replaced

    assert tokens.disable(created.token).enabled is False
    assert tokens.get(created.token).enabled is False
    assert tokens.enable(created.token).enabled is True

    deleted = tokens.soft_delete(created.token)
    assert deleted.enabled is False
    assert re.fullmatch(r"life-production-[a-z0-9]{5}-deleted", deleted.name)
    # The name is free again, and the old token is still there, disabled.
    again = tokens.create("life-production")
    assert again.token != created.token
    assert tokens.get(created.token).enabled is False


def test_create_disabled(client: Client) -> None:
    created = client.agent_tokens.create("born-disabled", enabled=False)
    assert created.enabled is False
    assert client.agent_tokens.get(created.token).enabled is False


def test_a_taken_name_is_a_conflict_with_the_servers_message(client: Client) -> None:
    client.agent_tokens.create("taken")
    with pytest.raises(errors.ConflictError) as caught:
        client.agent_tokens.create("taken")
    assert caught.value.status == 409
    assert "taken" in caught.value.message


def test_unknown_tokens_are_not_found_and_never_echoed(client: Client) -> None:
    unknown = "f" * 56
    with pytest.raises(errors.NotFoundError) as caught:
        client.agent_tokens.get(unknown)
    assert unknown not in str(caught.value)
    assert unknown not in caught.value.path
    with pytest.raises(errors.NotFoundError):
        client.agent_tokens.import_token(unknown)


def test_search_by_state_and_name(client: Client) -> None:
    first = client.agent_tokens.create("search-a")
    client.agent_tokens.create("search-b", enabled=False)
    found = client.agent_tokens.search(
        [
            SearchFilter("tokenAlias", Expression.IN, values=("search-a", "search-b")),
            SearchFilter("tokenEnabled", Expression.EQ, 1),
        ]
    )
    assert [t.token for t in found] == [first.token]


def test_wrong_secret_is_an_authentication_error(backend: Backend) -> None:
    wrong = "_definitely-not-the-secret"
    with (
        Client(backend.account, backend.api_key, wrong, base_url=backend.url) as client,
        pytest.raises(errors.AuthenticationError) as caught,
    ):
        client.agent_tokens.list()
    assert wrong not in str(caught.value)


def test_a_static_api_token_works_without_key_or_secret(backend: Backend) -> None:
    response = requests.post(
        f"{backend.url}/api/v2/access/tokens",
        json={"keyId": backend.api_key, "expiryTime": 600},
        headers={"X-LW-UAKS": backend.api_secret},
        timeout=30,
    )
    bearer = wire.parse(response.json(), wire.AccessTokenResponse).token
    with backend.client() as keyed:
        seen = keyed.agent_tokens.create("static-bearer-seen")
    with Client(backend.account, api_token=bearer, base_url=backend.url) as client:
        listed = {token.token: token for token in client.agent_tokens.list()}
        assert listed[seen.token] == seen
        made = client.agent_tokens.create("static-bearer-made")
        assert client.bearer_fetches == 0
    with backend.client() as keyed:
        assert keyed.agent_tokens.get(made.token) == made


def test_threads_share_one_client_and_one_bearer(backend: Backend) -> None:
    with backend.client() as client:
        with ThreadPoolExecutor(max_workers=8) as pool:
            created = list(pool.map(lambda i: client.agent_tokens.create(f"thread-{i}"), range(16)))
        assert client.bearer_fetches == 1
    assert len({t.token for t in created}) == 16


def test_from_env_reaches_the_backend(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, value in backend.env().items():
        monkeypatch.setenv(name, value)
    with Client.from_env() as client:
        assert client.base_url == backend.url
        client.agent_tokens.create("from-env")
        assert client.agent_tokens.find("from-env") is not None


class LossyGateway:
    """A proxy in front of the backend that can lose the answer to the next create.

    ``mode`` "502": the create reaches the backend, the gateway answers 502.
    ``mode`` "drop": the create reaches the backend, the gateway hangs up without an answer.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode: str | None = None
        self.creates_forwarded = 0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k in FORWARDED_HEADERS if (v := self.headers.get(k))}
                answer = requests.request(
                    self.command,
                    gateway.upstream + self.path,
                    data=body,
                    headers=headers,
                    timeout=30,
                )
                is_create = self.command == "POST" and self.path == "/api/v2/AgentAccessTokens"
                if is_create:
                    gateway.creates_forwarded += 1
                    lose, gateway.mode = gateway.mode, None
                    if lose == "drop":
                        self.close_connection = True
                        return
                    if lose == "502":
                        self._answer(502, b'{"message": "bad gateway"}')
                        return
                self._answer(answer.status_code, answer.content)

            def _answer(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LossyGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("mode", ["502", "drop"])
def test_a_create_whose_answer_is_lost_is_not_duplicated(backend: Backend, mode: str) -> None:
    name = f"lost-answer-{mode}"
    with (
        LossyGateway(backend.url) as gateway,
        backend.client(base_url=gateway.url, sleep=lambda _: None) as client,
    ):
        gateway.mode = mode
        created = client.agent_tokens.create(name, description="once")
        assert gateway.creates_forwarded == 1
    with backend.client() as direct:
        matching = [t for t in direct.agent_tokens.list() if t.name == name]
    assert [t.token for t in matching] == [created.token]


def test_https_backend_trusted_through_requests_ca_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with run_backend(tmp_path, tls=True) as secure:
        assert secure.url.startswith("https://127.0.0.1:")
        sleeps: list[float] = []
        with (
            secure.client(sleep=sleeps.append) as untrusting,
            pytest.raises(errors.TransportError, match="REQUESTS_CA_BUNDLE"),
        ):
            untrusting.agent_tokens.list()
        assert sleeps == []  # a certificate that is not trusted is not retried
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(secure.cert_path))
        with secure.client() as client:
            created = client.agent_tokens.create("over-tls")
            assert client.agent_tokens.get(created.token).name == "over-tls"


# --- soft-delete squatting --------------------------------------------------------------------


def squat_first_suffix(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """Make the next soft-delete names ``<name>-aaaaa-deleted``, then random ones; returns the
    names tried."""
    from lacework_tokens import agent_tokens

    tried: list[str] = []
    random_name = agent_tokens.soft_delete_name

    def predictable(current: str) -> str:
        chosen = f"{current}-aaaaa-deleted" if not tried else random_name(current)
        tried.append(chosen)
        return chosen

    monkeypatch.setattr(agent_tokens, "soft_delete_name", predictable)
    return tried


def test_a_name_already_in_soft_deleted_form_cannot_make_a_soft_delete_fail(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = client.agent_tokens.create("squatted")
    client.agent_tokens.create("squatted-aaaaa-deleted")  # someone took the first name
    tried = squat_first_suffix(monkeypatch, "squatted")
    deleted = client.agent_tokens.soft_delete(victim.token)
    assert tried[0] == "squatted-aaaaa-deleted" and len(tried) == 2
    assert deleted.name == tried[1] and not deleted.enabled
    assert client.agent_tokens.find("squatted") is None


def test_the_terraform_plugins_destroy_survives_a_squatted_name(
    backend: Backend, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lacework_tokens.config import ClientSettings
    from lacework_tokens.provider.configure import Connection
    from lacework_tokens.provider.resources.agent_access_token import (
        AgentAccessTokenResource,
        to_state,
    )

    created = client.agent_tokens.create("plugin-squatted")
    client.agent_tokens.create("plugin-squatted-aaaaa-deleted")
    tried = squat_first_suffix(monkeypatch, "plugin-squatted")
    resource = AgentAccessTokenResource()
    settings = ClientSettings.given(
        backend.account, backend.api_key, backend.api_secret, base_url=backend.url
    )
    resource.configure(Connection(settings, "terraform-provider-lacework"))
    resource.delete(to_state(created))  # what `terraform destroy` calls
    after = client.agent_tokens.get(created.token)
    assert len(tried) == 2 and after.name == tried[1] and not after.enabled

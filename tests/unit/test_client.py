"""The HTTP client: headers, bearer-token lifecycle, retries and error mapping."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import responses
from sdk_fakes import (
    ACCESS_URL,
    API_KEY,
    API_SECRET,
    BASE_URL,
    SEARCH_URL,
    T0,
    TOKEN,
    TOKENS_URL,
    add_bearer,
    bearer_body,
    body_of,
    calls_to,
    make_client,
    token_wire,
)

from lacework_tokens import Client, errors, wire
from lacework_tokens.config import ClientSettings


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_token_request_and_api_call_carry_the_lacework_headers(
    rsps: responses.RequestsMock,
) -> None:
    add_bearer(rsps, "bearer-xyz")
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    with Client(
        "acme",
        API_KEY,
        API_SECRET,
        base_url=BASE_URL,
        subaccount="child",
        organization=True,
    ) as client:
        client.request("GET", "/api/v2/AgentAccessTokens")

    token_call, api_call = rsps.calls
    assert token_call.request.headers["X-LW-UAKS"] == API_SECRET
    assert "Authorization" not in token_call.request.headers
    assert body_of(token_call) == {"keyId": API_KEY, "expiryTime": 3600}
    assert token_call.request.headers["Account-Name"] == "child"
    headers = api_call.request.headers
    assert headers["Authorization"] == "Bearer bearer-xyz"
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "lacework-tokens/0.1.0"
    assert headers["Account-Name"] == "child"
    assert headers["Org-Access"] == "true"
    assert "X-LW-UAKS" not in headers


def test_no_subaccount_or_organization_headers_unless_configured(
    rsps: responses.RequestsMock,
) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    make_client().request("GET", "/api/v2/AgentAccessTokens")
    headers = rsps.calls[1].request.headers
    assert "Account-Name" not in headers
    assert "Org-Access" not in headers


def test_a_netrc_entry_never_replaces_the_bearer(
    rsps: responses.RequestsMock, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests would otherwise add Basic auth from ~/.netrc over the Authorization header.
    host = BASE_URL.split("://", 1)[1].split(":", 1)[0].split("/", 1)[0]
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {host} login someone password elsewhere\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    add_bearer(rsps, "bearer-xyz")
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    make_client().request("GET", "/api/v2/AgentAccessTokens")
    assert rsps.calls[1].request.headers["Authorization"] == "Bearer bearer-xyz"


def test_proxy_and_ca_bundle_settings_are_read_when_the_client_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/custom-ca.pem")
    client = Client("acme", API_KEY, API_SECRET, base_url="https://acme.lacework.net")
    assert client.session.proxies.get("https") == "http://proxy.invalid:3128"
    assert client.session.verify == "/etc/ssl/custom-ca.pem"
    monkeypatch.setenv("NO_PROXY", "acme.lacework.net")
    bypass = Client("acme", API_KEY, API_SECRET, base_url="https://acme.lacework.net")
    assert "https" not in bypass.session.proxies


def test_one_bearer_serves_many_calls(rsps: responses.RequestsMock) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    client = make_client()
    for _ in range(5):
        client.request("GET", "/api/v2/AgentAccessTokens")
    assert len(calls_to(rsps, "POST", ACCESS_URL)) == 1
    assert client.bearer_fetches == 1


def test_bearer_is_refreshed_shortly_before_it_expires(rsps: responses.RequestsMock) -> None:
    now = [T0]
    rsps.add(
        responses.POST,
        ACCESS_URL,
        json=bearer_body("first", T0 + timedelta(hours=1)),
        status=201,
    )
    rsps.add(
        responses.POST,
        ACCESS_URL,
        json=bearer_body("second", T0 + timedelta(hours=2)),
        status=201,
    )
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    client = make_client(clock=lambda: now[0])

    client.request("GET", "/api/v2/AgentAccessTokens")
    now[0] = T0 + timedelta(minutes=58)  # still more than a minute left
    client.request("GET", "/api/v2/AgentAccessTokens")
    now[0] = T0 + timedelta(minutes=59, seconds=30)  # inside the refresh margin
    client.request("GET", "/api/v2/AgentAccessTokens")

    used = [c.request.headers["Authorization"] for c in calls_to(rsps, "GET", TOKENS_URL)]
    assert used == ["Bearer first", "Bearer first", "Bearer second"]


def test_concurrent_first_calls_share_one_bearer_fetch(rsps: responses.RequestsMock) -> None:
    fetches = 0
    count_lock = threading.Lock()

    def issue(_: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        nonlocal fetches
        with count_lock:
            fetches += 1
        # Keep the fetch in flight long enough for every other thread to want a token too.
        time.sleep(0.05)
        return 201, {}, wire_json(bearer_body("shared"))

    rsps.add_callback(responses.POST, ACCESS_URL, callback=issue)
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    client = make_client()
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def call() -> None:
        start.wait()
        try:
            client.request("GET", "/api/v2/AgentAccessTokens")
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert fetches == 1
    gets = calls_to(rsps, "GET", TOKENS_URL)
    assert len(gets) == 8
    assert {c.request.headers["Authorization"] for c in gets} == {"Bearer shared"}


def wire_json(data: Any) -> str:
    import json

    return json.dumps(data)


def test_static_api_token_is_used_as_is(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    client = Client("acme", api_token="static-bearer", base_url=BASE_URL)
    client.request("GET", "/api/v2/AgentAccessTokens")
    assert calls_to(rsps, "POST", ACCESS_URL) == []
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer static-bearer"
    assert client.bearer_fetches == 0


def test_a_401_fetches_a_new_bearer_once_and_retries_once(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, ACCESS_URL, json=bearer_body("old"), status=201)
    rsps.add(responses.POST, ACCESS_URL, json=bearer_body("new"), status=201)
    rsps.add(responses.GET, TOKENS_URL, json={"message": "token expired"}, status=401)
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    client = make_client()
    assert client.request("GET", "/api/v2/AgentAccessTokens") == {"data": []}
    used = [c.request.headers["Authorization"] for c in calls_to(rsps, "GET", TOKENS_URL)]
    assert used == ["Bearer old", "Bearer new"]


def test_a_second_401_is_an_authentication_error(rsps: responses.RequestsMock) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, TOKENS_URL, json={"message": "Unauthorized"}, status=401)
    client = make_client()
    with pytest.raises(errors.AuthenticationError) as caught:
        client.request("GET", "/api/v2/AgentAccessTokens")
    assert caught.value.status == 401
    assert caught.value.message == "Unauthorized"
    assert len(calls_to(rsps, "GET", TOKENS_URL)) == 2
    assert len(calls_to(rsps, "POST", ACCESS_URL)) == 2


def test_a_401_with_a_static_token_is_not_retried(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, TOKENS_URL, json={"message": "Unauthorized"}, status=401)
    client = Client("acme", api_token="static", base_url=BASE_URL)
    with pytest.raises(errors.AuthenticationError):
        client.request("GET", "/api/v2/AgentAccessTokens")
    assert len(rsps.calls) == 1


def test_wrong_api_secret_is_an_authentication_error_without_the_secret(
    rsps: responses.RequestsMock,
) -> None:
    rsps.add(
        responses.POST,
        ACCESS_URL,
        json={"message": f"bad secret {API_SECRET}"},
        status=401,
    )
    with pytest.raises(errors.AuthenticationError) as caught:
        make_client().request("GET", "/api/v2/AgentAccessTokens")
    assert API_SECRET not in str(caught.value)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried(rsps: responses.RequestsMock, status: int) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, TOKENS_URL, json={"message": "busy"}, status=status)
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    sleeps: list[float] = []
    assert make_client(sleeps).request("GET", "/api/v2/AgentAccessTokens") == {"data": []}
    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= 8


def test_backoff_grows_and_attempts_are_bounded(rsps: responses.RequestsMock) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, TOKENS_URL, json={"message": "upstream down"}, status=503)
    sleeps: list[float] = []
    client = make_client(sleeps, max_attempts=4, backoff_initial=1.0, backoff_max=100.0)
    with pytest.raises(errors.ServerError) as caught:
        client.request("GET", "/api/v2/AgentAccessTokens")
    assert caught.value.status == 503
    assert caught.value.message == "upstream down"
    assert len(calls_to(rsps, "GET", TOKENS_URL)) == 4
    assert len(sleeps) == 3
    # Exponential: 1, 2, 4 seconds, each plus up to one second of jitter.
    for wait, base in zip(sleeps, (1.0, 2.0, 4.0), strict=True):
        assert base <= wait <= base + 1.0


def test_500_is_not_retried(rsps: responses.RequestsMock) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, TOKENS_URL, json={"message": "boom"}, status=500)
    with pytest.raises(errors.ServerError):
        make_client().request("GET", "/api/v2/AgentAccessTokens")
    assert len(calls_to(rsps, "GET", TOKENS_URL)) == 1


def test_429_waits_for_retry_after(rsps: responses.RequestsMock) -> None:
    add_bearer(rsps)
    rsps.add(
        responses.GET,
        TOKENS_URL,
        json={"message": "slow down"},
        status=429,
        headers={"Retry-After": "7"},
    )
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    sleeps: list[float] = []
    make_client(sleeps).request("GET", "/api/v2/AgentAccessTokens")
    assert sleeps == [7.0]


def test_429_retry_after_is_capped_and_reported_when_attempts_run_out(
    rsps: responses.RequestsMock,
) -> None:
    add_bearer(rsps)
    rsps.add(
        responses.GET,
        TOKENS_URL,
        json={"message": "slow down"},
        status=429,
        headers={"Retry-After": "3600"},
    )
    sleeps: list[float] = []
    client = make_client(sleeps, max_attempts=2, retry_after_cap=30.0)
    with pytest.raises(errors.RateLimitedError) as caught:
        client.request("GET", "/api/v2/AgentAccessTokens")
    assert sleeps == [30.0]
    assert caught.value.retry_after == 3600.0
    assert caught.value.message == "slow down"


def test_connection_errors_are_retried_then_reported_without_the_token(
    rsps: responses.RequestsMock,
) -> None:
    add_bearer(rsps)
    url = f"{TOKENS_URL}/{TOKEN}"
    rsps.add(responses.GET, url, body=requests.exceptions.ConnectionError(f"reset {url}"))
    sleeps: list[float] = []
    with pytest.raises(errors.TransportError) as caught:
        make_client(sleeps, max_attempts=3).request(
            "GET", f"/api/v2/AgentAccessTokens/{TOKEN}", secret_in_path=TOKEN
        )
    assert len(sleeps) == 2
    assert TOKEN not in str(caught.value)
    assert wire.mask(TOKEN) in str(caught.value)
    assert caught.value.__cause__ is None


def test_timeouts_are_retried(rsps: responses.RequestsMock) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, TOKENS_URL, body=requests.exceptions.ReadTimeout("slow"))
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    assert make_client().request("GET", "/api/v2/AgentAccessTokens") == {"data": []}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_server_is_a_transport_error_after_bounded_attempts() -> None:
    sleeps: list[float] = []
    client = Client(
        "acme",
        api_token="static",
        base_url=f"http://127.0.0.1:{_closed_port()}",
        sleep=sleeps.append,
        max_attempts=3,
    )
    with pytest.raises(errors.TransportError) as caught:
        client.request("GET", "/api/v2/AgentAccessTokens")
    assert "connection refused" in str(caught.value)
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data": {"message": "nested text"}, "message": "outer"}, "nested text"),
        ({"message": "Token alias 'prod' already exists"}, "Token alias 'prod' already exists"),
    ],
)
def test_error_message_is_the_servers(
    rsps: responses.RequestsMock, body: dict[str, Any], message: str
) -> None:
    add_bearer(rsps)
    rsps.add(responses.POST, TOKENS_URL, json=body, status=409)
    with pytest.raises(errors.ConflictError) as caught:
        make_client().request("POST", "/api/v2/AgentAccessTokens", {"tokenAlias": "prod"})
    assert caught.value.message == message
    assert caught.value.method == "POST"
    assert caught.value.path == "/api/v2/AgentAccessTokens"
    assert str(caught.value) == f"[409] {message}"


def test_html_error_page_becomes_a_status_error_with_a_short_snippet(
    rsps: responses.RequestsMock,
) -> None:
    add_bearer(rsps)
    page = "<html><body><h1>403 Forbidden</h1>" + "x" * 5000 + "</body></html>"
    rsps.add(responses.GET, TOKENS_URL, body=page, status=403, content_type="text/html")
    with pytest.raises(errors.PermissionDeniedError) as caught:
        make_client().request("GET", "/api/v2/AgentAccessTokens")
    assert "403 Forbidden" in caught.value.message
    assert len(caught.value.message) < 300


def test_success_with_a_body_that_is_not_json_is_a_transport_error(
    rsps: responses.RequestsMock,
) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, TOKENS_URL, body='{"data": [{"accessTok', status=200)
    with pytest.raises(errors.TransportError) as caught:
        make_client().request("GET", "/api/v2/AgentAccessTokens")
    assert "not JSON" in str(caught.value)


def test_malformed_access_token_answer_is_a_transport_error(
    rsps: responses.RequestsMock,
) -> None:
    rsps.add(responses.POST, ACCESS_URL, json={"token": "t", "expiresAt": "soon"}, status=201)
    with pytest.raises(errors.TransportError) as caught:
        make_client().request("GET", "/api/v2/AgentAccessTokens")
    assert "expiresAt" in str(caught.value)


def test_uncertain_post_without_recovery_is_never_repeated(
    rsps: responses.RequestsMock,
) -> None:
    add_bearer(rsps)
    rsps.add(responses.POST, TOKENS_URL, json={"message": "bad gateway"}, status=502)
    sleeps: list[float] = []
    with pytest.raises(errors.ServerError):
        make_client(sleeps).request("POST", "/api/v2/AgentAccessTokens", {"tokenAlias": "x"})
    assert len(calls_to(rsps, "POST", TOKENS_URL)) == 1
    assert sleeps == []


def test_uncertain_post_asks_recover_before_repeating(rsps: responses.RequestsMock) -> None:
    add_bearer(rsps)
    rsps.add(responses.POST, TOKENS_URL, body=requests.exceptions.ConnectionError("dropped"))
    rsps.add(responses.POST, TOKENS_URL, json={"data": token_wire()}, status=201)
    asked: list[int] = []

    def recover() -> Any:
        asked.append(1)
        return None

    result = make_client().request(
        "POST", "/api/v2/AgentAccessTokens", {"tokenAlias": "prod"}, recover=recover
    )
    assert result == {"data": token_wire()}
    assert asked == [1]
    assert len(calls_to(rsps, "POST", TOKENS_URL)) == 2


def test_rate_limited_post_is_repeated_without_asking(rsps: responses.RequestsMock) -> None:
    # A 429 means the request was turned away unprocessed: repeating it cannot duplicate.
    add_bearer(rsps)
    rsps.add(responses.POST, TOKENS_URL, json={"message": "slow"}, status=429)
    rsps.add(responses.POST, TOKENS_URL, json={"data": token_wire()}, status=201)

    def recover() -> Any:
        raise AssertionError("not needed after a 429")

    make_client().request("POST", "/api/v2/AgentAccessTokens", {"tokenAlias": "p"}, recover=recover)
    assert len(calls_to(rsps, "POST", TOKENS_URL)) == 2
    assert calls_to(rsps, "POST", SEARCH_URL) == []


def test_configuration_errors_for_missing_credentials() -> None:
    with pytest.raises(errors.ConfigurationError, match="account"):
        Client(None, API_KEY, API_SECRET)
    with pytest.raises(errors.ConfigurationError, match="api_secret") as caught:
        Client("acme", API_KEY, None)
    assert "LW_API_SECRET" in str(caught.value)


def test_default_base_url_and_server_url_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LW_API_SERVER_URL", raising=False)
    assert Client("acme", api_token="t").base_url == "https://acme.lacework.net"
    assert Client("acme.lacework.net", api_token="t").base_url == "https://acme.lacework.net"
    assert Client("127.0.0.1:8443", api_token="t").base_url == "https://127.0.0.1:8443"
    assert Client("127.0.0.1:8443#", api_token="t").base_url == "https://127.0.0.1:8443"
    monkeypatch.setenv("LW_API_SERVER_URL", "http://127.0.0.1:8080/")
    assert Client("acme", api_token="t").base_url == "http://127.0.0.1:8080"
    assert Client("acme", api_token="t", base_url="http://x:1").base_url == "http://x:1"


def test_repr_shows_no_secret() -> None:
    client = Client("acme", API_KEY, API_SECRET, base_url=BASE_URL)
    assert API_SECRET not in repr(client)
    static = Client("acme", api_token="static-bearer-value", base_url=BASE_URL)
    assert "static-bearer-value" not in repr(static)


def test_context_manager_closes_the_session(rsps: responses.RequestsMock) -> None:
    closed: list[bool] = []
    with make_client() as client:
        original = client.session.close

        def close() -> None:
            closed.append(True)
            original()

        client.session.close = close  # type: ignore[method-assign]
    assert closed == [True]


def test_expiry_far_in_the_past_still_works_once(rsps: responses.RequestsMock) -> None:
    # A client clock far ahead of the server's: the token is used, then fetched again.
    rsps.add(
        responses.POST,
        ACCESS_URL,
        json=bearer_body("skewed", datetime.now(UTC) - timedelta(hours=5)),
        status=201,
    )
    rsps.add(responses.GET, TOKENS_URL, json={"data": []})
    client = make_client()
    client.request("GET", "/api/v2/AgentAccessTokens")
    client.request("GET", "/api/v2/AgentAccessTokens")
    assert client.bearer_fetches == 2


class _TruncatingServer:
    """A loopback HTTP server that promises more body than it sends, then hangs up."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests_seen = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                self.requests_seen += 1
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 500\r\nConnection: close\r\n\r\n"
                    b'{"data": [{"accessToken": "'
                )

    def close(self) -> None:
        self.listener.close()


def test_a_body_cut_short_is_retried_then_a_transport_error() -> None:
    server = _TruncatingServer()
    try:
        sleeps: list[float] = []
        client = Client(
            "acme", api_token="static", base_url=server.url, sleep=sleeps.append, max_attempts=2
        )
        with pytest.raises(errors.TransportError) as caught:
            client.request("GET", "/api/v2/AgentAccessTokens")
    finally:
        server.close()
    assert "cut short" in str(caught.value)
    assert server.requests_seen == 2
    assert len(sleeps) == 1


def test_authenticate_fetches_a_bearer_up_front(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, ACCESS_URL, json={"message": "invalid key"}, status=401)
    with pytest.raises(errors.AuthenticationError, match="invalid key"):
        make_client().authenticate()
    Client("acme", api_token="static", base_url=BASE_URL).authenticate()
    assert len(rsps.calls) == 1


def test_settings_are_resolved_once_and_taken_as_they_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = ClientSettings.given("acme", API_KEY, API_SECRET, base_url=BASE_URL)
    # The client reads no LW_* variable once it holds its settings.
    monkeypatch.setenv("LW_API_SERVER_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("LW_ACCOUNT", "other")
    client = Client(settings=settings)
    assert client.settings is settings
    assert (client.account, client.base_url) == ("acme", BASE_URL)
    with pytest.raises(TypeError, match="either settings or"):
        Client("acme", settings=settings)


def test_given_settings_fall_back_only_to_the_server_url_variable() -> None:
    environ = {"LW_API_SERVER_URL": "http://127.0.0.1:9/", "LW_API_SECRET": "_from_env"}
    settings = ClientSettings.given("acme", api_token="t", subaccount="", environ=environ)
    assert settings.base_url == "http://127.0.0.1:9"
    assert settings.subaccount is None
    with pytest.raises(errors.ConfigurationError, match="no api_secret configured"):
        ClientSettings.given("acme", API_KEY, "", environ=environ)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"data": [token_wire()]}, TOKEN),  # some deployments wrap one object in a list
        ({"data": token_wire()}, TOKEN),
        ({"data": None}, "unexpected answer from GET /api/v2/AgentAccessTokens/6f3a…3f5a: body"),
        ({"data": [token_wire(), token_wire()]}, "must be a JSON object"),
    ],
    ids=["wrapped", "object", "null", "two"],
)
def test_request_one_reads_the_model_from_the_data_envelope(
    rsps: responses.RequestsMock, answer: dict[str, Any], expected: str
) -> None:
    add_bearer(rsps)
    rsps.add(responses.GET, f"{TOKENS_URL}/{TOKEN}", json=answer)
    client = make_client()
    path = f"/api/v2/AgentAccessTokens/{TOKEN}"
    if expected == TOKEN:
        one = client.request_one("GET", path, wire.AgentAccessToken, secret_in_path=TOKEN)
        assert one.token == TOKEN
        return
    with pytest.raises(errors.TransportError) as caught:
        client.request_one("GET", path, wire.AgentAccessToken, secret_in_path=TOKEN)
    assert expected in str(caught.value)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"data": None}, []),
        ({"data": []}, []),
        (None, []),
        ({"items": []}, "unexpected answer from GET /api/v2/AgentAccessTokens: no data"),
        ({"data": {}}, "unexpected answer from GET /api/v2/AgentAccessTokens: data is no list"),
        ({"data": [token_wire(), {"tokenAlias": "x"}]}, "data[1].accessToken: is required"),
    ],
    ids=["null", "empty", "no-body", "no-data", "not-a-list", "malformed-item"],
)
def test_request_list_reads_every_item_or_fails(
    rsps: responses.RequestsMock, answer: dict[str, Any] | None, expected: list[Any] | str
) -> None:
    add_bearer(rsps)
    if answer is None:
        rsps.add(responses.GET, TOKENS_URL, body="", status=200)
    else:
        rsps.add(responses.GET, TOKENS_URL, json=answer)
    client = make_client()
    if isinstance(expected, list):
        assert client.request_list("GET", "/api/v2/AgentAccessTokens", wire.AgentAccessToken) == []
        return
    # A malformed item is never dropped silently.
    with pytest.raises(errors.TransportError) as caught:
        client.request_list("GET", "/api/v2/AgentAccessTokens", wire.AgentAccessToken)
    assert str(caught.value).endswith(expected)


def test_request_one_recovery_answers_the_model_it_found(rsps: responses.RequestsMock) -> None:
    add_bearer(rsps)
    rsps.add(responses.POST, TOKENS_URL, body=requests.exceptions.ConnectionError("dropped"))
    existing = wire.parse(token_wire(), wire.AgentAccessToken)
    created = make_client().request_one(
        "POST",
        "/api/v2/AgentAccessTokens",
        wire.AgentAccessToken,
        {"tokenAlias": "prod"},
        recover=lambda: existing,
    )
    assert created is existing
    assert len(calls_to(rsps, "POST", TOKENS_URL)) == 1

"""Rate limits and slow clients, against a real ``lacework-tokens serve``.

- per API key: ``--rate-limit``/``--rate-burst``; per client address on the access-token call:
  ``--login-rate-limit``/``--login-rate-burst``; past either, 429 with ``Retry-After``;
- ``--body-timeout``: a client that stalls or trickles a request gets 408 and a closed
  connection, and never holds up anyone else; idle keep-alive connections are closed too;
- the SDK waits ``Retry-After`` and succeeds, or reports the limit with ``retry_after``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from wire_calls import ACCESS_TOKENS, TOKENS, Wire, assert_error, bearer_token, issue_bearer

from lacework_tokens import errors
from lacework_tokens.server.crypto import Sealer
from lacework_tokens.server.openapi import openapi_document
from lacework_tokens.server.services import Services
from lacework_tokens.server.storage import open_store
from lacework_tokens.testing import Backend, run_backend

# A guard against a hang, not a measurement: every wait below ends far sooner.
SOCKET_GUARD_SECONDS = 15.0


def second_api_key(tmp_path: Path) -> tuple[str, str]:
    """Another admin key in the database ``run_backend(tmp_path)`` will serve."""
    state = tmp_path / "lacework-tokens"
    state.mkdir(parents=True, exist_ok=True)
    store = open_store(str(state / "tokens.db"))
    try:
        services = Services(store, Sealer.from_key_file(state / "secrets.key"))
        key = services.identity.create_api_key("local", user="second")
    finally:
        store.close()
    return key.key_id, key.secret


def list_with(backend: Backend, bearer: str) -> requests.Response:
    return requests.get(f"{backend.url}{TOKENS}", headers={"Authorization": bearer}, timeout=30)


def assert_rate_limited(response: requests.Response, *, most_seconds: int) -> int:
    message = assert_error(response, 429)
    assert "Too many requests" in message
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= most_seconds
    return retry_after


# --- rate limits ------------------------------------------------------------------------------


def test_an_api_key_past_its_burst_is_answered_429_and_other_keys_are_not(tmp_path: Path) -> None:
    other_key, other_secret = second_api_key(tmp_path)
    args = ["--rate-limit", "1/min", "--rate-burst", "3"]
    with run_backend(tmp_path, extra_args=args) as backend:
        bearer = bearer_token(backend)
        assert [list_with(backend, bearer).status_code for _ in range(3)] == [200] * 3
        refused = list_with(backend, bearer)
        assert_rate_limited(refused, most_seconds=60)
        # Every route counts, whatever the answer would have been.
        assert_error(
            requests.get(
                f"{backend.url}{TOKENS}/{'0' * 56}", headers={"Authorization": bearer}, timeout=30
            ),
            429,
        )
        # A new bearer of the same key shares the key's budget.
        assert list_with(backend, bearer_token(backend)).status_code == 429

        other = requests.post(
            f"{backend.url}{ACCESS_TOKENS}",
            json={"keyId": other_key},
            headers={"X-LW-UAKS": other_secret},
            timeout=30,
        )
        assert other.status_code == 201
        assert list_with(backend, other.json()["token"]).status_code == 200


def test_the_429_is_what_the_openapi_document_promises(tmp_path: Path) -> None:
    args = ["--rate-limit", "1/min", "--rate-burst", "1"]
    with run_backend(tmp_path, extra_args=args) as backend:
        bearer = bearer_token(backend)
        assert list_with(backend, bearer).status_code == 200
        refused = list_with(backend, bearer)
    document = openapi_document()
    answers = document["paths"][TOKENS]["get"]["responses"]
    assert "Retry-After" in answers["429"]["headers"]
    assert set(refused.json()) == set(document["components"]["schemas"]["Error"]["required"])
    assert refused.headers["Retry-After"].isdigit()


def test_access_token_calls_are_limited_per_client_address(tmp_path: Path) -> None:
    args = ["--login-rate-limit", "1/min", "--login-rate-burst", "3"]
    with run_backend(tmp_path, extra_args=args) as backend:
        wrong = requests.post(
            f"{backend.url}{ACCESS_TOKENS}",
            json={"keyId": backend.api_key},
            headers={"X-LW-UAKS": "_not-the-secret"},
            timeout=30,
        )
        assert_error(wrong, 401)
        assert issue_bearer(backend).status_code == 201
        assert issue_bearer(backend).status_code == 201
        # Guesses and good logins alike come out of one budget: the right secret is refused too.
        assert_rate_limited(issue_bearer(backend), most_seconds=60)
        malformed = requests.post(f"{backend.url}{ACCESS_TOKENS}", data=b"{", timeout=30)
        assert_rate_limited(malformed, most_seconds=60)


def test_zero_disables_both_limits(tmp_path: Path) -> None:
    args = ["--rate-limit", "0", "--rate-burst", "1", "--login-rate-limit", "0"]
    with run_backend(tmp_path, extra_args=args) as backend:
        assert all(issue_bearer(backend).status_code == 201 for _ in range(5))
        bearer = bearer_token(backend)
        assert all(list_with(backend, bearer).status_code == 200 for _ in range(20))


def test_default_limits_let_two_hundred_token_applies_and_destroys_through(
    tmp_path: Path,
) -> None:
    # What Terraform sends for `apply` then `destroy` of 100 tokens, twice back to back: no 429
    # may slow a legitimate run down.
    with run_backend(tmp_path) as backend:
        api = Wire(backend)
        statuses: list[int] = []
        for cycle in range(2):
            created = [api.create(f"apply-{cycle}-{n}") for n in range(100)]
            statuses += [api.get(token["accessToken"]).status_code for token in created]
            statuses += [
                api.patch(
                    token["accessToken"],
                    {"tokenEnabled": 0, "tokenAlias": f"{token['tokenAlias']}-x1y2z-deleted"},
                ).status_code
                for token in created
            ]
        assert statuses == [200] * 400
        assert len(api.list()) == 200


@pytest.mark.parametrize(
    "args",
    [
        ["--rate-limit", "fast"],
        ["--rate-limit", "-5/s"],
        ["--rate-burst", "0"],
        ["--login-rate-limit", "1/day"],
        ["--body-timeout", "0"],
        ["--body-timeout", "soon"],
        ["--keep-alive-timeout", "-1"],
    ],
)
def test_bad_limit_arguments_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "lacework_tokens", "serve", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("lacework-tokens serve: error: ")
    assert "Traceback" not in result.stderr


# --- the SDK against a real rate limit ----------------------------------------------------------


def test_the_sdk_waits_retry_after_and_then_succeeds(tmp_path: Path) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    args = ["--rate-limit", "4/s", "--rate-burst", "2"]
    with (
        run_backend(tmp_path, extra_args=args) as backend,
        backend.client(sleep=sleep, max_attempts=4) as client,
    ):
        created = client.agent_tokens.create("limited")
        got = [client.agent_tokens.get(created.token) for _ in range(6)]
    assert [token.name for token in got] == ["limited"] * 6
    # Each refusal said "Retry-After: 1" and the client waited exactly that (no backoff guess).
    assert waits and set(waits) == {1.0}


def test_the_sdk_reports_the_limit_with_retry_after_when_attempts_run_out(tmp_path: Path) -> None:
    waits: list[float] = []
    args = ["--rate-limit", "1/min", "--rate-burst", "2"]
    with (
        run_backend(tmp_path, extra_args=args) as backend,
        backend.client(sleep=waits.append, max_attempts=3) as client,
    ):
        created = client.agent_tokens.create("limited")
        assert client.agent_tokens.get(created.token).name == "limited"
        with pytest.raises(errors.RateLimitedError) as raised:
            client.agent_tokens.get(created.token)
    assert raised.value.status == 429
    assert raised.value.retry_after is not None and 1 <= raised.value.retry_after <= 60
    assert "Too many requests" in str(raised.value)
    assert created.token not in str(raised.value)
    # Two waits of what the server asked for, then the third refusal is reported.
    assert len(waits) == 2 and all(1 <= wait <= 60 for wait in waits)


# --- slow clients ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    args = ["--body-timeout", "0.5", "--keep-alive-timeout", "0.5"]
    with run_backend(tmp_path_factory.mktemp("impatient"), extra_args=args) as backend:
        yield backend


def fresh_wire(backend: Backend) -> Wire:
    """A Wire that opens a connection per call: with a 0.5 s keep-alive timeout, a reused
    connection can be closed by the server just as the next request goes out on a busy machine."""
    api = Wire(backend)
    api.session.headers["Connection"] = "close"
    return api


@contextlib.contextmanager
def raw_connection(backend: Backend) -> Iterator[socket.socket]:
    parts = urlsplit(backend.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=SOCKET_GUARD_SECONDS)
    try:
        yield sock
    finally:
        sock.close()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a hang fails the test)."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):  # TLS: a close without close_notify
            return received
        if not chunk:
            return received
        received += chunk


def assert_408_then_closed(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"content-type: application/json" in head.lower()
    assert b"connection: close" in head.lower()
    assert "not received within" in json.loads(body)["message"]


def test_a_stalled_body_is_cut_off_with_408_while_others_are_served(impatient: Backend) -> None:
    api = fresh_wire(impatient)
    stalled = []
    with contextlib.ExitStack() as stack:
        for _ in range(20):
            sock = stack.enter_context(raw_connection(impatient))
            sock.sendall(
                b"POST /api/v2/AgentAccessTokens HTTP/1.1\r\nHost: test\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                b'{"tokenAlias": "st'
            )
            stalled.append(sock)
        # Twenty stalled uploads hold nothing up.
        created = api.create("served-meanwhile")
        assert api.get(created["accessToken"]).status_code == 200
        for sock in stalled:
            assert_408_then_closed(read_until_closed(sock))
    names = [token["tokenAlias"] for token in api.list()]
    assert names.count("served-meanwhile") == 1 and not any(n.startswith("st") for n in names)


def test_a_trickled_body_is_cut_off_before_it_completes(impatient: Backend) -> None:
    body = json.dumps({"tokenAlias": "trickled", "props": {"description": "x" * 200}}).encode()
    with raw_connection(impatient) as sock:
        sock.sendall(
            b"POST /api/v2/AgentAccessTokens HTTP/1.1\r\nHost: test\r\n"
            + f"Authorization: {bearer_token(impatient)}\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        sent = 0
        sock.settimeout(0.05)  # between bytes: poll for the server's answer
        answer = b""
        while sent < len(body):
            try:
                sock.sendall(body[sent : sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            break
        sock.settimeout(SOCKET_GUARD_SECONDS)
        answer += read_until_closed(sock)
    assert sent < len(body)
    assert_408_then_closed(answer)
    assert "trickled" not in [token["tokenAlias"] for token in fresh_wire(impatient).list()]


def test_headers_that_never_end_are_cut_off(impatient: Backend) -> None:
    with raw_connection(impatient) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: ")
        assert_408_then_closed(read_until_closed(sock))


def test_a_connection_that_sends_nothing_is_closed(impatient: Backend) -> None:
    with raw_connection(impatient) as sock:
        answer = read_until_closed(sock)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 ")


def test_an_idle_keep_alive_connection_is_closed_after_its_answer(impatient: Backend) -> None:
    with raw_connection(impatient) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        answer = read_until_closed(sock)
    # One complete answer, then the server hung up on the idle connection (no 408: the
    # client had asked for nothing more).
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b'{"status":"ok"}')
    assert b"408" not in answer


def test_a_quick_client_on_a_keep_alive_connection_is_never_cut_off(impatient: Backend) -> None:
    api = fresh_wire(impatient)
    with requests.Session() as session:
        for _ in range(5):
            response = session.get(
                f"{impatient.url}{TOKENS}", headers={"Authorization": api.bearer}, timeout=30
            )
            assert response.status_code == 200


def test_a_stalled_tls_client_is_cut_off_too(tmp_path: Path) -> None:
    args = ["--body-timeout", "0.5"]
    with run_backend(tmp_path, tls=True, extra_args=args) as backend:
        assert backend.cert_path is not None
        context = ssl.create_default_context(cafile=str(backend.cert_path))
        with (
            raw_connection(backend) as plain,
            context.wrap_socket(plain, server_hostname="127.0.0.1") as sock,
        ):
            sock.sendall(b"POST /api/v2/AgentAccessTokens HTTP/1.1\r\nHost: test\r\n")
            answer = read_until_closed(sock)
        assert_408_then_closed(answer)
        assert requests.get(f"{backend.url}/healthz", verify=backend.verify, timeout=30).ok


def test_a_chunked_body_over_the_limit_is_413_without_reading_it_all(impatient: Backend) -> None:
    from lacework_tokens.server.app import MAX_BODY_BYTES

    def chunks() -> Iterator[bytes]:
        yield b'{"tokenAlias": "huge", "props": {"description": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"x" * 1024
        yield b'"}}'

    with raw_connection(impatient) as sock:
        sock.sendall(
            b"POST /api/v2/AgentAccessTokens HTTP/1.1\r\nHost: test\r\n"
            + f"Authorization: {bearer_token(impatient)}\r\n".encode()
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        with contextlib.suppress(OSError):  # the server may stop reading once it has answered
            for chunk in chunks():
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"larger than" in answer


def test_a_413_ends_the_connection_even_while_the_client_is_still_sending(
    impatient: Backend,
) -> None:
    # The server answers as soon as the body passes the limit; a client that only then sends
    # the rest must not be left on a connection that neither serves nor closes.
    from lacework_tokens.server.app import MAX_BODY_BYTES

    with raw_connection(impatient) as sock:
        sock.sendall(
            b"POST /api/v2/AgentAccessTokens HTTP/1.1\r\nHost: test\r\n"
            + f"Authorization: {bearer_token(impatient)}\r\n".encode()
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        oversized = b"x" * (MAX_BODY_BYTES + 1)
        sock.sendall(f"{len(oversized):x}\r\n".encode() + oversized + b"\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413 ")
        assert b"connection: close" in head.lower()
        # The rest of the request arrives after the answer; the connection still ends at once.
        with contextlib.suppress(OSError):
            sock.sendall(b"400\r\n" + b"x" * 1024 + b"\r\n0\r\n\r\n")
        with contextlib.suppress(ConnectionResetError):
            body += read_until_closed(sock)
    assert json.loads(body)["message"] == f"request body is larger than {MAX_BODY_BYTES} bytes"

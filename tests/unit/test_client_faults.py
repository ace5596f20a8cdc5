"""The SDK against a real misbehaving HTTP server: every fault ends in a typed error, promptly.

A small threaded socket server on a loopback port answers each request in one chosen bad way:
it stalls, hangs up, speaks something that is not HTTP, sends an HTML error page, cuts a body
short, or refuses every call with 503 or 429. The client (with a short timeout and a recording
``sleep``) must raise a ``lacework_tokens.errors`` exception after a bounded number of attempts,
with no chained traceback and no secret in its message.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from lacework_tokens import Client, errors

SECRET = "_0123456789abcdef0123456789abcdef"
TOKEN = "ab" * 28
HTML_PAGE = b"<html><head><title>Bad Gateway</title></head><body><h1>nginx</h1></body></html>"


def http_answer(
    status: str, body: bytes, content_type: bytes = b"text/html", extra: bytes = b""
) -> bytes:
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\nContent-Type: " + content_type + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        # This server answers once per connection, and says so.
        b"Connection: close\r\n" + extra + b"\r\n" + body
    )


ANSWERS: dict[str, bytes | None] = {
    "stall": None,  # read the request, answer nothing
    "hang-up": b"",  # close the connection without a word
    "not-http": b"SSH-2.0-OpenSSH_9.6\r\n",
    "html-502": http_answer("502 Bad Gateway", HTML_PAGE),
    "html-503": http_answer("503 Service Unavailable", HTML_PAGE),
    "html-500": http_answer("500 Internal Server Error", HTML_PAGE),
    "not-json-200": http_answer("200 OK", HTML_PAGE),
    "json-429": http_answer(
        "429 Too Many Requests", b'{"message":"slow down"}', b"application/json"
    ),
    "cut-short": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n"
        b"Connection: close\r\n\r\n"
        b'{"data": {"accessToken": "'
    ),
}


class MisbehavingServer:
    """Answers every request with ``ANSWERS[mode]`` and counts the requests it saw."""

    def __init__(self, mode: str) -> None:
        self.answer = ANSWERS[mode]
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests_seen = 0
        self.requests: list[str] = []  # "METHOD /path"
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(10)
            received = b""
            try:
                while b"\r\n\r\n" not in received:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    received += chunk
                with self._lock:
                    self.requests_seen += 1
                    self.requests.append(" ".join(received.decode().split(" ", 2)[:2]))
                if self.answer is None:
                    self.stopped.wait(10)
                elif self.answer:
                    connection.sendall(self.answer)
            except OSError:
                return

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


@contextlib.contextmanager
def misbehaving(mode: str) -> Iterator[MisbehavingServer]:
    server = MisbehavingServer(mode)
    try:
        yield server
    finally:
        server.close()


def client_for(server: MisbehavingServer, sleeps: list[float], **settings: object) -> Client:
    options: dict[str, object] = {
        "api_token": "static-token",
        "base_url": server.url,
        "sleep": sleeps.append,
        "max_attempts": 3,
        "timeout": 0.5,
    }
    options.update(settings)
    return Client("acme", **options)  # type: ignore[arg-type]


def assert_clean(exc: errors.LaceworkError) -> None:
    """A typed error a user can print: no chained traceback, no secret, no token value."""
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__
    assert SECRET not in str(exc) and TOKEN not in str(exc) and "static-token" not in str(exc)


@pytest.mark.parametrize(
    ("mode", "error", "text"),
    [
        ("stall", errors.TransportError, "timed out"),
        ("hang-up", errors.TransportError, "connection failed"),
        ("not-http", errors.TransportError, "connection failed"),
        ("cut-short", errors.TransportError, "cut short"),
        ("html-502", errors.ServerError, "Bad Gateway"),
        ("html-503", errors.ServerError, "Service Unavailable"),
        ("json-429", errors.RateLimitedError, "slow down"),
    ],
)
def test_a_get_ends_in_a_typed_error_after_bounded_retries(
    mode: str, error: type[errors.LaceworkError], text: str
) -> None:
    sleeps: list[float] = []
    with misbehaving(mode) as server, client_for(server, sleeps) as client:
        with pytest.raises(error) as raised:
            client.agent_tokens.get(TOKEN)
        assert server.requests_seen == 3
    assert len(sleeps) == 2
    assert text in str(raised.value)
    assert_clean(raised.value)


def test_an_html_500_is_reported_at_once_with_a_short_snippet() -> None:
    sleeps: list[float] = []
    with misbehaving("html-500") as server, client_for(server, sleeps) as client:
        with pytest.raises(errors.ServerError) as raised:
            client.agent_tokens.list()
        assert server.requests_seen == 1
    assert sleeps == []
    assert raised.value.status == 500
    assert "nginx" in str(raised.value)
    assert_clean(raised.value)


def test_a_success_that_is_not_json_is_a_transport_error() -> None:
    sleeps: list[float] = []
    with (
        misbehaving("not-json-200") as server,
        client_for(server, sleeps) as client,
        pytest.raises(errors.TransportError) as raised,
    ):
        client.agent_tokens.list()
    assert "not JSON" in str(raised.value)
    assert_clean(raised.value)


@pytest.mark.parametrize("mode", ["stall", "html-503", "hang-up"])
def test_a_create_whose_outcome_is_unknown_is_never_blindly_repeated(mode: str) -> None:
    sleeps: list[float] = []
    with misbehaving(mode) as server, client_for(server, sleeps) as client:
        with pytest.raises(errors.LaceworkError) as raised:
            client.agent_tokens.create("maybe-created")
        seen = server.requests
    # One create, then only lookups (searches by name, themselves retried) to learn whether it
    # took effect; they fail the same way, so the outcome stays unknown and is said to be.
    assert seen[0] == "POST /api/v2/AgentAccessTokens"
    assert set(seen[1:]) == {"POST /api/v2/AgentAccessTokens/search"}
    assert "may or may not have taken effect" in str(raised.value)
    assert_clean(raised.value)


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("html-502", errors.ServerError),
        ("stall", errors.TransportError),
        ("not-json-200", errors.TransportError),
    ],
)
def test_fetching_a_bearer_from_a_broken_server_is_a_typed_error_without_the_secret(
    mode: str, error: type[errors.LaceworkError]
) -> None:
    sleeps: list[float] = []
    with (
        misbehaving(mode) as server,
        client_for(server, sleeps, api_token=None, api_key="KEY", api_secret=SECRET) as client,
        pytest.raises(error) as raised,
    ):
        client.agent_tokens.list()
    exc = raised.value
    assert (
        "/api/v2/access/tokens" in str(exc) or getattr(exc, "path", "") == "/api/v2/access/tokens"
    )
    assert_clean(exc)


def test_connection_refused_is_retried_then_a_transport_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    sleeps: list[float] = []
    with (
        Client(
            "acme",
            api_key="KEY",
            api_secret=SECRET,
            base_url=f"http://127.0.0.1:{port}",
            sleep=sleeps.append,
            max_attempts=4,
            timeout=0.5,
        ) as client,
        pytest.raises(errors.TransportError) as raised,
    ):
        client.agent_tokens.get(TOKEN)
    assert len(sleeps) == 3
    assert "connection refused" in str(raised.value)
    assert_clean(raised.value)

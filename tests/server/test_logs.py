"""What the server logs, against a real ``lacework-tokens serve --log-level debug``.

- a token value never appears in a logged path, whether or not the path matches a route
  (a mistyped collection, an extra segment, an empty segment, another API version);
- a decoded path with CR, LF, NUL or a bidirectional override cannot forge or hide a log line:
  every log entry starts with its timestamp, and control characters are written escaped.
"""

from __future__ import annotations

import http.client
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from lacework_tokens.testing import Backend, run_backend

# Where each log entry starts: "2026-01-01T12:00:00.000Z LEVEL logger: message".
ENTRY = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z [A-Z]+ \S+: ")
CONTINUATION = "    "
# A guard against a hang, not a measurement: what is awaited comes far sooner.
GUARD_SECONDS = 10.0


@pytest.fixture(scope="module")
def debug_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    directory = tmp_path_factory.mktemp("logs")
    with run_backend(directory, extra_args=["--log-level", "debug"]) as backend:
        yield backend


def raw_get(backend: Backend, path: str, bearer: str | None = None) -> int:
    """A GET of ``path`` exactly as written (percent-escapes and all), without any client
    normalising it first."""
    address = urlsplit(backend.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        if bearer is not None:
            connection.putheader("Authorization", bearer)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def logs_with(backend: Backend, *needles: str) -> str:
    """The server's log once it holds every one of ``needles``: a request's line is written
    just after its answer, so a client can be a moment ahead of it. Gives up after a while."""
    deadline = time.monotonic() + GUARD_SECONDS
    while True:
        logs = backend.logs()
        if all(needle in logs for needle in needles) or time.monotonic() > deadline:
            return logs
        time.sleep(0.02)


@pytest.mark.parametrize(
    "template",
    [
        "/api/v2/AgentAccessTokens/{t}/enable",
        "/api/v2/agentaccesstokens/{t}",
        "//{t}",
        "/api/v1/AgentAccessTokens/{t}",
        "/api/v2/AgentAccessTokens{t}",
        "/{t}",
    ],
)
def test_token_values_in_paths_that_match_no_route_are_masked(
    debug_backend: Backend, template: str
) -> None:
    value = secrets.token_hex(28)
    assert raw_get(debug_backend, template.format(t=value)) in (404, 405)
    logs = logs_with(debug_backend, "…" + value[-4:])  # the request was logged, masked
    assert value not in logs


def test_a_matched_token_value_and_route_words_are_logged_as_before(
    debug_backend: Backend,
) -> None:
    client = debug_backend.client()
    created = client.agent_tokens.create(f"logged-{secrets.token_hex(4)}")
    client.agent_tokens.get(created.token)
    client.close()
    get_line = f"GET /api/v2/AgentAccessTokens/{created.token[:4]}…{created.token[-4:]} 200"
    logs = logs_with(debug_backend, get_line, "POST /api/v2/AgentAccessTokens 201")
    assert get_line in logs and "POST /api/v2/AgentAccessTokens 201" in logs
    assert created.token not in logs


@pytest.mark.parametrize(
    "injected",
    [
        # Short segments: long ones are masked whole, which would hide what is tested here.
        "\r\n2026-01-01/forged",
        "\n2026-01-01/forged",
        "\x00\x1b[2K/forged",
        "\u202e/forged",
    ],
)
def test_control_characters_in_a_path_cannot_forge_a_log_line(
    debug_backend: Backend, injected: str
) -> None:
    marker = secrets.token_hex(4)
    path = f"/api/v2/{marker}/" + quote(injected, safe="/")
    assert raw_get(debug_backend, path) == 404
    lines = logs_with(debug_backend, marker).splitlines()
    logged = [line for line in lines if marker in line]
    assert len(logged) == 1, logged
    # Every entry starts with its timestamp; anything else is an indented continuation.
    assert all(ENTRY.match(line) or line.startswith(CONTINUATION) for line in lines)
    assert not any(line.lstrip().startswith(("2026-01-01/", "forged")) for line in lines)
    assert "/forged 404" in logged[0]  # still there, escaped, on the request's own line
    escapes = {"\r": "\\x0d", "\n": "\\x0a", "\x00": "\\x00", "\x1b": "\\x1b"}
    escapes["\u202e"] = "\\u202e"
    for char, escaped in escapes.items():
        if char in injected:
            assert char not in logged[0] and escaped in logged[0]


def test_the_formatter_escapes_arguments_and_indents_the_servers_own_tracebacks() -> None:
    import logging

    from lacework_tokens.server.logs import LogFormatter, Multiline

    formatter = LogFormatter("%(levelname)s %(message)s")
    forged = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "path %s", ("a\r\nINFO forged\x00",), None
    )
    assert formatter.format(forged) == "INFO path a\\x0d\\x0aINFO forged\\x00"
    traceback_record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "failed\n%s", (Multiline("frame 1\nframe 2\x1b"),), None
    )
    assert formatter.format(traceback_record) == ("ERROR failed\n    frame 1\n    frame 2\\x1b")


def test_path_masking_keeps_route_words_and_masks_everything_long(tmp_path: Path) -> None:
    from lacework_tokens.server.logs import masked_path

    words = {"api", "v2", "AgentAccessTokens", "search"}
    value = "0123456789abcdef0123"
    assert masked_path(f"/api/v2/AgentAccessTokens/{value}", words) == (
        "/api/v2/AgentAccessTokens/0123…0123"
    )
    assert masked_path("/api/v2/AgentAccessTokens/search", words) == (
        "/api/v2/AgentAccessTokens/search"
    )
    assert masked_path("/api/v2/AgentAccessTokens/short", words, also="short") == (
        "/api/v2/AgentAccessTokens/****"
    )

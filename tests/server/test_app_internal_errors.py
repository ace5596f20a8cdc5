"""A bug behind the HTTP face becomes a JSON 500 and a log line that holds no secret.

No request can provoke a 500 from the real service (the fuzz tests make sure of that), so this
one drives the ASGI app in-process over a real SQLite-backed service whose list operation fails.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lacework_tokens import wire
from lacework_tokens.server.app import create_app
from lacework_tokens.server.crypto import Sealer
from lacework_tokens.server.services import Principal, Services, TokenService
from lacework_tokens.server.storage import open_store

LEAKY = "s3cr3t-in-an-exception-message"


class BrokenListTokens(TokenService):
    def token_pages(
        self, principal: Principal, request: wire.SearchRequest | None = None, page_size: int = 100
    ) -> Iterator[list[wire.AgentAccessToken]]:
        raise RuntimeError(f"driver exploded near {LEAKY}")
        yield []  # a generator, failing when its first page is read


def call(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, Any]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": headers,
        "query_string": b"",
    }
    asyncio.run(app(scope, receive, send))
    start, body = sent
    assert (b"content-type", b"application/json") in start["headers"]
    return start["status"], json.loads(body["body"])


def test_an_unexpected_error_is_a_json_500_logged_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(str(tmp_path / "tokens.db"))
    services = Services(store, Sealer.ephemeral())
    services.tokens = BrokenListTokens(store, services.sealer, services.clock)
    key = services.identity.create_api_key("local")
    issued = services.identity.issue_access_token(
        wire.AccessTokenRequest(key_id=key.key_id), key.secret
    )
    app = create_app(services)
    with caplog.at_level(logging.DEBUG):
        status, body = call(
            app, "GET", "/api/v2/AgentAccessTokens", [(b"authorization", issued.token.encode())]
        )
    store.close()
    assert status == 500
    assert body == {"message": "internal server error"}
    assert "unexpected RuntimeError while serving GET tokens" in caplog.text
    assert LEAKY not in caplog.text
    assert issued.token not in caplog.text


class FailingSecondPage(TokenService):
    def token_pages(
        self, principal: Principal, request: wire.SearchRequest | None = None, page_size: int = 100
    ) -> Iterator[list[wire.AgentAccessToken]]:
        yield [wire.AgentAccessToken(token="0" * 56, name="first-page")]
        raise RuntimeError(f"driver exploded near {LEAKY}")


def test_a_failure_after_the_first_page_drops_the_answer_and_logs_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(str(tmp_path / "tokens.db"))
    services = Services(store, Sealer.ephemeral())
    services.tokens = FailingSecondPage(store, services.sealer, services.clock)
    key = services.identity.create_api_key("local")
    issued = services.identity.issue_access_token(
        wire.AccessTokenRequest(key_id=key.key_id), key.secret
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/v2/AgentAccessTokens",
        "headers": [(b"authorization", issued.token.encode())],
        "query_string": b"",
    }
    with caplog.at_level(logging.DEBUG):
        asyncio.run(create_app(services)(scope, receive, send))
    services.close()
    store.close()
    start, *bodies = sent
    assert start["status"] == 200
    # Never a complete body: the client sees a truncated answer, not a wrong one.
    assert all(body.get("more_body") for body in bodies)
    assert b"first-page" in b"".join(body["body"] for body in bodies)
    assert "unexpected RuntimeError while sending a paged answer" in caplog.text
    assert LEAKY not in caplog.text

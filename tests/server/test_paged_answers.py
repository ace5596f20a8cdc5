"""A large list or search is sent page by page, and other requests are served between pages.

The ASGI app is driven in-process on one event loop, so the order of what it sends is exact:
requests made while a list of 2,000 tokens is under way are answered long before that list
ends, and what the list sends is still, byte for byte, the one ``{"data": [...]}`` answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lacework_tokens import wire
from lacework_tokens.server.app import create_app
from lacework_tokens.server.crypto import Sealer, new_agent_token
from lacework_tokens.server.routes import ANSWER_PAGE_SIZE
from lacework_tokens.server.services import Services
from lacework_tokens.server.storage import open_store
from lacework_tokens.server.storage.records import TokenRecord

TOKENS = 2000
Sent = list[tuple[str, dict[str, Any]]]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, str, str]]:
    """Services over 2,000 tokens of account ``local``, a bearer, and one token value."""
    path: Path = tmp_path_factory.mktemp("paged") / "tokens.db"
    store = open_store(str(path))
    sealer = Sealer.ephemeral()
    values = [new_agent_token() for _ in range(TOKENS)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    store.insert_tokens_bulk(  # type: ignore[attr-defined]
        TokenRecord(
            account="local",
            lookup=sealer.lookup(value),
            sealed=sealer.seal(value),
            alias=f"bulk-{index}",
            enabled=True,
            description="",
            os="linux",
            subscription=None,
            created_time=start + timedelta(milliseconds=index),
            updated_time=start + timedelta(milliseconds=index),
            version=wire.TOKEN_VERSION,
        )
        for index, value in enumerate(values)
    )
    services = Services(store, sealer)
    key = services.identity.create_api_key("local")
    bearer = services.identity.issue_access_token(wire.AccessTokenRequest(key.key_id), key.secret)
    yield services, bearer.token, values[7]
    services.close()
    store.close()


async def request(
    app: Any, name: str, sent: Sent, method: str, path: str, bearer: str, body: bytes = b""
) -> None:
    delivered = False
    stay = asyncio.Event()  # the client stays connected until the test ends

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await stay.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append((name, message))

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(b"authorization", bearer.encode())],
        "query_string": b"",
        "client": ("127.0.0.1", 40000),
    }
    await app(scope, receive, send)


def body_of(sent: Sent, name: str) -> bytes:
    return b"".join(m.get("body", b"") for who, m in sent if who == name)


def finished_at(sent: Sent, name: str) -> int:
    """The position of ``name``'s last message among everything sent."""
    return max(i for i, (who, m) in enumerate(sent) if who == name and not m.get("more_body"))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v2/AgentAccessTokens", b""),
        (
            "POST",
            "/api/v2/AgentAccessTokens/search",
            b'{"filters":[{"field":"tokenAlias","expression":"like","value":"bulk-%"}]}',
        ),
    ],
    ids=["list", "search"],
)
def test_requests_made_during_a_large_read_are_answered_before_it_ends(
    loaded: tuple[Services, str, str], method: str, path: str, body: bytes
) -> None:
    services, bearer, value = loaded
    app = create_app(services)
    sent: Sent = []

    async def scenario() -> None:
        reading = asyncio.create_task(request(app, "big", sent, method, path, bearer, body))
        while not any(who == "big" for who, _ in sent):  # the read has begun
            await asyncio.sleep(0)
        others = [
            request(app, "health", sent, "GET", "/healthz", bearer),
            request(app, "get", sent, "GET", f"/api/v2/AgentAccessTokens/{value}", bearer),
        ]
        await asyncio.gather(*others)
        await reading

    asyncio.run(scenario())
    big_pages = [i for i, (who, m) in enumerate(sent) if who == "big" and "body" in m]
    assert len(big_pages) >= TOKENS // ANSWER_PAGE_SIZE  # sent page by page
    for other in ("health", "get"):
        # Answered after the read began, within its first few pages, long before its end.
        done = finished_at(sent, other)
        assert big_pages[0] < done < big_pages[10]
    assert json.loads(body_of(sent, "get"))["data"]["accessToken"] == value
    listed = json.loads(body_of(sent, "big"))["data"]
    assert [token["tokenAlias"] for token in listed] == [f"bulk-{n}" for n in range(TOKENS)]
    # The paged answer is exactly what one encoding of the whole list would be.
    every = services.tokens.list_tokens(services.identity.authenticate(bearer))
    expected = json.dumps(
        {"data": [wire.converter.unstructure(token) for token in every]}, separators=(",", ":")
    )
    assert body_of(sent, "big") == expected.encode()

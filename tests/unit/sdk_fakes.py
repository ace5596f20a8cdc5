"""Helpers for SDK unit tests that answer HTTP with ``responses``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import responses

from lacework_tokens import Client, wire

BASE_URL = "https://acme.lacework.test"
TOKENS_URL = f"{BASE_URL}/api/v2/AgentAccessTokens"
SEARCH_URL = f"{TOKENS_URL}/search"
ACCESS_URL = f"{BASE_URL}/api/v2/access/tokens"
API_KEY = "ACME_0123456789ABCDEF"
API_SECRET = "_s3cr3t-value-0123456789abcdef"
TOKEN = "6f3a9c1e8b7d4f2a0c5e1b3d7f9a2c4e6b8d0f1a3c5e7b9d1f3a5c7e9b1d3f5a"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def token_wire(
    token: str = TOKEN,
    name: str = "prod",
    *,
    enabled: int = 1,
    description: str = "k8s deployment",
    os: str = "linux",
) -> dict[str, Any]:
    return {
        "accessToken": token,
        "createdTime": "2026-11-25T12:05:00.000Z",
        "props": {"createdTime": "2026-11-25T12:00:00.000Z", "description": description, "os": os},
        "tokenAlias": name,
        "tokenEnabled": enabled,
        "version": "0.1",
    }


def bearer_body(value: str = "bearer-1", expires: datetime | None = None) -> dict[str, str]:
    expires = expires or datetime.now(UTC) + timedelta(hours=1)
    return {"token": value, "expiresAt": wire.format_time(expires)}


def add_bearer(rsps: responses.RequestsMock, value: str = "bearer-1") -> None:
    rsps.add(responses.POST, ACCESS_URL, json=bearer_body(value), status=201)


def make_client(sleeps: list[float] | None = None, **options: Any) -> Client:
    """A client of the fake server; waits between attempts are recorded, not slept."""
    recorded = sleeps if sleeps is not None else []
    options.setdefault("max_attempts", 4)
    return Client(
        "acme",
        API_KEY,
        API_SECRET,
        base_url=BASE_URL,
        sleep=recorded.append,
        **options,
    )


def body_of(call: Any) -> Any:
    request: requests.PreparedRequest = call.request
    raw = request.body
    if raw is None:
        return None
    return json.loads(raw if isinstance(raw, str) else raw.decode())


def calls_to(rsps: responses.RequestsMock, method: str, url: str) -> list[Any]:
    return [
        c
        for c in rsps.calls
        if c.request.method == method and (c.request.url or "").split("?")[0] == url
    ]

"""Plain-``requests`` calls to a running backend, as any Lacework client would send them.

The scale-out and crash tests talk HTTP without the SDK so that nothing between the test and
the server retries, caches or hides a status code. Every call is a fresh ``requests`` call (no
shared session), so the helpers are safe to use from many threads at once.
"""

from __future__ import annotations

from typing import Any, Final

import requests

from lacework_tokens.testing import Backend

TOKENS: Final = "/api/v2/AgentAccessTokens"
TIMEOUT_SECONDS: Final = 30.0


def bearer_token(backend: Backend) -> str:
    """A bearer token from ``POST /api/v2/access/tokens`` with the backend's admin key."""
    response = requests.post(
        f"{backend.url}/api/v2/access/tokens",
        json={"keyId": backend.api_key, "expiryTime": 3600},
        headers={"X-LW-UAKS": backend.api_secret},
        timeout=TIMEOUT_SECONDS,
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


class RawApi:
    """The agent-access-token endpoints of one backend, with one bearer token."""

    def __init__(self, url: str, bearer: str) -> None:
        self.url = url
        self._headers = {"Authorization": f"Bearer {bearer}"}

    @classmethod
    def login(cls, backend: Backend) -> RawApi:
        return cls(backend.url, bearer_token(backend))

    def create(self, alias: str, *, enabled: bool = True, **props: str) -> requests.Response:
        body: dict[str, Any] = {"tokenAlias": alias, "tokenEnabled": int(enabled)}
        if props:
            body["props"] = props
        return requests.post(
            f"{self.url}{TOKENS}", json=body, headers=self._headers, timeout=TIMEOUT_SECONDS
        )

    def get(self, token: str) -> requests.Response:
        return requests.get(
            f"{self.url}{TOKENS}/{token}", headers=self._headers, timeout=TIMEOUT_SECONDS
        )

    def patch(self, token: str, body: dict[str, Any]) -> requests.Response:
        return requests.patch(
            f"{self.url}{TOKENS}/{token}", json=body, headers=self._headers, timeout=TIMEOUT_SECONDS
        )

    def list(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}{TOKENS}", headers=self._headers, timeout=60)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

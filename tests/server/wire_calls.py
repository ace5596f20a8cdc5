"""HTTP calls to a running backend with plain ``requests``, checking the wire as it is.

No SDK in between: what these helpers send and receive is exactly what Lacework's own clients
would, so the tests that use them check the wire format itself.
"""

from __future__ import annotations

import re
from typing import Any, Final

import requests

from lacework_tokens.testing import Backend

TOKENS: Final = "/api/v2/AgentAccessTokens"
ACCESS_TOKENS: Final = "/api/v2/access/tokens"
TIMEOUT_SECONDS: Final = 30.0
# RFC 3339 in UTC with exactly three fractional digits and a Z: what laceworksdk can parse.
WIRE_TIME: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
TOKEN_VALUE: Final = re.compile(r"^[0-9a-f]{56}$")


def issue_bearer(backend: Backend, expiry_time: int = 3600) -> requests.Response:
    return requests.post(
        f"{backend.url}{ACCESS_TOKENS}",
        json={"keyId": backend.api_key, "expiryTime": expiry_time},
        headers={"X-LW-UAKS": backend.api_secret},
        timeout=TIMEOUT_SECONDS,
        verify=backend.verify,
    )


def bearer_token(backend: Backend, expiry_time: int = 3600) -> str:
    response = issue_bearer(backend, expiry_time)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def assert_error(response: requests.Response, status: int) -> str:
    """The response is ``status`` with a JSON ``{"message": ...}`` body; returns the message."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"message"}, body
    message: str = body["message"]
    assert message
    return message


class Wire:
    """One backend and one bearer token; ``raw=True`` sends it as the Go SDK does."""

    def __init__(self, backend: Backend, *, raw: bool = False) -> None:
        self.backend = backend
        self.bearer = bearer_token(backend)
        self.authorization = self.bearer if raw else f"Bearer {self.bearer}"
        self.session = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        authorize: bool = True,
    ) -> requests.Response:
        sent = {"Authorization": self.authorization} if authorize else {}
        sent.update(headers or {})
        return self.session.request(
            method,
            f"{self.backend.url}{path}",
            json=json,
            data=data,
            headers=sent,
            timeout=TIMEOUT_SECONDS,
            # Per request: a session's ``verify`` loses to REQUESTS_CA_BUNDLE from the environment.
            verify=self.backend.verify,
        )

    def create(self, alias: str, *, enabled: int = 1, **props: str) -> dict[str, Any]:
        body: dict[str, Any] = {"tokenAlias": alias, "tokenEnabled": enabled}
        if props:
            body["props"] = props
        response = self.call("POST", TOKENS, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()["data"]
        return created

    def get(self, token: str) -> requests.Response:
        return self.call("GET", f"{TOKENS}/{token}")

    def patch(self, token: str, body: Any) -> requests.Response:
        return self.call("PATCH", f"{TOKENS}/{token}", json=body)

    def search(self, body: Any) -> requests.Response:
        return self.call("POST", f"{TOKENS}/search", json=body)

    def list(self) -> list[dict[str, Any]]:
        response = self.call("GET", TOKENS)
        assert response.status_code == 200, response.text
        listed: list[dict[str, Any]] = response.json()["data"]
        return listed

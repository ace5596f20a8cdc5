"""The backend in-process, for tests that pin its rules: the one place that knows its modules.

``Server`` builds the service over a fresh SQLite store and drives the real HTTP face as an
ASGI application, without sockets or threads. Operations that have no HTTP route (API keys, the
audit trail) call the service directly, and every refusal the service makes comes back as
``Refused`` with the status and message a client would see. Tests that use only this module do
not change when the service or the storage layer is split into other modules: this file does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest
from attrs import frozen

from lacework_tokens import wire
from lacework_tokens.server.app import create_app
from lacework_tokens.server.crypto import Sealer, hash_secret
from lacework_tokens.server.ratelimit import Rate
from lacework_tokens.server.services import ServiceError, Services
from lacework_tokens.server.storage import open_store
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import AuditEvent, Role

__all__ = [
    "START",
    "Answer",
    "Clock",
    "MonotonicClock",
    "Refused",
    "Server",
    "Session",
]

START: Final = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
TOKENS: Final = "/api/v2/AgentAccessTokens"
ACCESS_TOKENS: Final = "/api/v2/access/tokens"
_UNLIMITED: Final = Rate(per_second=0.0, burst=0)


class Clock:
    """The server's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class MonotonicClock:
    """``time.monotonic`` under the test's control: it stands still until advanced.

    It is the clock of the server's once-a-minute housekeeping (purging expired bearers).
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = time.monotonic()
        monkeypatch.setattr(time, "monotonic", self)

    def __call__(self) -> float:
        return self.now

    def advance_to(self, seconds: float, since: float) -> None:
        self.now = since + seconds


class Refused(Exception):
    """The server refused an operation: what a client would be told."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@frozen
class Answer:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def data(self) -> Any:
        assert self.status < 300, (self.status, self.body)
        return self.body["data"]

    @property
    def message(self) -> str:
        assert self.status >= 400, (self.status, self.body)
        assert set(self.body) == {"message"}, self.body
        text: str = self.body["message"]
        return text


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """The service's errors as ``Refused``, as the HTTP face turns them into answers."""
    try:
        yield
    except ServiceError as error:
        raise Refused(error.status, error.message) from None


class Server:
    """One backend: a SQLite store in ``directory``, the service, and its HTTP face."""

    def __init__(self, directory: Path) -> None:
        self.clock = Clock()
        self._store: Store = open_store(str(directory / "tokens.db"))
        self._sealer = Sealer.ephemeral()
        self._start()

    def _start(self) -> None:
        self._services = Services(self._store, self._sealer, clock=self.clock)
        self._identity = self._services.identity
        self._audit = self._services.audit
        self._app = create_app(self._services, key_rate=_UNLIMITED, login_rate=_UNLIMITED)

    def restart(self) -> None:
        """A new server process over the same database: nothing remembered in memory (the
        old one wrote its pending audit events as it stopped)."""
        self._services.close()
        self._start()

    def close(self) -> None:
        self._services.close()
        self._store.close()

    @classmethod
    @contextlib.contextmanager
    def running(cls, directory: Path) -> Iterator[Server]:
        server = cls(directory)
        try:
            yield server
        finally:
            server.close()

    # --- HTTP -------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        raw = b"" if body is None else json.dumps(body).encode()
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": b"",
            "client": ("127.0.0.1", 50000),
            "headers": [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in (headers or {}).items()
            ],
        }
        asyncio.run(self._app(scope, receive, send))
        # A list answer comes a page at a time: its body is every body message, in order.
        start, *parts = sent
        assert start["type"] == "http.response.start", start
        assert not parts[-1].get("more_body", False), parts[-1]
        return Answer(
            status=start["status"],
            body=json.loads(b"".join(part["body"] for part in parts)),
            headers={k.decode(): v.decode() for k, v in start["headers"]},
        )

    def issue_bearer(self, key: wire.ApiKeyFile, *, secret: str | None = None) -> Answer:
        """``POST /api/v2/access/tokens`` with ``key`` (and its own secret unless given)."""
        return self.call(
            "POST",
            ACCESS_TOKENS,
            {"keyId": key.key_id, "expiryTime": 3600},
            headers={"X-LW-UAKS": key.secret if secret is None else secret},
        )

    def login(
        self, account: str = "acme", role: str = "admin", *, expiry_time: int = 3600
    ) -> Session:
        key = self.new_key(account, role=role)
        answer = self.call(
            "POST",
            ACCESS_TOKENS,
            {"keyId": key.key_id, "expiryTime": expiry_time},
            headers={"X-LW-UAKS": key.secret},
        )
        assert answer.status == 201, answer.body
        return Session(self, answer.body["token"])

    # --- administration (no HTTP route) ------------------------------------------------

    def new_key(
        self, account: str = "acme", *, role: str = "admin", user: str | None = None
    ) -> wire.ApiKeyFile:
        """A new API key (Lacework's key file: ``key_id``, ``secret``), as ``keys create`` makes
        it; ``user`` left out is the command's default."""
        with _refusals():
            if user is None:
                return self._identity.create_api_key(account, role=Role(role))
            return self._identity.create_api_key(account, role=Role(role), user=user)

    def ensure_key(self, account: str, key_id: str, secret: str) -> bool:
        """The key ``serve`` makes sure of at startup (``LW_API_KEY``); True when created."""
        with _refusals():
            return self._identity.ensure_api_key(account, key_id, secret)

    def key_user(self, key_id: str) -> str:
        with _refusals():
            return self._identity.get_api_key(key_id).user

    def key_ids(self, account: str | None = None) -> list[str]:
        """The ids of the API keys (of ``account``), as ``keys list`` shows them."""
        with _refusals():
            return [key.key_id for key in self._identity.list_api_keys(account)]

    def create_account(self, name: str, parent: str | None = None) -> None:
        with _refusals():
            self._identity.create_account(name, parent=parent)

    def set_key_enabled(self, key_id: str, enabled: bool) -> None:
        with _refusals():
            self._identity.set_api_key_enabled(key_id, enabled)

    def revoke_bearers(self, key_id: str, bearer: str | None = None) -> int:
        """``keys revoke-bearers``: every bearer of the key, or only ``bearer``; how many."""
        with _refusals():
            return self._identity.revoke_bearers(key_id, bearer=bearer)

    def audit(self, account: str | None = None, limit: int | None = None) -> list[AuditEvent]:
        """The audit trail, newest first (``limit`` as the ``audit`` command passes it), once
        the events written in the background (failed logins, reads) are in: the server writes
        them within a second, the test does not wait for it."""
        self._services.deferred.flush()
        with _refusals():
            if limit is None:
                return self._audit.list_events(account)
            return self._audit.list_events(account, limit)

    def bearer_is_stored(self, bearer: str) -> bool:
        """Whether the database still holds a row for this bearer token."""
        return self._store.get_bearer(hash_secret(bearer)) is not None


class Session:
    """HTTP calls with one bearer token, as a client of the API makes them."""

    def __init__(self, server: Server, bearer: str) -> None:
        self.server = server
        self.bearer = bearer

    def call(self, method: str, path: str, body: Any = None) -> Answer:
        return self.server.call(
            method, path, body, headers={"Authorization": f"Bearer {self.bearer}"}
        )

    def create(self, alias: str, **props: str) -> Answer:
        body: dict[str, Any] = {"tokenAlias": alias}
        if props:
            body["props"] = props
        return self.call("POST", TOKENS, body)

    def get(self, token: str) -> Answer:
        return self.call("GET", f"{TOKENS}/{token}")

    def patch(self, token: str, body: Any) -> Answer:
        return self.call("PATCH", f"{TOKENS}/{token}", body)

    def search(self, *filters: dict[str, Any]) -> Answer:
        return self.call("POST", f"{TOKENS}/search", {"filters": list(filters)})

    def aliases(self, *filters: dict[str, Any]) -> list[str]:
        """The aliases a search finds, sorted."""
        return sorted(token["tokenAlias"] for token in self.search(*filters).data)

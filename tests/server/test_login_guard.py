"""Guessing secrets and bearers, against a real server with its default limits.

- failed logins for one key id back off, from whatever address they come: 3,600 guesses from
  40 loopback addresses get no further than a dozen checks, the rest are 429;
- the right secret waits its turn too, then logs in and starts the count again;
- every failed login of a known key is audited with the address it came from;
- an address that keeps sending invalid bearers is answered 429 before any lookup, valid
  bearer or not, while other addresses are served.

Counts are asserted, not durations. The login backoff grows 1 s, 2 s, 4 s …, so however slow
the machine, a test lasting under a minute lets at most six more guesses through.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wire_calls import ACCESS_TOKENS, TOKENS, bearer_token

from lacework_tokens.server.ratelimit import LOGIN_FREE_FAILURES
from lacework_tokens.testing import Backend, run_backend

ADDRESSES = [f"127.0.{n // 200}.{n % 200 + 2}" for n in range(40)]
WRONG = "_" + "0" * 32
# Checks past the free ones that the doubling backoff can let through in a minute: 1+2+4+8+16+32.
LATE_CHECKS = 6
GUARD_SECONDS = 20.0


def request(
    backend: Backend,
    method: str,
    path: str,
    *,
    source: str = "127.0.0.1",
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request from ``source`` (any 127/8 address is this machine)."""
    address = urlsplit(backend.url)
    connection = http.client.HTTPConnection(
        address.hostname or "", address.port, timeout=GUARD_SECONDS, source_address=(source, 0)
    )
    try:
        payload = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=payload, headers=headers or {})
        response = connection.getresponse()
        answer = json.loads(response.read() or b"{}")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, answer
    finally:
        connection.close()


def login(backend: Backend, secret: str, source: str = "127.0.0.1") -> tuple[int, dict[str, str]]:
    status, headers, _ = request(
        backend,
        "POST",
        ACCESS_TOKENS,
        source=source,
        body={"keyId": backend.api_key},
        headers={"X-LW-UAKS": secret, "Content-Type": "application/json"},
    )
    return status, headers


def audit(tmp_path: Path, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """The audit trail once ``done`` holds (failed logins are written within a second)."""
    import subprocess
    import sys

    db = tmp_path / "lacework-tokens" / "tokens.db"
    deadline = time.monotonic() + GUARD_SECONDS
    while True:
        result = subprocess.run(
            [sys.executable, "-m", "lacework_tokens", "audit", "--db", str(db), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        events: list[dict[str, Any]] = json.loads(result.stdout)
        if done(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def test_guesses_from_forty_addresses_are_held_back_per_key_id(tmp_path: Path) -> None:
    with run_backend(tmp_path) as backend:
        statuses: list[int] = []
        waits: list[int] = []
        for _ in range(90):  # 3,600 guesses, 90 from each address
            for source in ADDRESSES:
                status, headers = login(backend, WRONG, source)
                statuses.append(status)
                if status == 429:
                    waits.append(int(headers["retry-after"]))
        checked = statuses.count(401)
        # Every checked guess is audited; wait for all of them, the late ones included.
        events = audit(
            tmp_path,
            lambda found: sum(e["action"] == "login.failed" for e in found) >= checked,
        )
    assert LOGIN_FREE_FAILURES <= checked <= LOGIN_FREE_FAILURES + LATE_CHECKS
    assert statuses.count(429) == len(statuses) - checked
    assert statuses[:LOGIN_FREE_FAILURES] == [401] * LOGIN_FREE_FAILURES
    assert all(1 <= wait <= 60 for wait in waits)
    failed = [e for e in events if e["action"] == "login.failed"]
    assert len(failed) == checked  # each check audited, none of the refusals
    assert {e["address"] for e in failed} >= set(ADDRESSES[:LOGIN_FREE_FAILURES])
    assert {e["address"] for e in failed} <= set(ADDRESSES)
    assert all(e["keyId"] == backend.api_key for e in failed)


def test_the_right_secret_waits_its_turn_then_starts_the_count_again(tmp_path: Path) -> None:
    with run_backend(tmp_path) as backend:
        for _ in range(LOGIN_FREE_FAILURES):
            assert login(backend, WRONG)[0] == 401
        status, headers = login(backend, backend.api_secret)
        assert status == 429  # not even checked: a guesser learns nothing from it
        time.sleep(int(headers["retry-after"]))
        assert login(backend, backend.api_secret)[0] == 201
        # A success forgets the failures: ten more wrong secrets are checked again.
        assert [login(backend, WRONG)[0] for _ in range(LOGIN_FREE_FAILURES)] == [401] * 10
        # Unknown key ids are held back the same way: their answers tell nothing.
        unknown = [
            request(
                backend,
                "POST",
                ACCESS_TOKENS,
                body={"keyId": "LOCAL_" + "0" * 32},
                headers={"X-LW-UAKS": WRONG},
            )[0]
            for _ in range(LOGIN_FREE_FAILURES + 2)
        ]
    assert unknown == [401] * LOGIN_FREE_FAILURES + [429, 429]


def test_an_address_sending_invalid_bearers_is_throttled_before_any_lookup(
    tmp_path: Path,
) -> None:
    with run_backend(tmp_path) as backend:
        good = bearer_token(backend)
        statuses = [
            request(backend, "GET", TOKENS, source="127.0.5.5", headers={"Authorization": f"x{n}"})[
                0
            ]
            for n in range(300)
        ]
        refused_good, headers, body = request(
            backend, "GET", TOKENS, source="127.0.5.5", headers={"Authorization": good}
        )
        elsewhere = request(backend, "GET", TOKENS, headers={"Authorization": good})[0]
    assert statuses[:100] == [401] * 100  # the burst of the login rate
    assert statuses.count(429) >= 100
    assert refused_good == 429  # the address is held back whatever it sends
    assert int(headers["retry-after"]) >= 1
    assert "invalid access token" in body["message"]
    assert elsewhere == 200

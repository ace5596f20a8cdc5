"""Reads that return token values are audited, and bearer tokens can be revoked, on a real server.

- a read-only service user may read token values (as in Lacework), but every get, list and
  search that returns values leaves an event: key id, account, address, how many values;
  ``lacework-tokens audit`` shows them, so copying every secret leaves a trace;
- ``lacework-tokens keys revoke-bearers KEY`` revokes a key's bearers (or, with
  ``--bearer-stdin``, one of them) without touching the key; disabling a key revokes them too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from wire_calls import TOKENS, Wire

from lacework_tokens.testing import Backend, run_backend

GUARD_SECONDS = 20.0


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lacework_tokens", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with run_backend(tmp_path_factory.mktemp("read-audit")) as running:
        yield running


def new_key(backend: Backend, *args: str) -> dict[str, str]:
    created = cli("keys", "create", "--db", str(backend.db_path), "--json", *args)
    assert created.returncode == 0, created.stderr
    key: dict[str, str] = json.loads(created.stdout)
    return key


def login(backend: Backend, key: dict[str, str]) -> str:
    answer = requests.post(
        f"{backend.url}/api/v2/access/tokens",
        json={"keyId": key["keyId"]},
        headers={"X-LW-UAKS": key["secret"]},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["token"]
    return token


def get(backend: Backend, bearer: str, path: str = TOKENS) -> requests.Response:
    return requests.get(f"{backend.url}{path}", headers={"Authorization": bearer}, timeout=30)


def events_until(
    backend: Backend, done: Callable[[list[dict[str, Any]]], bool], *args: str
) -> list[dict[str, Any]]:
    """``audit --json`` once ``done`` holds: reads are written in batches, within a second."""
    deadline = time.monotonic() + GUARD_SECONDS
    while True:
        shown = cli("audit", "--db", str(backend.db_path), "--json", "--limit", "1000", *args)
        assert shown.returncode == 0, shown.stderr
        events: list[dict[str, Any]] = json.loads(shown.stdout)
        if done(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def test_every_read_of_token_values_by_a_read_only_key_is_audited(backend: Backend) -> None:
    admin = Wire(backend)
    made = [admin.create(f"read-{n}") for n in range(3)]
    reader = new_key(backend, "--role", "read-only", "--user", "auditor")
    bearer = login(backend, reader)
    assert get(backend, bearer, f"{TOKENS}/{made[0]['accessToken']}").status_code == 200
    listed = get(backend, bearer)
    assert listed.status_code == 200
    count = len(listed.json()["data"])
    searched = requests.post(
        f"{backend.url}{TOKENS}/search",
        json={"filters": [{"field": "tokenAlias", "expression": "like", "value": "read-%"}]},
        headers={"Authorization": bearer},
        timeout=30,
    )
    assert len(searched.json()["data"]) == 3

    def by_reader(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in found if e["actor"] == reader["keyId"]]

    events = by_reader(events_until(backend, lambda found: len(by_reader(found)) >= 3))
    assert [e["action"] for e in events] == ["tokens.searched", "tokens.listed", "token.read"]
    searched_event, listed_event, read_event = events
    for event in events:
        assert event["account"] == "local"
        assert event["actorAccount"] == "local"
        assert event["address"] == "127.0.0.1"
    assert read_event["tokenAlias"] == "read-0"
    assert read_event["tokenId"] and read_event["tokenId"] not in made[0]["accessToken"]
    assert read_event["detail"] == "1 token value"
    assert listed_event["detail"] == f"{count} token values"
    assert searched_event["detail"] == "3 token values; filters tokenAlias like"
    # The table the operator reads shows the same, and no value.
    table = cli("audit", "--db", str(backend.db_path), "--limit", "1000").stdout
    rows = [line.split() for line in table.splitlines()]
    assert ["tokens.listed", reader["keyId"], "127.0.0.1"] in [row[2:5] for row in rows]
    for token in made:
        assert token["accessToken"] not in table


# --- bearer revocation ----------------------------------------------------------------------------


def test_revoke_bearers_stops_every_bearer_of_a_key_and_the_key_logs_in_again(
    backend: Backend,
) -> None:
    key = new_key(backend, "--user", "revoked")
    first, second = login(backend, key), login(backend, key)
    assert get(backend, first).status_code == get(backend, second).status_code == 200
    revoked = cli("keys", "revoke-bearers", key["keyId"], "--db", str(backend.db_path))
    assert revoked.returncode == 0, revoked.stderr
    assert "Revoked 2 bearer tokens" in revoked.stdout
    assert get(backend, first).status_code == get(backend, second).status_code == 401
    assert get(backend, login(backend, key)).status_code == 200  # the key itself is untouched
    events = events_until(backend, lambda found: True)
    assert any(e["action"] == "key.bearers-revoked" and e["keyId"] == key["keyId"] for e in events)


def test_one_leaked_bearer_is_revoked_from_stdin_and_the_others_keep_working(
    backend: Backend,
) -> None:
    key = new_key(backend, "--user", "leaky")
    leaked, kept = login(backend, key), login(backend, key)
    revoked = cli(
        "keys",
        "revoke-bearers",
        key["keyId"],
        "--bearer-stdin",
        "--db",
        str(backend.db_path),
        stdin=leaked + "\n",
    )
    assert revoked.returncode == 0, revoked.stderr
    assert leaked not in revoked.stdout + revoked.stderr
    assert get(backend, leaked).status_code == 401
    assert get(backend, kept).status_code == 200
    # Another key's bearer cannot be revoked by naming the wrong key.
    other = new_key(backend, "--user", "bystander")
    bystander = login(backend, other)
    wrong_key = cli(
        "keys",
        "revoke-bearers",
        key["keyId"],
        "--bearer-stdin",
        "--db",
        str(backend.db_path),
        stdin=bystander,
    )
    assert "was not found" in wrong_key.stdout
    assert get(backend, bystander).status_code == 200


def test_a_key_disabled_and_enabled_again_brings_back_no_bearer(backend: Backend) -> None:
    key = new_key(backend, "--user", "toggled")
    before = login(backend, key)
    db = str(backend.db_path)
    assert cli("keys", "disable", key["keyId"], "--db", db).returncode == 0
    assert cli("keys", "enable", key["keyId"], "--db", db).returncode == 0
    assert get(backend, before).status_code == 401
    assert get(backend, login(backend, key)).status_code == 200

"""A server killed mid-stream (SIGKILL) loses nothing it acknowledged.

Creates stream in from several threads; once enough have been acknowledged the server process
is killed without warning, restarted on the same database, and every create that got a 201 must
be there, intact. On SQLite the store runs WAL with ``synchronous=NORMAL``: a commit is in the
WAL file (in the OS page cache) before the 201 is sent, so a process kill cannot lose it; only
an OS crash or power loss could drop the last commits. PostgreSQL runs with fsync and
synchronous commit on.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from pathlib import Path

import pytest
import requests
from raw_api import RawApi

from lacework_tokens.testing import Backend, run_backend

WORKERS = 8
ACKNOWLEDGED_BEFORE_KILL = 120
WAIT_SECONDS = 120.0


def _create_until_killed(backend: Backend) -> dict[str, tuple[str, bool]]:
    """Stream creates at ``backend`` and SIGKILL it mid-stream; ``{alias: (token, enabled)}``
    for every create the server acknowledged with a 201."""
    api = RawApi.login(backend)
    acknowledged: dict[str, tuple[str, bool]] = {}
    lock = threading.Lock()
    enough = threading.Event()
    server_gone = threading.Event()
    numbers = count()
    unexpected: list[str] = []

    def stream() -> None:
        while not server_gone.is_set():
            with lock:
                number = next(numbers)
            alias, enabled = f"crash-{number:05d}", number % 3 != 0
            try:
                response = api.create(alias, enabled=enabled, description=f"#{number}")
            except requests.RequestException:
                # The server died with this request in flight: its outcome is unknown.
                server_gone.set()
                return
            if response.status_code != 201:
                unexpected.append(f"{alias}: {response.status_code} {response.text[:200]}")
                continue
            with lock:
                acknowledged[alias] = (response.json()["data"]["accessToken"], enabled)
                if len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL:
                    enough.set()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        streams = [pool.submit(stream) for _ in range(WORKERS)]
        reached = enough.wait(WAIT_SECONDS)
        backend.process.kill()  # SIGKILL: no shutdown, no flush, no goodbye
        backend.process.wait()
        server_gone.set()
        for finished in streams:
            finished.result()

    assert reached, f"only {len(acknowledged)} creates acknowledged; {unexpected[:3]}"
    assert unexpected == []
    with lock:
        return dict(acknowledged)


def _assert_all_present(backend: Backend, acknowledged: dict[str, tuple[str, bool]]) -> None:
    api = RawApi.login(backend)
    for alias, (token, enabled) in acknowledged.items():
        response = api.get(token)
        assert response.status_code == 200, f"{alias}: {response.status_code}"
        data = response.json()["data"]
        assert data["accessToken"] == token
        assert data["tokenAlias"] == alias
        assert data["tokenEnabled"] == int(enabled)
        assert data["props"]["description"].startswith("#")
    listed = {item["tokenAlias"]: item["accessToken"] for item in api.list()}
    # Creates whose response was lost in the kill may or may not be there; acknowledged ones are.
    assert {alias: listed.get(alias) for alias in acknowledged} == {
        alias: token for alias, (token, _) in acknowledged.items()
    }
    assert len(set(listed.values())) == len(listed)


def test_sqlite_keeps_every_acknowledged_create_across_a_kill(tmp_path: Path) -> None:
    with run_backend(tmp_path) as backend:
        acknowledged = _create_until_killed(backend)
    assert backend.process.returncode == -9

    with run_backend(tmp_path) as restarted:
        _assert_all_present(restarted, acknowledged)
        # And the restarted server keeps working on the recovered database.
        assert RawApi.login(restarted).create("after-the-crash").status_code == 201


@pytest.mark.postgres
def test_postgres_keeps_every_acknowledged_create_across_a_kill(
    tmp_path: Path, postgres_dsn: str
) -> None:
    args = ["--db", postgres_dsn]
    with run_backend(tmp_path, extra_args=args) as backend:
        acknowledged = _create_until_killed(backend)
    assert backend.process.returncode == -9

    with run_backend(tmp_path, extra_args=args) as restarted:
        _assert_all_present(restarted, acknowledged)
        assert RawApi.login(restarted).create("after-the-crash").status_code == 201

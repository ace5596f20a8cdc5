"""Agent benchmarks; every figure is a ratio against a baseline from the same run.

- enrollments/s and check-ins/s against the backend's own authenticated token ``get`` (goal:
  check-in >= 0.5x);
- ``agent_tokens.usage(token)`` with 100,000 agents enrolled on the token against 1,000 (goal:
  within 1.5x); agents are bulk-loaded into the store, check-ins spread over the last two days;
- paging through every agent with ``client.agents.search`` at 100,000 agents against 10,000:
  peak RSS of the client and of the server (goal: within 1.5x). The server's VmHWM counts the
  pages of the SQLite file it maps (``mmap_size``), which grow with the database; its anonymous
  memory (sampled) is what paging itself holds.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.backend_bench import SERVE_ARGS, Row, bearer, headers, log
from bench.load import Request, run_load
from lacework_tokens import wire
from lacework_tokens.server.crypto import Sealer, new_agent_token
from lacework_tokens.server.storage.records import AgentRecord, TokenRecord
from lacework_tokens.server.storage.sqlite import SqliteStore
from lacework_tokens.testing import Backend, run_backend

LOAD_REQUESTS = int(os.environ.get("BENCH_LOAD_REQUESTS", "6000"))
USAGE_CALLS = int(os.environ.get("BENCH_USAGE_CALLS", "600"))
LARGE_FLEET = int(os.environ.get("BENCH_LARGE_FLEET", "100000"))
SMALL_FLEET = 1000
PAGED_SMALL = 10_000
CHECKIN_AGENTS = 200

# The pager reports its own VmHWM: getrusage's ru_maxrss would carry over the peak of the
# process that forked it (Linux keeps it across exec), and that one bulk-loaded the agents.
_PAGER = """
from datetime import timedelta
from lacework_tokens import Client
with Client.from_env() as client:
    count = sum(1 for _ in client.agents.list(timedelta(days=7)))
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(count, peak.split()[1])
"""


def rates(backend: Backend) -> list[Row]:
    client = backend.client()
    sample = client.agent_tokens.create("bench-agents-get")
    fleet = client.agent_tokens.create("bench-agents-fleet")
    auth = headers(bearer(backend))
    agent_auth = (("Authorization", fleet.token), ("Content-Type", "application/json"))
    get = [Request("GET", f"/api/v2/AgentAccessTokens/{sample.token}", headers=auth)]
    enrollments = [
        Request(
            "POST",
            "/api/v2/AgentEnrollment",
            body=json.dumps({"hostname": f"bench-{index}", "tags": {"Env": "bench"}}).encode(),
            headers=agent_auth,
        )
        for index in range(100)
    ]
    run_load(backend.url, get, total=500)  # warm up
    log("backend get")
    baseline = run_load(backend.url, get, total=LOAD_REQUESTS)
    rows: list[Row] = [("backend get, the baseline (req/s)", baseline.per_second, "baseline")]
    log("enrollments")
    enrolled = run_load(backend.url, enrollments, total=LOAD_REQUESTS)
    # Check-ins of a fleet that enrolled above, each agent in turn.
    checkins = [
        Request(
            "POST",
            "/api/v2/AgentCheckin",
            body=json.dumps({"mid": mid}).encode(),
            headers=agent_auth,
        )
        for mid in range(1, CHECKIN_AGENTS + 1)
    ]
    log("check-ins")
    checked = run_load(backend.url, checkins, total=LOAD_REQUESTS)
    for name, result, goal in (
        ("enrollments", enrolled, ""),
        ("check-ins", checked, ">= 0.50x"),
    ):
        if result.errors:
            raise RuntimeError(f"{name}: {result.errors} error answers during the load")
        rows.append(
            (
                f"{name}: {result.per_second:,.0f}/s vs get",
                result.per_second / baseline.per_second,
                goal,
            )
        )
    client.close()
    return rows


def fill_fleet(tmp: Path, count: int) -> str:
    """One token with ``count`` agents, loaded into the store as the server keeps them;
    returns the token's value."""
    state = tmp / "lacework-tokens"
    sealer = Sealer.from_key_file(state / "secrets.key")
    store = SqliteStore(state / "tokens.db")
    value = new_agent_token()
    now = datetime.now(UTC)
    store.insert_token(
        TokenRecord(
            account="local",
            lookup=sealer.lookup(value),
            sealed=sealer.seal(value),
            alias="fleet",
            enabled=True,
            description="",
            os="linux",
            subscription=None,
            created_time=now - timedelta(days=3),
            updated_time=now - timedelta(days=3),
            version=wire.TOKEN_VERSION,
        )
    )
    rng = random.Random(count)

    def agents() -> Iterator[AgentRecord]:
        for mid in range(1, count + 1):
            seen = now - timedelta(seconds=rng.uniform(0, 2 * 86400))
            yield AgentRecord(
                account="local",
                mid=mid,
                token_lookup=sealer.lookup(value),
                hostname=f"host-{mid}",
                os="Linux",
                arch="amd64",
                agent_version="6.8.0",
                mode="normal",
                ip_addr="10.0.0.1",
                tags={"Hostname": f"host-{mid}", "os": "linux", "arch": "amd64", "Env": "bench"},
                scope=None,
                created_time=seen - timedelta(hours=1),
                last_update=seen,
            )

    store.insert_agents_bulk(agents())
    store.close()
    return value


def usage_scale() -> list[Row]:
    results: dict[int, float] = {}
    for count in (SMALL_FLEET, LARGE_FLEET):
        with tempfile.TemporaryDirectory(prefix="lwt-bench-") as tmp:
            log(f"loading {count:,} agents")
            value = fill_fleet(Path(tmp), count)
            with run_backend(Path(tmp), extra_args=SERVE_ARGS) as backend:
                client = backend.client()
                assert client.agent_tokens.usage(value).enrolled == count
                times: list[float] = []
                for _ in range(USAGE_CALLS):
                    begin = time.perf_counter()
                    client.agent_tokens.usage(value)
                    times.append(time.perf_counter() - begin)
                results[count] = statistics.median(times)
                client.close()
    ratio = results[LARGE_FLEET] / results[SMALL_FLEET]
    return [
        (
            f"usage(token), {LARGE_FLEET:,} vs {SMALL_FLEET:,} agents "
            f"({results[LARGE_FLEET] * 1e6:,.0f} vs {results[SMALL_FLEET] * 1e6:,.0f} us)",
            ratio,
            "<= 1.50x",
        )
    ]


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field}")


class _AnonymousPeak:
    """The most anonymous memory (heap, not the mapped database file) a process held while
    this watched it, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _status_kib(self.pid, "RssAnon"))
            self._stop.wait(0.02)

    def __enter__(self) -> _AnonymousPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def paging_memory() -> list[Row]:
    client_peak: dict[int, int] = {}
    server_peak: dict[int, int] = {}
    server_heap: dict[int, int] = {}
    seconds: dict[int, float] = {}
    for count in (PAGED_SMALL, LARGE_FLEET):
        with tempfile.TemporaryDirectory(prefix="lwt-bench-") as tmp:
            log(f"loading {count:,} agents to page through")
            fill_fleet(Path(tmp), count)
            with run_backend(Path(tmp), extra_args=SERVE_ARGS) as backend:
                begin = time.perf_counter()
                with _AnonymousPeak(backend.process.pid) as heap:
                    paged = subprocess.run(
                        [sys.executable, "-c", _PAGER],
                        env={**os.environ, **backend.env()},
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                seconds[count] = time.perf_counter() - begin
                server_heap[count] = heap.peak
                found, peak = (int(part) for part in paged.stdout.split())
                if found != count:
                    raise RuntimeError(f"paged {found} agents of {count}")
                client_peak[count] = peak
                server_peak[count] = _status_kib(backend.process.pid, "VmHWM")
    rows: list[Row] = []
    for side, peaks in (
        ("client", client_peak),
        ("server (VmHWM, with the mapped database file)", server_peak),
        ("server, anonymous memory only", server_heap),
    ):
        rows.append(
            (
                f"paging all agents, peak RSS of the {side}, {LARGE_FLEET:,} vs {PAGED_SMALL:,} "
                f"({peaks[LARGE_FLEET] / 1024:,.0f} vs {peaks[PAGED_SMALL] / 1024:,.0f} MiB)",
                peaks[LARGE_FLEET] / peaks[PAGED_SMALL],
                "<= 1.50x",
            )
        )
    rows.append(
        (
            f"paging {LARGE_FLEET:,} agents: {LARGE_FLEET / seconds[LARGE_FLEET]:,.0f} agents/s",
            seconds[LARGE_FLEET] / seconds[PAGED_SMALL],
            "",
        )
    )
    return rows


def run() -> list[Row]:
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="lwt-bench-") as tmp,
        run_backend(Path(tmp), extra_args=SERVE_ARGS) as backend,
    ):
        rows += rates(backend)
    rows += usage_scale()
    rows += paging_memory()
    return rows

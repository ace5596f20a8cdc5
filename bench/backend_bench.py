"""Backend and SDK benchmarks; every figure is a ratio against a baseline from the same run.

- backend get / create / list throughput against a bare ASGI endpoint on the same uvicorn
  settings answering static JSON (goal: get >= 0.5x);
- the SDK's ``agent_tokens.get`` against the same request made with plain ``requests``
  (goal: <= 1.15x the time);
- ``get`` latency with 1,000,000 stored tokens against 1,000 (goal: within 1.5x).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from bench.load import Request, run_load
from lacework_tokens import wire
from lacework_tokens.server.crypto import Sealer, new_agent_token
from lacework_tokens.server.storage.records import TokenRecord
from lacework_tokens.server.storage.sqlite import SqliteStore
from lacework_tokens.testing import Backend, run_backend

Row = tuple[str, float, str]

LOAD_REQUESTS = int(os.environ.get("BENCH_LOAD_REQUESTS", "6000"))
SDK_REQUESTS = int(os.environ.get("BENCH_SDK_REQUESTS", "1500"))
LARGE_STORE = int(os.environ.get("BENCH_LARGE_STORE", "1000000"))
SMALL_STORE = 1000
# The per-key rate limiter stays on (its cost is part of what is measured) with a limit no
# benchmark reaches: the default 50/s would answer most of the load with 429.
SERVE_ARGS = ["--rate-limit", "1000000/s", "--rate-burst", "1000000"]


def log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


@contextmanager
def bare_server() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.bare_server"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        url = line.rsplit(" ", 1)[-1]
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(url + "/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def bearer(backend: Backend) -> str:
    answer = requests.post(
        backend.url + "/api/v2/access/tokens",
        headers={"X-LW-UAKS": backend.api_secret, "Content-Type": "application/json"},
        json={"keyId": backend.api_key, "expiryTime": 86400},
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["token"])


def headers(token: str) -> tuple[tuple[str, str], ...]:
    return (("Authorization", token), ("Content-Type", "application/json"))


def throughput(backend: Backend, bare_url: str) -> list[Row]:
    client = backend.client()
    token = bearer(backend)
    sample = client.agent_tokens.create("bench-get", description="benchmark")
    for index in range(49):  # list answers 50 tokens
        client.agent_tokens.create(f"bench-list-{index}")
    auth = headers(token)
    get = [Request("GET", f"/api/v2/AgentAccessTokens/{sample.token}", headers=auth)]
    listing = [Request("GET", "/api/v2/AgentAccessTokens", headers=auth)]
    run_id = random.randrange(16**6)
    creates = [
        Request(
            "POST",
            "/api/v2/AgentAccessTokens",
            body=json.dumps(
                {"tokenAlias": f"c-{run_id:06x}-{i}", "tokenEnabled": 1, "props": {"os": "linux"}}
            ).encode(),
            headers=auth,
        )
        for i in range(LOAD_REQUESTS)
    ]
    bare = [Request("GET", f"/api/v2/AgentAccessTokens/{sample.token}", headers=auth)]

    run_load(bare_url, bare, total=500)  # warm up both servers
    run_load(backend.url, get, total=500)
    rows: list[Row] = []
    log("bare endpoint")
    baseline = run_load(bare_url, bare, total=LOAD_REQUESTS)
    rows.append(("bare ASGI endpoint, static JSON (req/s)", baseline.per_second, "baseline"))
    for name, batch, goal in (
        ("get", get, ">= 0.50x"),
        ("list (50 tokens)", listing, ""),  # before the creates add thousands more
        ("create", creates, ""),
    ):
        log(f"backend {name}")
        result = run_load(backend.url, batch, total=LOAD_REQUESTS)
        if result.errors:
            raise RuntimeError(f"{name}: {result.errors} error answers during the load")
        ratio = result.per_second / baseline.per_second
        rows.append((f"backend {name}: {result.per_second:,.0f} req/s vs bare", ratio, goal))
    client.close()
    return rows


def sdk_overhead(backend: Backend) -> list[Row]:
    client = backend.client()
    sample = client.agent_tokens.create("bench-sdk")
    client.agent_tokens.get(sample.token)  # fetches the bearer token once
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": f"Bearer {bearer(backend)}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
    )
    url = f"{backend.url}/api/v2/AgentAccessTokens/{sample.token}"

    def plain() -> None:
        answer = session.get(url, timeout=30)
        answer.raise_for_status()
        answer.json()

    def sdk() -> None:
        client.agent_tokens.get(sample.token)

    plain_times: list[float] = []
    sdk_times: list[float] = []
    # Interleave rounds so drift on the machine weighs on both sides alike.
    for _ in range(5):
        for fn, times in ((plain, plain_times), (sdk, sdk_times)):
            start = time.perf_counter()
            for _ in range(SDK_REQUESTS // 5):
                fn()
            times.append(time.perf_counter() - start)
    ratio = sum(sdk_times) / sum(plain_times)
    per_call = sum(sdk_times) / SDK_REQUESTS * 1e6
    client.close()
    return [(f"SDK get vs plain requests ({per_call:,.0f} us/call)", ratio, "<= 1.15x")]


def fill(tmp: Path, count: int, account: str = "local") -> list[str]:
    """Bulk-load ``count`` tokens the way the server stores them; returns a sample of values."""
    state = tmp / "lacework-tokens"
    sealer = Sealer.from_key_file(state / "secrets.key")
    store = SqliteStore(state / "tokens.db")
    sample: list[str] = []
    every = max(count // 1000, 1)
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def records() -> Iterator[TokenRecord]:
        for index in range(count):
            value = new_agent_token()
            if index % every == 0:
                sample.append(value)
            if index and index % 100_000 == 0:
                log(f"{index:,} of {count:,} tokens")
            when = start + timedelta(milliseconds=index)
            yield TokenRecord(
                account=account,
                lookup=sealer.lookup(value),
                sealed=sealer.seal(value),
                alias=f"bulk-{index}",
                enabled=True,
                description="",
                os="linux",
                subscription=None,
                created_time=when,
                updated_time=when,
                version=wire.TOKEN_VERSION,
            )

    store.insert_tokens_bulk(records())
    store.close()
    return sample


def latency(backend: Backend, sample: list[str], rounds: int = 3) -> float:
    """Median seconds for one GET of a random stored token, over a keep-alive connection."""
    session = requests.Session()
    session.headers["Authorization"] = bearer(backend)
    times: list[float] = []
    for _ in range(rounds):
        for value in random.sample(sample, len(sample)):
            begin = time.perf_counter()
            answer = session.get(f"{backend.url}/api/v2/AgentAccessTokens/{value}", timeout=30)
            times.append(time.perf_counter() - begin)
            if answer.status_code != 200:
                raise RuntimeError(f"GET answered {answer.status_code}")
    return statistics.median(times)


def scale() -> list[Row]:
    results: dict[int, float] = {}
    for count in (SMALL_STORE, LARGE_STORE):
        with tempfile.TemporaryDirectory(prefix="lwt-bench-") as tmp:
            log(f"loading {count:,} tokens")
            sample = fill(Path(tmp), count)
            with run_backend(Path(tmp), extra_args=SERVE_ARGS) as backend:
                latency(backend, sample, rounds=1)  # warm the page cache alike for both
                results[count] = latency(backend, sample)
    ratio = results[LARGE_STORE] / results[SMALL_STORE]
    return [
        (
            f"get latency, {LARGE_STORE:,} vs {SMALL_STORE:,} tokens "
            f"({results[LARGE_STORE] * 1e6:,.0f} vs {results[SMALL_STORE] * 1e6:,.0f} us)",
            ratio,
            "<= 1.50x",
        )
    ]


def run() -> list[Row]:
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="lwt-bench-") as tmp,
        bare_server() as bare_url,
        run_backend(Path(tmp), extra_args=SERVE_ARGS) as backend,
    ):
        rows += throughput(backend, bare_url)
        rows += sdk_overhead(backend)
    rows += scale()
    return rows

"""A large reader must not stall everyone else; logging in must stay cheap.

- p50 latency of one token ``get`` while three clients keep listing an account of 20,000
  tokens, against the same ``get`` with nothing else running (goal: <= 3x);
- the login path (``POST /api/v2/access/tokens``, what every Terraform plugin start does) with
  a right secret, a wrong secret for an existing key and an unknown key, against the ``get`` of
  the same run: how much a login costs, and that a wrong secret costs what an unknown key costs.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from bench.backend_bench import SERVE_ARGS, Row, bearer, fill, log
from lacework_tokens.testing import Backend, run_backend

LISTED_TOKENS: Final = int(os.environ.get("BENCH_LISTED_TOKENS", "20000"))
LISTING_CLIENTS: Final = 3
GETS: Final = int(os.environ.get("BENCH_RESPONSIVE_GETS", "400"))
LOGINS: Final = int(os.environ.get("BENCH_LOGINS", "300"))
# Logins are limited per address and per key id by default; the benchmark measures their cost.
LOGIN_ARGS: Final = ["--login-rate-limit", "0"]


def _connection(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=120)


def _list_forever(url: str, token: str, stop: multiprocessing.synchronize.Event) -> None:
    """One client listing the account again and again, reading (not parsing) every answer."""
    connection = _connection(url)
    while not stop.is_set():
        connection.request("GET", "/api/v2/AgentAccessTokens", headers={"Authorization": token})
        response = connection.getresponse()
        while response.read(1 << 16):
            pass
        if response.status != 200:
            raise RuntimeError(f"list answered {response.status}")
    connection.close()


def _get_latencies(url: str, token: str, value: str, count: int) -> list[float]:
    connection = _connection(url)
    path = f"/api/v2/AgentAccessTokens/{value}"
    times: list[float] = []
    for _ in range(count):
        begin = time.perf_counter()
        connection.request("GET", path, headers={"Authorization": token})
        response = connection.getresponse()
        response.read()
        times.append(time.perf_counter() - begin)
        if response.status != 200:
            raise RuntimeError(f"get answered {response.status}")
    connection.close()
    return times


def _list_seconds(url: str, token: str, rounds: int = 3) -> float:
    """Median time of one whole list, nothing else running."""
    times: list[float] = []
    connection = _connection(url)
    for _ in range(rounds):
        begin = time.perf_counter()
        connection.request("GET", "/api/v2/AgentAccessTokens", headers={"Authorization": token})
        response = connection.getresponse()
        while response.read(1 << 16):
            pass
        times.append(time.perf_counter() - begin)
    connection.close()
    return statistics.median(times)


def _get_while_listing(backend: Backend, sample: str) -> tuple[float, float]:
    token = bearer(backend)
    _get_latencies(backend.url, token, sample, 50)  # warm up
    alone = statistics.median(_get_latencies(backend.url, token, sample, GETS))
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    listers = [
        context.Process(target=_list_forever, args=(backend.url, token, stop))
        for _ in range(LISTING_CLIENTS)
    ]
    for process in listers:
        process.start()
    try:
        time.sleep(1.0)  # every lister is in the middle of a list
        during = statistics.median(_get_latencies(backend.url, token, sample, GETS))
    finally:
        stop.set()
        for process in listers:
            process.join(timeout=120)
    return alone, during


def responsiveness() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="lwt-bench-") as tmp:
        log(f"loading {LISTED_TOKENS:,} tokens into one account")
        sample = fill(Path(tmp), LISTED_TOKENS)
        with run_backend(Path(tmp), extra_args=SERVE_ARGS) as backend:
            alone, during = _get_while_listing(backend, sample[0])
            one_list = _list_seconds(backend.url, bearer(backend))
    return [
        (
            f"one list of {LISTED_TOKENS:,} tokens, nothing else running (ms)",
            one_list * 1e3,
            "baseline",
        ),
        (
            f"get p50 while {LISTING_CLIENTS} clients list {LISTED_TOKENS:,} tokens vs alone "
            f"({during * 1e3:,.2f} vs {alone * 1e3:,.2f} ms)",
            during / alone,
            "<= 3.00x",
        ),
    ]


def _login_latencies(backend: Backend, key_id: str, secret: str, count: int) -> list[float]:
    connection = _connection(backend.url)
    body = f'{{"keyId":"{key_id}","expiryTime":3600}}'.encode()
    headers = {"X-LW-UAKS": secret, "Content-Type": "application/json"}
    times: list[float] = []
    for _ in range(count):
        begin = time.perf_counter()
        connection.request("POST", "/api/v2/access/tokens", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        times.append(time.perf_counter() - begin)
    connection.close()
    return times


def login_cost() -> list[Row]:
    with (
        tempfile.TemporaryDirectory(prefix="lwt-bench-") as tmp,
        run_backend(Path(tmp), extra_args=[*SERVE_ARGS, *LOGIN_ARGS]) as backend,
    ):
        token = bearer(backend)
        sample = backend.client().agent_tokens.create("bench-login").token
        _get_latencies(backend.url, token, sample, 50)
        _login_latencies(backend, backend.api_key, backend.api_secret, 50)
        get = statistics.median(_get_latencies(backend.url, token, sample, LOGINS))
        right = statistics.median(
            _login_latencies(backend, backend.api_key, backend.api_secret, LOGINS)
        )
        # Wrong secrets and unknown keys interleaved, so drift weighs on both alike.
        wrong: list[float] = []
        unknown: list[float] = []
        for _ in range(LOGINS // 50):
            wrong += _login_latencies(backend, backend.api_key, "_" + "0" * 32, 25)
            unknown += _login_latencies(backend, "LOCAL_" + "0" * 32, "_" + "0" * 32, 25)
    wrong_p50, unknown_p50 = statistics.median(wrong), statistics.median(unknown)
    return [
        (
            f"login (right secret) vs get ({right * 1e3:,.2f} vs {get * 1e3:,.2f} ms)",
            right / get,
            "",
        ),
        (
            f"login, wrong secret vs unknown key ({wrong_p50 * 1e3:,.3f} vs "
            f"{unknown_p50 * 1e3:,.3f} ms)",
            wrong_p50 / unknown_p50,
            "~1.00x",
        ),
    ]


def run() -> list[Row]:
    return [*responsiveness(), *login_cost()]

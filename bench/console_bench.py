"""The console's cost to the API, as ratios against baselines of the same run.

- API ``get`` throughput with the console mounted against the same server started with
  ``--no-console`` (goal >= 0.95x: the API path checks for the console only after no API route
  matched, so it should cost nothing);
- API ``get`` throughput while a person loads the tokens page (50 tokens) five times a second,
  against the same load with nobody in the console (pages render in a worker thread);
- the tokens page itself, in pages per second against API ``list`` of the same 50 tokens.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path

import requests

from bench.backend_bench import SERVE_ARGS, Row, bearer, headers, log
from bench.load import Request, run_load
from lacework_tokens.testing import Backend, run_backend

LOAD_REQUESTS = int(os.environ.get("BENCH_LOAD_REQUESTS", "6000"))
ROUNDS = 5
PAGE_INTERVAL_SECONDS = 0.2


def _gets(backend: Backend) -> list[Request]:
    client = backend.client()
    sample = client.agent_tokens.create("bench-get")
    for index in range(49):
        client.agent_tokens.create(f"bench-list-{index}")
    client.close()
    return [
        Request(
            "GET", f"/api/v2/AgentAccessTokens/{sample.token}", headers=headers(bearer(backend))
        )
    ]


def _best(*loads: tuple[str, list[Request]]) -> list[float]:
    """The best rate of each load over ``ROUNDS`` rounds, the loads taking turns so that a
    busy moment of the machine weighs on all of them alike."""
    best = [0.0] * len(loads)
    for _ in range(ROUNDS):
        for index, (url, batch) in enumerate(loads):
            result = run_load(url, batch, total=LOAD_REQUESTS)
            if result.errors:
                raise RuntimeError(f"{result.errors} error answers during the load")
            best[index] = max(best[index], result.per_second)
    return best


def _signed_in(backend: Backend) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{backend.url}/console/signin", timeout=10)
    nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert nonce is not None
    answer = session.post(
        f"{backend.url}/console/signin",
        data={"csrf": nonce.group(1), "key_id": backend.api_key, "secret": backend.api_secret},
        headers={"Origin": backend.url},
        timeout=10,
    )
    answer.raise_for_status()
    return session


def run() -> list[Row]:
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="lwt-bench-console-") as tmp,
        run_backend(Path(tmp) / "off", extra_args=[*SERVE_ARGS, "--no-console"]) as off,
        run_backend(Path(tmp) / "on", extra_args=SERVE_ARGS) as on,
    ):
        off_gets, on_gets = _gets(off), _gets(on)
        run_load(off.url, off_gets, total=500)
        run_load(on.url, on_gets, total=500)
        log("API get without and with the console")
        without, mounted = _best((off.url, off_gets), (on.url, on_gets))
        rows.append(("API get, --no-console (req/s)", without, "baseline"))
        rows.append(
            (
                f"API get with the console mounted: {mounted:,.0f} req/s",
                mounted / without,
                ">= 0.95x",
            )
        )

        log("API get while the tokens page is being loaded")
        person = _signed_in(on)
        stop = threading.Event()
        pages = [0]

        def browse() -> None:
            # A busy person: a page every 200 ms, far faster than anyone reads one.
            while not stop.wait(PAGE_INTERVAL_SECONDS):
                person.get(f"{on.url}/console/tokens", timeout=30).raise_for_status()
                pages[0] += 1

        browsing = threading.Thread(target=browse)
        browsing.start()
        try:
            (busy,) = _best((on.url, on_gets))
        finally:
            stop.set()
            browsing.join()
        rows.append(
            (
                f"API get while a person loads the tokens page ({pages[0]} pages)",
                busy / mounted,
                "",
            )
        )

        log("tokens page against API list")
        cookie = "; ".join(f"{k}={v}" for k, v in person.cookies.items())
        page = [Request("GET", "/console/tokens", headers=(("Cookie", cookie),))]
        listing = [Request("GET", "/api/v2/AgentAccessTokens", headers=on_gets[0].headers)]
        api_list, console_page = _best((on.url, listing), (on.url, page))
        rows.append(
            (
                f"tokens page (50 tokens): {console_page:,.0f} pages/s vs API list",
                console_page / api_list,
                "",
            )
        )
    return rows

"""A small closed-loop HTTP load generator: keep-alive connections in worker processes.

Both sides of every ratio are driven by this same generator in the same run, so its own cost
weighs on both alike and cancels out of the ratio.
"""

from __future__ import annotations

import http.client
import multiprocessing
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from attrs import frozen


@frozen
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()


@frozen
class LoadResult:
    requests: int
    seconds: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _worker(
    url: str,
    requests: Sequence[Request],
    count: int,
    offset: int,
    queue: multiprocessing.Queue[tuple[int, float, int]],
) -> None:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80)
    errors = 0
    start = time.perf_counter()
    for index in range(count):
        request = requests[(offset + index) % len(requests)]
        connection.request(
            request.method, request.path, body=request.body, headers=dict(request.headers)
        )
        response = connection.getresponse()
        response.read()
        if response.status >= 400:
            errors += 1
    queue.put((count, time.perf_counter() - start, errors))
    connection.close()


def run_load(url: str, requests: Sequence[Request], *, total: int, workers: int = 2) -> LoadResult:
    """Send ``total`` requests (cycling through ``requests``) over ``workers`` connections."""
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[tuple[int, float, int]] = context.Queue()
    per_worker = total // workers
    processes = [
        context.Process(target=_worker, args=(url, requests, per_worker, i * per_worker, queue))
        for i in range(workers)
    ]
    wall = time.perf_counter()
    for process in processes:
        process.start()
    results = [queue.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    wall = time.perf_counter() - wall
    return LoadResult(
        requests=sum(r[0] for r in results), seconds=wall, errors=sum(r[2] for r in results)
    )

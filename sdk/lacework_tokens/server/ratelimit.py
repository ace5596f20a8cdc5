"""Request rate limits: one token bucket per key (an API key id, or a client address).

A bucket holds up to ``burst`` requests and refills at ``rate`` per second; a request takes one.
When the bucket is empty the caller is told how long until it holds one again, which the app
sends as ``Retry-After``. Each check is a dict lookup and a few float operations under a lock
(the lock matters only when requests are served from worker threads, with PostgreSQL).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from typing import Final

from attrs import frozen

__all__ = [
    "DEFAULT_KEY_RATE",
    "DEFAULT_LOGIN_RATE",
    "MAX_TRACKED_KEYS",
    "Rate",
    "RateLimiter",
    "parse_rate",
    "retry_after_header",
]

# Distinct keys remembered at once. An idle bucket is full again after ``burst / rate`` seconds
# and can be forgotten without changing any answer, so the bound only costs a rare sweep.
MAX_TRACKED_KEYS: Final = 100_000

_UNITS: Final = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_RATE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*([a-z]+))?\s*$")


@frozen
class Rate:
    """``per_second`` requests a second on average, up to ``burst`` at once; 0 means no limit."""

    per_second: float
    burst: int

    @property
    def unlimited(self) -> bool:
        return self.per_second <= 0

    def __str__(self) -> str:
        if self.unlimited:
            return "unlimited"
        return f"{self.per_second:g}/s, burst {self.burst}"


# Per API key: a Terraform apply and destroy of a hundred tokens, twice back to back at
# parallelism 10, is about 400 requests in a few seconds and must never meet a 429; one runaway
# client still cannot take the server from everyone else.
DEFAULT_KEY_RATE: Final = Rate(per_second=200.0, burst=1000)
# Logins per client address: a client needs one bearer per hour, a guesser needs millions.
DEFAULT_LOGIN_RATE: Final = Rate(per_second=10.0, burst=100)


def parse_rate(text: str) -> float:
    """Requests per second from ``"50/s"``, ``"600/min"``, ``"50"`` or ``"0"`` (no limit)."""
    match = _RATE.match(text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not a rate such as 50/s, 600/min or 0")
    count = float(match.group(1))
    unit = match.group(2) or "s"
    if unit not in _UNITS:
        raise ValueError(f"{text!r}: the unit must be one of /s, /min, /h")
    return count / _UNITS[unit]


class RateLimiter:
    """Token buckets keyed by a string; ``take(key)`` is 0.0 when allowed, else seconds to wait."""

    __slots__ = ("_buckets", "_burst", "_clock", "_lock", "_max_keys", "_rate")

    def __init__(
        self,
        rate: Rate,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_TRACKED_KEYS,
    ) -> None:
        if rate.unlimited:
            raise ValueError("an unlimited rate needs no limiter")
        if rate.burst < 1:
            raise ValueError("the burst must be at least 1")
        self._rate = rate.per_second
        self._burst = float(rate.burst)
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        # key -> [requests left, time of the last refill]
        self._buckets: dict[str, list[float]] = {}

    def take(self, key: str) -> float:
        """Take one request from ``key``'s bucket: 0.0 if it had one, else seconds until it has."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max_keys:
                    self._forget_full(now)
                self._buckets[key] = [self._burst - 1.0, now]
                return 0.0
            left = bucket[0] + (now - bucket[1]) * self._rate
            if left > self._burst:
                left = self._burst
            bucket[1] = now
            if left >= 1.0:
                bucket[0] = left - 1.0
                return 0.0
            bucket[0] = left
            return (1.0 - left) / self._rate

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (forgetting them changes nothing); if every bucket
        is still in use, drop them all rather than grow without bound."""
        refill = self._burst / self._rate
        idle = [key for key, (_, last) in self._buckets.items() if now - last >= refill]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:
            self._buckets.clear()


def retry_after_header(seconds: float) -> bytes:
    """``Retry-After`` as whole seconds, rounded up so a client that waits it is let in."""
    return str(max(1, math.ceil(seconds))).encode()

"""Request rate limits: one token bucket per key (an API key id, or a client address), and the
backoff on failed logins per API key id.

A bucket holds up to ``burst`` requests and refills at ``rate`` per second; a request takes one.
When the bucket is empty the caller is told how long until it holds one again, which the app
sends as ``Retry-After``. Each check is a dict lookup and a few float operations under a lock
(the lock matters only when requests are served from worker threads, with PostgreSQL).

``LoginBackoff`` counts failed logins per key id, from whatever address: past
``LOGIN_FREE_FAILURES`` in a row, each further attempt must wait twice as long as the one
before (from ``LOGIN_FIRST_WAIT_SECONDS`` up to ``LOGIN_MAX_WAIT_SECONDS``), right secret or
not: an attempt during the wait is refused without being checked. A success, or
``LOGIN_FORGET_SECONDS`` without a failure, starts the count again. Key ids that do not exist
are counted the same way, so the answers tell nothing about which exist.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from typing import Final, TypeVar

from attrs import frozen

__all__ = [
    "DEFAULT_KEY_RATE",
    "DEFAULT_LOGIN_RATE",
    "LOGIN_FIRST_WAIT_SECONDS",
    "LOGIN_FORGET_SECONDS",
    "LOGIN_FREE_FAILURES",
    "LOGIN_MAX_WAIT_SECONDS",
    "MAX_TRACKED_KEYS",
    "LoginBackingOff",
    "LoginBackoff",
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
# The same budget bounds requests with an invalid or expired bearer from one address.
DEFAULT_LOGIN_RATE: Final = Rate(per_second=10.0, burst=100)

# Failed logins per key id (any address): ten in a row are free (typos, a rotated secret in a
# CI variable), then 1 s, 2 s, 4 s … up to 60 s between attempts: about 1,400 guesses a day at
# most, however many addresses guess.
LOGIN_FREE_FAILURES: Final = 10
LOGIN_FIRST_WAIT_SECONDS: Final = 1.0
LOGIN_MAX_WAIT_SECONDS: Final = 60.0
LOGIN_FORGET_SECONDS: Final = 15 * 60.0


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

    def waiting(self, key: str) -> float:
        """Seconds until ``key``'s bucket holds a request again (0.0 if it holds one now),
        without taking any."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return 0.0
            left = min(bucket[0] + (now - bucket[1]) * self._rate, self._burst)
        return 0.0 if left >= 1.0 else (1.0 - left) / self._rate

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


T = TypeVar("T")
# How much of a key id a login counts by: more would only let a caller grow the table's keys.
LOGIN_KEY_LENGTH: Final = 256


class LoginBackingOff(Exception):
    """A login refused unchecked: its key id must wait ``wait`` seconds after failed ones."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"wait {wait:.1f} s")
        self.wait = wait


class LoginBackoff:
    """Failed logins per key id and the wait they impose (see the module doc)."""

    __slots__ = ("_clock", "_failures", "_lock", "_max_keys")

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_TRACKED_KEYS
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        # key id -> [failures in a row, time of the last one]
        self._failures: dict[str, list[float]] = {}

    def waiting(self, key: str) -> float:
        """Seconds ``key`` must wait before its next login is checked; 0.0 if none."""
        now = self._clock()
        with self._lock:
            found = self._failures.get(key)
            if found is None:
                return 0.0
            failures, last = found
            if now - last >= LOGIN_FORGET_SECONDS:
                del self._failures[key]
                return 0.0
        if failures < LOGIN_FREE_FAILURES:
            return 0.0
        wait = min(
            LOGIN_FIRST_WAIT_SECONDS * 2 ** (failures - LOGIN_FREE_FAILURES),
            LOGIN_MAX_WAIT_SECONDS,
        )
        return max(0.0, last + wait - now)

    def failed(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            found = self._failures.get(key)
            if found is None or now - found[1] >= LOGIN_FORGET_SECONDS:
                if found is None and len(self._failures) >= self._max_keys:
                    self._forget_old(now)
                self._failures[key] = [1.0, now]
            else:
                found[0] += 1.0
                found[1] = now

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def attempt(self, key_id: str, login: Callable[[], T], *, failure: type[Exception]) -> T:
        """``login()`` for ``key_id`` unless it must wait (``LoginBackingOff``, nothing checked);
        ``failure`` raised by it counts as a failed login, a return as a success."""
        key = key_id[:LOGIN_KEY_LENGTH]
        wait = self.waiting(key)
        if wait:
            raise LoginBackingOff(wait)
        try:
            result = login()
        except failure:
            self.failed(key)
            raise
        self.succeeded(key)
        return result

    def _forget_old(self, now: float) -> None:
        """Drop counts that have expired; if too few have, the half with the fewest failures
        (keeps memory flat: spraying key ids cannot push out the count of a key under attack)."""
        stale = [k for k, (_, last) in self._failures.items() if now - last >= LOGIN_FORGET_SECONDS]
        for key in stale:
            del self._failures[key]
        if len(self._failures) >= self._max_keys:
            fewest = sorted(self._failures, key=lambda k: tuple(self._failures[k]))
            for key in fewest[: len(fewest) // 2]:
                del self._failures[key]


def retry_after_header(seconds: float) -> bytes:
    """``Retry-After`` as whole seconds, rounded up so a client that waits it is let in."""
    return str(max(1, math.ceil(seconds))).encode()

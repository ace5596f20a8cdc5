"""Token buckets: a burst, then the steady rate, per key, with an honest wait."""

from __future__ import annotations

import pytest

from lacework_tokens.server.ratelimit import Rate, RateLimiter, parse_rate, retry_after_header


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate_then_a_wait_until_the_next_request_fits() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Rate(per_second=2.0, burst=3), clock=clock)
    assert [limiter.take("key") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("key") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take("key") == 0.0
    assert limiter.take("key") == pytest.approx(0.5)
    clock.now += 10  # idle long enough to refill, but never above the burst
    assert [limiter.take("key") for _ in range(4)][-1] == pytest.approx(0.5)


def test_refused_requests_do_not_push_the_wait_further_out() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Rate(per_second=1.0, burst=1), clock=clock)
    assert limiter.take("key") == 0.0
    waits = [limiter.take("key") for _ in range(5)]
    assert waits == [pytest.approx(1.0)] * 5
    clock.now += 1.0
    assert limiter.take("key") == 0.0


def test_each_key_has_its_own_bucket() -> None:
    limiter = RateLimiter(Rate(per_second=1.0, burst=1), clock=FakeClock())
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    assert limiter.take("b") == 0.0


def test_memory_stays_bounded_and_busy_keys_keep_their_state() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Rate(per_second=1.0, burst=2), clock=clock, max_keys=10)
    for n in range(10):
        limiter.take(f"idle-{n}")
    clock.now += 5  # every idle bucket is full again: forgetting it changes no answer
    limiter.take("busy")
    limiter.take("busy")
    assert limiter.take("busy") > 0  # remembered: still empty
    for n in range(1000):
        limiter.take(f"spray-{n}")
    assert len(limiter._buckets) <= 10


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("50/s", 50.0), ("50", 50.0), ("600/min", 10.0), ("3600/h", 1.0), ("0", 0.0), ("2.5/s", 2.5)],
)
def test_rates_are_read_with_their_unit(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["", "fast", "-1/s", "5/day", "5/s/s"])
def test_malformed_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)


@pytest.mark.parametrize(
    ("wait", "header"), [(0.01, b"1"), (1.0, b"1"), (1.2, b"2"), (59.5, b"60")]
)
def test_retry_after_is_whole_seconds_rounded_up(wait: float, header: bytes) -> None:
    assert retry_after_header(wait) == header

"""A failed login does the same work whether its key exists or not, and the login backoff.

Timing is not measured here (``bench/`` compares the two over HTTP): what is compared is the
work itself, call for call. A difference in work is what made a wrong secret for an existing
key measurably slower than one for an unknown key (an audit insert on the request's path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lacework_tokens.server.crypto import Sealer
from lacework_tokens.server.ratelimit import (
    LOGIN_FIRST_WAIT_SECONDS,
    LOGIN_FORGET_SECONDS,
    LOGIN_FREE_FAILURES,
    LOGIN_MAX_WAIT_SECONDS,
    LoginBackoff,
)
from lacework_tokens.server.services import Services, Unauthorized
from lacework_tokens.server.services import identity as identity_module
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import AuditAction
from lacework_tokens.wire import AccessTokenRequest


class CountingStore:
    """A store that notes the name of every method called on it."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if not callable(found):
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return found(*args, **kwargs)

        return counted


@pytest.fixture
def counted(store: Store) -> Iterator[tuple[Services, CountingStore]]:
    counting = CountingStore(store)
    services = Services(counting, Sealer.ephemeral())  # type: ignore[arg-type]
    yield services, counting
    services.close()


def work_of(
    services: Services,
    counting: CountingStore,
    monkeypatch: pytest.MonkeyPatch,
    attempt: Callable[[], object],
) -> tuple[list[str], list[str]]:
    """The store calls and the hashing and deferred-audit calls ``attempt`` makes."""
    other: list[str] = []

    def spy(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def called(*args: Any, **kwargs: Any) -> Any:
            other.append(name)
            return function(*args, **kwargs)

        return called

    monkeypatch.setattr(
        identity_module, "secret_matches", spy("secret_matches", identity_module.secret_matches)
    )
    monkeypatch.setattr(
        services.identity.deferred, "record", spy("record", services.identity.deferred.record)
    )
    counting.calls.clear()
    with pytest.raises(Unauthorized):
        attempt()
    monkeypatch.undo()
    return list(counting.calls), other


def test_a_wrong_secret_and_an_unknown_key_do_the_same_work(
    counted: tuple[Services, CountingStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    services, counting = counted
    key = services.identity.create_api_key("acme")
    wrong = "_" + "0" * 32

    def existing() -> object:
        return services.identity.issue_access_token(AccessTokenRequest(key.key_id), wrong)

    def unknown() -> object:
        return services.identity.issue_access_token(AccessTokenRequest("ACME_" + "0" * 32), wrong)

    existing_work = work_of(services, counting, monkeypatch, existing)
    unknown_work = work_of(services, counting, monkeypatch, unknown)
    assert existing_work == unknown_work
    store_calls, other_calls = existing_work
    assert store_calls == ["get_api_key"]  # the audit write is off the request's path
    assert other_calls.count("secret_matches") == 1
    # Only the known key's failure reaches the trail, in the next batch.
    counting.calls.clear()
    assert services.deferred.flush() == 1
    assert counting.calls == ["insert_audit_events"]
    events = services.audit.list_events("acme")
    assert [e.action for e in events][:1] == [AuditAction.LOGIN_FAILED]


def test_a_disabled_key_with_its_right_secret_does_the_same_work_too(
    counted: tuple[Services, CountingStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    services, counting = counted
    key = services.identity.create_api_key("acme")
    services.identity.set_api_key_enabled(key.key_id, False)

    def disabled() -> object:
        return services.identity.issue_access_token(AccessTokenRequest(key.key_id), key.secret)

    def unknown() -> object:
        return services.identity.issue_access_token(
            AccessTokenRequest("ACME_" + "0" * 32), key.secret
        )

    assert work_of(services, counting, monkeypatch, disabled) == work_of(
        services, counting, monkeypatch, unknown
    )


# --- the backoff ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_past_the_free_ones_wait_twice_as_long_each_up_to_the_cap() -> None:
    clock = Clock()
    backoff = LoginBackoff(clock=clock)
    for _ in range(LOGIN_FREE_FAILURES):
        assert backoff.waiting("K") == 0.0
        backoff.failed("K")
    waits = []
    for _ in range(10):
        wait = backoff.waiting("K")
        waits.append(wait)
        clock.now += wait
        assert backoff.waiting("K") == 0.0
        backoff.failed("K")
    expected = [min(LOGIN_FIRST_WAIT_SECONDS * 2**n, LOGIN_MAX_WAIT_SECONDS) for n in range(10)]
    assert waits == expected
    assert backoff.waiting("other key") == 0.0  # per key id


def test_a_success_or_a_long_quiet_starts_the_count_again() -> None:
    clock = Clock()
    backoff = LoginBackoff(clock=clock)
    for _ in range(LOGIN_FREE_FAILURES):
        backoff.failed("K")
    assert backoff.waiting("K") > 0
    backoff.succeeded("K")
    assert backoff.waiting("K") == 0.0
    for _ in range(LOGIN_FREE_FAILURES + 3):
        backoff.failed("K")
    clock.now += LOGIN_FORGET_SECONDS
    assert backoff.waiting("K") == 0.0
    backoff.failed("K")
    assert backoff.waiting("K") == 0.0  # one failure, after the quiet


def test_spraying_key_ids_cannot_push_out_the_count_of_a_key_under_attack() -> None:
    clock = Clock()
    backoff = LoginBackoff(clock=clock, max_keys=100)
    for _ in range(LOGIN_FREE_FAILURES + 2):
        backoff.failed("TARGET")
    for n in range(1000):
        backoff.failed(f"SPRAY{n}")
        clock.now += 0.001
    assert backoff.waiting("TARGET") > 0
    assert len(backoff._failures) <= 100


# --- the deferred audit writer ----------------------------------------------------------------


def test_deferred_events_are_all_written_by_close(store: Store) -> None:
    services = Services(store, Sealer.ephemeral())
    key = services.identity.create_api_key("acme")
    for _ in range(3):
        with pytest.raises(Unauthorized):
            services.identity.issue_access_token(AccessTokenRequest(key.key_id), "_" + "1" * 32)
    services.close()
    failed = [e for e in services.audit.list_events("acme") if e.action is AuditAction.LOGIN_FAILED]
    assert len(failed) == 3


def test_a_store_failure_loses_the_batch_and_logs_how_many_not_what(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    services = Services(store, Sealer.ephemeral())
    key = services.identity.create_api_key("acme")
    with pytest.raises(Unauthorized):
        services.identity.issue_access_token(AccessTokenRequest(key.key_id), "_" + "1" * 32)
    store.close()
    services.close()
    assert "1 audit events could not be written" in caplog.text
    assert key.key_id not in caplog.text

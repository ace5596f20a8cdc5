"""The deferred audit writer on its own: events it writes in the background within its delay,
inline once a batch is full, on ``close``; events it must drop unbuilt; a store that fails."""

from __future__ import annotations

import functools
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from lacework_tokens.server.services.audit import (
    AUDIT_LIMIT_MAX,
    AuditService,
    DeferredAudit,
)
from lacework_tokens.server.services.errors import BadRequest
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import AuditAction, AuditEvent, StoreError

WAIT_SECONDS = 5.0
BATCH = 10_000  # events waiting at once before a request writes them itself


class FakeStore:
    """Records what the writer hands it; fails on demand."""

    def __init__(self) -> None:
        self.batches: list[list[AuditEvent]] = []
        self.failure: StoreError | None = None
        self.written = threading.Event()
        self.token_queries: list[tuple[str, str, int]] = []

    def insert_audit_events(self, batch: list[AuditEvent]) -> None:
        if self.failure is not None:
            raise self.failure
        self.batches.append(list(batch))
        self.written.set()

    def list_audit_of_token(self, account: str, token_id: str, limit: int) -> list[AuditEvent]:
        self.token_queries.append((account, token_id, limit))
        return []

    @property
    def events(self) -> list[AuditEvent]:
        return [event for batch in self.batches for event in batch]


def event(detail: str) -> functools.partial[AuditEvent]:
    return functools.partial(
        AuditEvent,
        time=datetime(2026, 12, 1, tzinfo=UTC),
        account="acme",
        actor="ACME_KEY",
        action=AuditAction.LOGIN_FAILED,
        detail=detail,
    )


def never_built() -> AuditEvent:
    raise AssertionError("an event recorded with write=False was built")


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lacework-tokens-audit"]


def deferred(store: FakeStore, **options: Any) -> DeferredAudit:
    return DeferredAudit(cast(Store, store), **options)


def test_events_are_written_by_a_background_thread_within_the_delay() -> None:
    store = FakeStore()
    audit = deferred(store, delay=0.05)
    try:
        audit.record(event("one"))  # a single event wakes the writer
        assert store.written.wait(WAIT_SECONDS), "nothing was written within the delay"
        assert [e.detail for e in store.events] == ["one"]
        # The writer is a daemon thread: it never keeps the server's process alive.
        assert writer_threads() and all(t.daemon for t in writer_threads())
        # It keeps working after its first batch.
        store.written.clear()
        audit.record(event("two"))
        audit.record(never_built, write=False)
        audit.record(event("three"))
        assert store.written.wait(WAIT_SECONDS), "a second batch was not written"
        assert [e.detail for e in store.events] == ["one", "two", "three"]
    finally:
        audit.close()


def test_nothing_is_written_before_the_delay_and_close_writes_what_is_pending() -> None:
    others = set(writer_threads())
    store = FakeStore()
    audit = deferred(store, delay=60.0)
    audit.record(event("one"))
    audit.record(never_built, write=False)
    audit.record(event("two"))
    time.sleep(0.2)
    assert store.batches == []
    writer = set(writer_threads()) - others
    assert len(writer) == 1
    started = time.monotonic()
    audit.close()
    assert time.monotonic() - started < WAIT_SECONDS  # close does not wait out the delay
    assert [[e.detail for e in batch] for batch in store.batches] == [["one", "two"]]
    assert not any(thread.is_alive() for thread in writer)  # close joined it


def test_a_full_batch_is_written_by_the_request_that_fills_it() -> None:
    store = FakeStore()
    audit = deferred(store, delay=60.0, batch=3)
    try:
        audit.record(event("one"))
        audit.record(event("two"))
        assert store.batches == []  # two of three: they wait for the writer
        audit.record(event("three"))
        assert [[e.detail for e in batch] for batch in store.batches] == [["one", "two", "three"]]
    finally:
        audit.close()


def test_the_default_batch_is_ten_thousand_events() -> None:
    store = FakeStore()
    audit = deferred(store, delay=60.0)
    try:
        for number in range(BATCH - 1):
            audit.record(event(str(number)))
        assert store.batches == []
        audit.record(event("last"))
        assert [len(batch) for batch in store.batches] == [BATCH]
    finally:
        audit.close()


def test_a_batch_of_one_is_written_inline_without_a_writer_thread() -> None:
    before = len(writer_threads())
    store = FakeStore()
    audit = deferred(store, delay=60.0, batch=1)
    audit.record(event("at once"))
    assert [e.detail for e in store.events] == ["at once"]
    assert len(writer_threads()) == before
    audit.close()


def test_flush_says_how_many_it_wrote_and_leaves_nothing_pending() -> None:
    store = FakeStore()
    audit = deferred(store, delay=60.0)
    try:
        assert audit.flush() == 0
        audit.record(event("one"))
        audit.record(never_built, write=False)
        audit.record(event("two"))
        assert audit.flush() == 2
        assert audit.flush() == 0
        audit.record(never_built, write=False)
        assert audit.flush() == 0
        assert len(store.batches) == 1
    finally:
        audit.close()


def test_a_failing_store_loses_the_batch_and_logs_how_many_never_what(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FakeStore()
    store.failure = StoreError("the database is locked")
    audit = deferred(store, delay=60.0)
    try:
        audit.record(event("secret-looking detail"))
        audit.record(event("another"))
        with caplog.at_level(logging.ERROR, logger="lacework_tokens.server"):
            assert audit.flush() == 0
        assert [(r.name, r.getMessage()) for r in caplog.records] == [
            (
                "lacework_tokens.server",
                "2 audit events could not be written: the database is locked",
            )
        ]
        # The batch is gone, not retried: the next flush has nothing.
        store.failure = None
        assert audit.flush() == 0
    finally:
        audit.close()


def test_a_token_s_events_are_read_within_the_limits() -> None:
    store = FakeStore()
    service = AuditService(cast(Store, store))
    for limit in (0, AUDIT_LIMIT_MAX + 1):
        with pytest.raises(BadRequest) as refused:
            service.list_token_events("acme", "ab" * 32, limit)
        assert refused.value.message == f"limit must be from 1 to {AUDIT_LIMIT_MAX}."
        assert refused.value.field == "limit"
    for limit in (1, AUDIT_LIMIT_MAX):
        assert service.list_token_events("acme", "ab" * 32, limit) == []
    assert service.list_token_events("acme", "cd" * 32) == []
    assert store.token_queries == [
        ("acme", "ab" * 6, 1),
        ("acme", "ab" * 6, AUDIT_LIMIT_MAX),
        ("acme", "cd" * 6, 100),
    ]

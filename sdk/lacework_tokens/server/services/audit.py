"""The audit trail: reading it, writing what goes with no change, and the pieces every service
builds its events from.

Every lifecycle change (tokens, keys, accounts) is written to the trail by the store in the same
transaction as the change. Events that go with no change of their own, reads of token values
and failed logins with a known key, are written by ``DeferredAudit`` in batches, within
``DEFERRED_AUDIT_SECONDS``: a request that causes one costs a list append, the same whether it
causes one or not (so a failed login costs the same for a key that exists and one that does
not), and a busy reader costs one transaction a second rather than one per read. An event names
a token by alias and by the first ``TOKEN_ID_LENGTH`` hex characters of its keyed lookup hash,
never by its value.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Final

from lacework_tokens import limits
from lacework_tokens.server.services.errors import BadRequest
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import (
    ApiKeyRecord,
    AuditAction,
    AuditEvent,
    StoreError,
    TokenRecord,
)
from lacework_tokens.wire import format_time

__all__ = [
    "AUDIT_LIMIT_MAX",
    "DEFAULT_ACTOR",
    "DEFERRED_AUDIT_SECONDS",
    "AuditService",
    "DeferredAudit",
    "agents_seen",
    "describe_changes",
    "describe_policy",
    "key_event",
    "retire_detail",
    "token_id",
    "update_action",
]

logger = logging.getLogger("lacework_tokens.server")

AUDIT_LIMIT_MAX: Final = 100_000
# How long a deferred event may wait before it is written, and how many may wait at once
# (past that, the request that adds one writes the batch itself).
DEFERRED_AUDIT_SECONDS: Final = 1.0
DEFERRED_AUDIT_BATCH: Final = 10_000
TOKEN_ID_LENGTH: Final = 12
# Who made a change when the caller names nobody (local administration names ``cli:<user>``).
DEFAULT_ACTOR: Final = "system"


def token_id(lookup: str) -> str:
    """How the audit trail names a token: a prefix of its keyed hash, not reversible."""
    return lookup[:TOKEN_ID_LENGTH]


def update_action(before: TokenRecord, after: TokenRecord) -> AuditAction:
    """What an update did, as the trail names it."""
    renamed = before.alias != after.alias
    if renamed and not after.enabled and after.alias.endswith(limits.SOFT_DELETE_SUFFIX):
        return AuditAction.TOKEN_SOFT_DELETED  # what the provider's destroy does
    if renamed:
        return AuditAction.TOKEN_RENAMED
    if before.enabled != after.enabled:
        return AuditAction.TOKEN_ENABLED if after.enabled else AuditAction.TOKEN_DISABLED
    return AuditAction.TOKEN_UPDATED


def describe_changes(before: TokenRecord, after: TokenRecord) -> str:
    """The changed fields in wire names; a description is never quoted (it may be long)."""
    changed: list[str] = []
    if before.alias != after.alias:
        changed.append(f"tokenAlias {before.alias!r} -> {after.alias!r}")
    if before.enabled != after.enabled:
        changed.append(f"tokenEnabled {int(before.enabled)} -> {int(after.enabled)}")
    if before.description != after.description:
        changed.append("props.description changed")
    if before.os != after.os:
        changed.append(f"props.os {before.os!r} -> {after.os!r}")
    if before.subscription != after.subscription:
        changed.append(f"props.subscription {before.subscription!r} -> {after.subscription!r}")
    for name, old, new in (
        ("props.expiresAt", _shown(before.expires_at), _shown(after.expires_at)),
        ("props.maxEnrollments", before.max_enrollments, after.max_enrollments),
        ("props.scope", before.scope, after.scope),
    ):
        if old != new:
            changed.append(f"{name} {old!r} -> {new!r}")
    return "; ".join(changed) or "no change"


def describe_policy(record: TokenRecord) -> str:
    """A new token's enrollment policy, as ``, props.x …`` parts ("" when it has none)."""
    parts = [
        f", {name} {value!r}"
        for name, value in (
            ("props.expiresAt", _shown(record.expires_at)),
            ("props.maxEnrollments", record.max_enrollments),
            ("props.scope", record.scope),
        )
        if value is not None
    ]
    return "".join(parts)


def _shown(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds")


def agents_seen(active: int, window_seconds: int, last: datetime | None, link: str = "") -> str:
    """``3 agents <link>checked in within 7 days, the last at <time>``."""
    agents = f"{active} agent{'' if active == 1 else 's'}"
    text = f"{agents} {link}checked in within {limits.duration_words(window_seconds)}"
    return text if last is None else f"{text}, the last at {format_time(last)}"


def retire_detail(active: int, window_seconds: int, last: datetime | None) -> str:
    """How a ``token.retired`` event begins: ``retired: no agent checked in within 7 days``,
    or, when agents were active and the retire was forced, ``forced: 3 agents checked in …``.
    The figures are the server's own, counted as it disabled the token."""
    if not active:
        window = limits.duration_words(window_seconds)
        return f"retired: no agent checked in within {window}"
    return f"forced: {agents_seen(active, window_seconds, last)}"


def key_event(key: ApiKeyRecord, action: AuditAction, time: datetime, actor: str) -> AuditEvent:
    """An event about an API key: created, enabled, disabled or deleted."""
    return AuditEvent(
        time=time,
        account=key.account,
        actor=actor,
        action=action,
        key_id=key.key_id,
        detail=f"role {key.role.value}, user {key.user!r}",
    )


class DeferredAudit:
    """Events written in batches by one background thread (see the module doc).

    ``close`` writes what is pending; the server closes it before its store. Should the store
    fail, the events of that batch are lost and the failure is logged (never their content).
    """

    def __init__(
        self,
        store: Store,
        *,
        delay: float = DEFERRED_AUDIT_SECONDS,
        batch: int = DEFERRED_AUDIT_BATCH,
    ) -> None:
        self.store = store
        self._delay = delay
        self._batch = batch
        self._lock = threading.Lock()
        self._pending: list[tuple[Callable[[], AuditEvent], bool]] = []
        self._has_events = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"DeferredAudit({self.store!r})"

    def record(self, event: Callable[[], AuditEvent], *, write: bool = True) -> None:
        """Write the event ``event()`` builds, soon; it is built by the writer thread, off the
        request's path (``functools.partial(AuditEvent, time=..., ...)``: the time is taken
        when the request is served). ``write=False`` costs the request the same and writes
        nothing (the event is dropped, unbuilt, by the writer thread)."""
        with self._lock:
            first = not self._pending
            self._pending.append((event, write))
            full = len(self._pending) >= self._batch
            if self._thread is None and not full:
                self._thread = threading.Thread(
                    target=self._run, name="lacework-tokens-audit", daemon=True
                )
                self._thread.start()
        if first:
            self._has_events.set()
        if full:
            self.flush()

    def flush(self) -> int:
        """Write every pending event now; returns how many were written."""
        with self._lock:
            pending, self._pending = self._pending, []
            self._has_events.clear()
        batch = [event() for event, write in pending if write]
        if not batch:
            return 0
        try:
            self.store.insert_audit_events(batch)
        except StoreError as exc:
            logger.error("%d audit events could not be written: %s", len(batch), exc)
            return 0
        return len(batch)

    def close(self) -> None:
        self._closing.set()
        self._has_events.set()
        thread = self._thread
        if thread is not None:
            thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._closing.is_set():
            self._has_events.wait()
            if self._closing.wait(self._delay):
                return  # close() writes what is left
            self.flush()


class AuditService:
    """Reads the trail."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"AuditService({self.store!r})"

    def list_events(self, account: str | None = None, limit: int = 100) -> list[AuditEvent]:
        """The newest ``limit`` events, newest first; only ``account``'s when given (its name
        compared without case)."""
        if not 1 <= limit <= AUDIT_LIMIT_MAX:
            raise BadRequest(f"limit must be from 1 to {AUDIT_LIMIT_MAX}.", "limit")
        if account is not None:
            found = self.store.find_account(account.strip())
            account = found.name if found is not None else account.strip()
        return self.store.list_audit(account, limit)

    def list_token_events(self, account: str, lookup: str, limit: int = 100) -> list[AuditEvent]:
        """The newest ``limit`` events about the token with this lookup, newest first."""
        if not 1 <= limit <= AUDIT_LIMIT_MAX:
            raise BadRequest(f"limit must be from 1 to {AUDIT_LIMIT_MAX}.", "limit")
        return self.store.list_audit_of_token(account, token_id(lookup), limit)

"""Console sessions: who is signed in, for how long, and the CSRF secret of their forms.

A session is opened by signing in with an API key and lives in this process's memory, found by
the SHA-256 of a random cookie value (256 bits). It ends on sign-out, after ``idle_timeout``
without a request, after ``lifetime`` in any case, and at once when its API key is disabled or
deleted (the key is read on every request). A secret shown once (a new token's value, a new
API key's secret) waits in the session only until the page that shows it is left.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from typing import Final

from attrs import define, field

__all__ = [
    "DEFAULT_IDLE_TIMEOUT_SECONDS",
    "SESSIONS_MAX",
    "SESSION_LIFETIME_SECONDS",
    "Session",
    "SessionStore",
    "same_secret",
]

DEFAULT_IDLE_TIMEOUT_SECONDS: Final = 30 * 60.0
SESSION_LIFETIME_SECONDS: Final = 12 * 3600.0
# Bounds memory: past it the session idle longest is ended first.
SESSIONS_MAX: Final = 10_000
# How long a secret shown once may wait for its page (a reload, a download) at most.
PENDING_SECRET_SECONDS: Final = 5 * 60.0


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison of two texts."""
    return hmac.compare_digest(a.encode(), b.encode())


def _hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


@define
class Session:
    key_id: str
    account: str
    csrf: str
    started: float
    last_seen: float
    # What → (secret, shown until): a value to show once, on the page named by ``what``.
    pending: dict[str, tuple[str, float]] = field(factory=dict)
    # A line to show on the next page (e.g. "Token disabled.").
    notice: str = ""

    def __repr__(self) -> str:
        return f"Session(key_id={self.key_id!r}, account={self.account!r})"


class SessionStore:
    """Sessions of one process; thread-safe. ``clock`` is ``time.monotonic`` unless a test
    passes its own."""

    def __init__(
        self,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT_SECONDS,
        lifetime: float = SESSION_LIFETIME_SECONDS,
        limit: int = SESSIONS_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_timeout = idle_timeout
        self.lifetime = lifetime
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, key_id: str, account: str) -> tuple[str, Session]:
        """A new session: the cookie value to hand out (never kept) and the session."""
        cookie = secrets.token_urlsafe(32)
        now = self._clock()
        session = Session(
            key_id=key_id,
            account=account,
            csrf=secrets.token_urlsafe(32),
            started=now,
            last_seen=now,
        )
        with self._lock:
            self._drop_expired(now)
            while len(self._sessions) >= self.limit:
                idle_longest = min(self._sessions, key=lambda k: self._sessions[k].last_seen)
                del self._sessions[idle_longest]
            self._sessions[_hash(cookie)] = session
        return cookie, session

    def find(self, cookie: str | None) -> tuple[Session | None, bool]:
        """The live session of this cookie, its idle time restarted, and whether a session
        existed but timed out (so the page can say so)."""
        if not cookie:
            return None, False
        key = _hash(cookie)
        now = self._clock()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None, False
            if self._expired(session, now):
                del self._sessions[key]
                return None, True
            session.last_seen = now
            return session, False

    def close(self, cookie: str | None) -> None:
        if cookie:
            with self._lock:
                self._sessions.pop(_hash(cookie), None)

    def keep_pending(self, session: Session, what: str, secret: str) -> None:
        """Hold ``secret`` for the page ``what`` only; any other page forgets it."""
        with self._lock:
            session.pending = {what: (secret, self._clock() + PENDING_SECRET_SECONDS)}

    def pending(self, session: Session, what: str) -> str | None:
        """The secret waiting for page ``what``, if it has not expired."""
        with self._lock:
            held = session.pending.get(what)
            if held is None or held[1] < self._clock():
                return None
            return held[0]

    def take_pending(self, session: Session, what: str) -> str | None:
        """The secret waiting for page ``what``, which is then forgotten: shown once."""
        with self._lock:
            held = session.pending.pop(what, None)
            if held is None or held[1] < self._clock():
                return None
            return held[0]

    def forget_pending(self, session: Session, keep: str = "") -> None:
        """Drop every secret waiting for a page other than ``keep``."""
        with self._lock:
            session.pending = {k: v for k, v in session.pending.items() if k == keep}

    def take_notice(self, session: Session) -> str:
        with self._lock:
            notice, session.notice = session.notice, ""
        return notice

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.last_seen > self.idle_timeout or now - session.started > self.lifetime

    def _drop_expired(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]

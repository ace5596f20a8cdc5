"""Console sessions: idle expiry, the hard lifetime, the memory bound, secrets shown once."""

from __future__ import annotations

from lacework_tokens.server.console.sessions import PENDING_SECRET_SECONDS, SessionStore


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_after_its_idle_time_and_each_request_restarts_it() -> None:
    ticks = Ticks()
    sessions = SessionStore(idle_timeout=60, lifetime=3600, clock=ticks)
    cookie, opened = sessions.open("KEY", "acme")
    for _ in range(5):
        ticks.now += 59
        found, timed_out = sessions.find(cookie)
        assert found is opened and not timed_out
    ticks.now += 61
    assert sessions.find(cookie) == (None, True)
    # Once ended, it is gone: the page no longer says it timed out.
    assert sessions.find(cookie) == (None, False)


def test_a_busy_session_still_ends_at_its_lifetime() -> None:
    ticks = Ticks()
    sessions = SessionStore(idle_timeout=60, lifetime=300, clock=ticks)
    cookie, _ = sessions.open("KEY", "acme")
    for _ in range(5):
        ticks.now += 59
        assert sessions.find(cookie)[0] is not None
    ticks.now += 10
    assert sessions.find(cookie) == (None, True)


def test_cookies_are_random_and_sessions_are_kept_by_hash_only() -> None:
    sessions = SessionStore()
    first, one = sessions.open("KEY", "acme")
    second, two = sessions.open("KEY", "acme")
    assert first != second and one.csrf != two.csrf
    assert len(first) >= 43  # 256 bits, base64url
    assert first not in repr(vars(sessions))
    assert sessions.find(first + "x") == (None, False)
    assert sessions.find("") == (None, False)
    assert sessions.find(None) == (None, False)


def test_sign_out_ends_the_session() -> None:
    sessions = SessionStore()
    cookie, _ = sessions.open("KEY", "acme")
    sessions.close(cookie)
    assert sessions.find(cookie) == (None, False)
    sessions.close(cookie)  # twice is harmless
    sessions.close(None)


def test_the_session_idle_longest_makes_room_when_the_store_is_full() -> None:
    ticks = Ticks()
    sessions = SessionStore(limit=3, clock=ticks)
    cookies = []
    for _ in range(3):
        cookies.append(sessions.open("KEY", "acme")[0])
        ticks.now += 1
    sessions.find(cookies[0])  # the oldest is now the most recently used
    newest, _ = sessions.open("KEY", "acme")
    assert len(sessions) == 3
    assert sessions.find(cookies[1])[0] is None
    assert all(sessions.find(c)[0] is not None for c in (cookies[0], cookies[2], newest))


def test_a_pending_secret_is_for_its_page_only_and_for_a_short_while() -> None:
    ticks = Ticks()
    sessions = SessionStore(clock=ticks)
    _, session = sessions.open("KEY", "acme")
    sessions.keep_pending(session, "key:A", "s3cret")
    sessions.forget_pending(session, keep="key:A")
    assert sessions.pending(session, "key:A") == "s3cret"
    assert sessions.pending(session, "key:A") == "s3cret"  # the page may show and download it
    assert sessions.pending(session, "key:B") is None
    sessions.forget_pending(session, keep="key:B")
    assert sessions.pending(session, "key:A") is None

    sessions.keep_pending(session, "token:T", "value")
    assert sessions.take_pending(session, "token:T") == "value"
    assert sessions.take_pending(session, "token:T") is None

    sessions.keep_pending(session, "token:T", "value")
    ticks.now += PENDING_SECRET_SECONDS + 1
    assert sessions.pending(session, "token:T") is None
    assert sessions.take_pending(session, "token:T") is None


def test_a_notice_is_shown_once() -> None:
    sessions = SessionStore()
    _, session = sessions.open("KEY", "acme")
    session.notice = "Token disabled."
    assert sessions.take_notice(session) == "Token disabled."
    assert sessions.take_notice(session) == ""

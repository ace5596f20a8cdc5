"""The server's time: the services own every time (client-sent times are ignored)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Clock:
    """Reads ``source`` (the system clock unless a test gives its own); a naive time is UTC."""

    __slots__ = ("_source",)

    def __init__(self, source: Callable[[], datetime] | None = None) -> None:
        self._source = source or _utc_now

    def now(self) -> datetime:
        """To the millisecond, in UTC: the wire's precision, so what is stored is what is shown."""
        value = self.precise().astimezone(UTC)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)

    def precise(self) -> datetime:
        """As precise as the source, for comparing against expiry times."""
        value = self._source()
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

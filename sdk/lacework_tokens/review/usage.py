"""How many agents use a token: the review's ``--live`` impact.

``UsageSource`` is the one thing the review asks: the agents that checked in with a token value
between two times. ``ClientUsageSource`` answers through Lacework's ``POST /api/v2/AgentInfo/
search`` with an SDK ``Client``: agents tag themselves with ``LwTokenShort``, the first 30
characters of their token, so the search filters on that tag over the window and follows
``paging.urls.nextPage`` until the last page.

Where this goes next: once the SDK has ``client.agents`` (the AgentInfo search as a typed
API), ``ClientUsageSource.agents_using`` becomes a call to it; the protocol stays as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

from lacework_tokens.review.model import TOKEN_PREFIX_LENGTH, AgentUsage

if TYPE_CHECKING:
    from lacework_tokens.client import Client

__all__ = ["AGENT_INFO_SEARCH_PATH", "ClientUsageSource", "UsageSource"]

AGENT_INFO_SEARCH_PATH: Final = "/api/v2/AgentInfo/search"
TOKEN_TAG: Final = "tags.LwTokenShort"
# Hostnames kept for the report; the count covers every agent.
HOSTNAMES_SHOWN: Final = 10
# A misbehaving server must not keep a review paging for ever.
MAX_PAGES: Final = 1000


class UsageSource(Protocol):
    """Counts the agents that checked in with a token value in ``[start, end]``."""

    def agents_using(self, token: str, *, start: datetime, end: datetime) -> AgentUsage: ...


def _time(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def search_body(token: str, start: datetime, end: datetime) -> dict[str, Any]:
    """The AgentInfo search for one token: the wire shape Lacework's clients send."""
    return {
        "timeFilter": {"startTime": _time(start), "endTime": _time(end)},
        "filters": [
            {"field": TOKEN_TAG, "expression": "eq", "value": token[:TOKEN_PREFIX_LENGTH]},
        ],
    }


class ClientUsageSource:
    """``UsageSource`` over an SDK ``Client`` (real Lacework or the backend)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"ClientUsageSource({self._client!r})"

    def agents_using(self, token: str, *, start: datetime, end: datetime) -> AgentUsage:
        machines: set[str] = set()
        hostnames: set[str] = set()
        answer = self._client.request(
            "POST", AGENT_INFO_SEARCH_PATH, search_body(token, start, end), idempotent=True
        )
        for _ in range(MAX_PAGES):
            for agent in _rows(answer):
                machine = agent.get("mid")
                hostname = agent.get("hostname") or (agent.get("tags") or {}).get("Hostname")
                # An agent checks in many times: count machines, not rows.
                machines.add(str(machine if machine is not None else hostname))
                if hostname:
                    hostnames.add(str(hostname))
            following = _next_page(answer)
            if following is None:
                break
            answer = self._client.request("GET", following)
        shown = tuple(sorted(hostnames)[:HOSTNAMES_SHOWN])
        return AgentUsage(agents=len(machines), hostnames=shown)


def _rows(answer: Any) -> list[dict[str, Any]]:
    data = answer.get("data") if isinstance(answer, dict) else None
    return [row for row in data or () if isinstance(row, dict)]


def _next_page(answer: Any) -> str | None:
    """The path and query of ``paging.urls.nextPage`` (the host is the client's own)."""
    if not isinstance(answer, dict):
        return None
    paging = answer.get("paging") or {}
    url = ((paging.get("urls") or {}) if isinstance(paging, dict) else {}).get("nextPage")
    if not url:
        return None
    parts = urlsplit(str(url))
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path

"""How many agents use a token: the review's ``--live`` impact.

``UsageSource`` is the one thing the review asks: the agents that checked in with a token value
between two times. ``ClientUsageSource`` answers through ``client.agents`` (Lacework's
``POST /api/v2/AgentInfo/search``, pages followed lazily): agents tag themselves with
``LwTokenShort``, the first 30 characters of their token, so the search filters on that tag
over the window.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final, Protocol

from lacework_tokens.review.model import TOKEN_PREFIX_LENGTH, AgentUsage

if TYPE_CHECKING:
    from lacework_tokens.client import Client

__all__ = ["AGENT_INFO_SEARCH_PATH", "ClientUsageSource", "UsageSource"]

AGENT_INFO_SEARCH_PATH: Final = "/api/v2/AgentInfo/search"
TOKEN_TAG: Final = "tags.LwTokenShort"
# Hostnames kept for the report; the count covers every agent.
HOSTNAMES_SHOWN: Final = 10


class UsageSource(Protocol):
    """Counts the agents that checked in with a token value in ``[start, end]``."""

    def agents_using(self, token: str, *, start: datetime, end: datetime) -> AgentUsage: ...


class ClientUsageSource:
    """``UsageSource`` over an SDK ``Client`` (real Lacework or the backend)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"ClientUsageSource({self._client!r})"

    def agents_using(self, token: str, *, start: datetime, end: datetime) -> AgentUsage:
        from lacework_tokens.wire import Expression, SearchFilter

        machines: set[str] = set()
        hostnames: set[str] = set()
        tagged = SearchFilter(TOKEN_TAG, Expression.EQ, token[:TOKEN_PREFIX_LENGTH])
        for agent in self._client.agents.search([tagged], start=start, end=end):
            hostname = agent.hostname or agent.tags.get("Hostname", "")
            # An agent may be listed once per check-in: count machines, not rows.
            machines.add(str(agent.mid))
            if hostname:
                hostnames.add(hostname)
        shown = tuple(sorted(hostnames)[:HOSTNAMES_SHOWN])
        return AgentUsage(agents=len(machines), hostnames=shown)

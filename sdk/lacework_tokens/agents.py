"""Agents as Lacework's AgentInfo shows them: ``client.agents``.

``search`` posts ``POST /api/v2/AgentInfo/search`` and follows ``paging.urls.nextPage`` one page
at a time, only as far as the caller iterates: paging through any number of agents holds one
page in memory. A next page is fetched by its path and query on the client's own server, as
Lacework's Go SDK does (the host a server names is ignored).

```python
from datetime import timedelta

for agent in client.agents.list(since=timedelta(days=1), token=token.token):
    print(agent.mid, agent.hostname, agent.status)
```
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from lacework_tokens import errors, limits
from lacework_tokens.wire import (
    Agent,
    AgentPage,
    AgentSearchRequest,
    Expression,
    SearchFilter,
    converter,
)

if TYPE_CHECKING:
    from lacework_tokens.client import Client

__all__ = ["AGENT_INFO_SEARCH_PATH", "DEFAULT_SINCE", "MAX_PAGES", "Agents", "next_page_path"]

AGENT_INFO_SEARCH_PATH: Final = "/api/v2/AgentInfo/search"
# What ``lacework agent list`` covers by default.
DEFAULT_SINCE: Final = timedelta(days=7)
# A server that links pages for ever must not keep a caller paging for ever.
MAX_PAGES: Final = 100_000


def next_page_path(next_page: str) -> str:
    """The path and query of a ``nextPage`` (a path, or a URL whose host is ignored)."""
    parts = urlsplit(next_page)
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


class Agents:
    """Agents of the client's account. Every method talks to the server, lazily."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def pages(
        self,
        filters: Sequence[SearchFilter] = (),
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        returns: Sequence[str] = (),
    ) -> Iterator[AgentPage]:
        """The answer's pages, each fetched when the previous one has been consumed."""
        request = AgentSearchRequest(
            start_time=start, end_time=end, filters=tuple(filters), returns=tuple(returns)
        )
        page = self._client.request_whole(
            "POST",
            AGENT_INFO_SEARCH_PATH,
            AgentPage,
            converter.unstructure(request),
            idempotent=True,
        )
        for _ in range(MAX_PAGES):
            yield page
            if page.next_page is None:
                return
            if not page.agents:
                raise errors.TransportError(
                    "unexpected answer from POST /api/v2/AgentInfo/search: an empty page "
                    "names a next page"
                )
            page = self._client.request_whole("GET", next_page_path(page.next_page), AgentPage)
        raise errors.TransportError(f"AgentInfo search: more than {MAX_PAGES} pages")

    def search(
        self,
        filters: Sequence[SearchFilter] = (),
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        returns: Sequence[str] = (),
    ) -> Iterator[Agent]:
        """Agents alive in ``[start, end]`` (the server's default window when not given)
        matching every filter, e.g. ``SearchFilter("hostname", Expression.RLIKE, "db-.*")``."""
        for page in self.pages(filters, start=start, end=end, returns=returns):
            yield from page.agents

    def list(
        self,
        since: datetime | timedelta = DEFAULT_SINCE,
        *,
        token: str | None = None,
        filters: Sequence[SearchFilter] = (),
    ) -> Iterator[Agent]:
        """Agents seen since a time (or within a duration; 7 days by default); only those of
        ``token`` (a token value: agents are tagged with its first 30 characters) when given."""
        end = datetime.now(UTC)
        start = end - since if isinstance(since, timedelta) else since
        chosen = list(filters)
        if token is not None:
            short = token[: limits.TOKEN_SHORT_LENGTH]
            chosen.append(SearchFilter("tags.LwTokenShort", Expression.EQ, short))
        return self.search(chosen, start=start, end=end)

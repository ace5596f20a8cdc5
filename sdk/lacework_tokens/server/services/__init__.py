"""The backend's rules, independent of HTTP and of the database, one service per concern.

``Services(store, sealer, clock=...)`` holds them all: ``identity`` (accounts, API keys, bearer
tokens, ``authenticate`` → ``Principal``), ``tokens`` (agent access tokens), ``agents``
(enrollment and check-in, AgentInfo search, usage per token), ``audit`` (the audit trail) and
``deferred``, which writes the events that go with no change (reads of token values, failed
logins) in batches; ``close()`` writes what is pending. The HTTP app resolves a caller with
``identity.authenticate`` and calls one method per operation; every failure is a
``ServiceError`` whose ``status`` and ``message`` go to the client as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from lacework_tokens.server.crypto import Sealer
from lacework_tokens.server.services.agents import DEFAULT_PAGE_ROWS, AgentService
from lacework_tokens.server.services.audit import AuditService, DeferredAudit
from lacework_tokens.server.services.clock import Clock
from lacework_tokens.server.services.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceError,
    Unauthorized,
)
from lacework_tokens.server.services.identity import IdentityService, Principal
from lacework_tokens.server.services.tokens import TokenService
from lacework_tokens.server.storage.protocol import Store

__all__ = [
    "AgentService",
    "AuditService",
    "BadRequest",
    "Clock",
    "Conflict",
    "DeferredAudit",
    "Forbidden",
    "IdentityService",
    "NotFound",
    "Principal",
    "ServiceError",
    "Services",
    "TokenService",
    "Unauthorized",
]


class Services:
    """Every service over one store. ``clock`` gives the time (tests pass their own);
    ``agent_page_rows`` is how many agents one AgentInfo page holds."""

    def __init__(
        self,
        store: Store,
        sealer: Sealer,
        *,
        clock: Callable[[], datetime] | None = None,
        agent_page_rows: int = DEFAULT_PAGE_ROWS,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.clock = Clock(clock)
        self.deferred = DeferredAudit(store)
        self.identity = IdentityService(store, self.clock, self.deferred)
        self.tokens = TokenService(store, sealer, self.clock, self.deferred)
        self.agents = AgentService(store, sealer, self.clock, page_rows=agent_page_rows)
        self.audit = AuditService(store)

    def __repr__(self) -> str:
        return f"Services({self.store!r})"

    def close(self) -> None:
        """Write the pending deferred audit events; call before closing the store."""
        self.deferred.close()

"""The ``Store`` protocol: what the services need from persistence.

Stores keep records and enforce the constraints a database enforces best (unique key ids,
unique aliases per account, atomic updates). Every rule about what may change and why lives in
the services, so the same rules hold whatever the store.

Every change that matters for security can carry an ``AuditEvent``; the store writes it in the
same transaction as the change, so the trail never records what did not happen nor misses what
did.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from lacework_tokens.server.storage.records import (
    AccountRecord,
    AgentQuery,
    AgentRecord,
    ApiKeyRecord,
    AuditEvent,
    AuditFor,
    BearerRecord,
    TokenChanges,
    TokenCondition,
    TokenRecord,
    TokenUsageRecord,
)

__all__ = ["Store"]


class Store(Protocol):
    """What the services need from persistence. Implementations are thread-safe."""

    def close(self) -> None: ...

    # accounts
    def insert_account(self, record: AccountRecord, audit: AuditEvent | None = None) -> None:
        """Raises ``DuplicateAccount`` when an account of this name (ignoring case) exists."""

    def find_account(self, name: str) -> AccountRecord | None:
        """The account named ``name``, ignoring case (an exact match wins); ``None`` if none."""

    def list_accounts(self) -> list[AccountRecord]:
        """Every account, top-level accounts and sub-accounts alike, by name."""

    # API keys
    def insert_api_key(
        self,
        record: ApiKeyRecord,
        *,
        max_per_user: int | None = None,
        audit: AuditEvent | None = None,
    ) -> None:
        """Raises ``DuplicateKey`` when ``key_id`` exists, ``TooManyKeys`` when the user
        already has ``max_per_user`` keys in the account (checked in the same transaction)."""

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    def list_api_keys(self, account: str | None = None) -> list[ApiKeyRecord]: ...

    def count_api_keys(self) -> int: ...

    def set_api_key_enabled(
        self, key_id: str, enabled: bool, audit: AuditEvent | None = None
    ) -> bool:
        """Enable or disable a key; ``False`` (and no audit) when there is no such key.

        Disabling deletes the key's bearer tokens in the same transaction: enabling it again
        brings none of them back."""

    def delete_api_key(self, key_id: str, audit: AuditEvent | None = None) -> bool:
        """Delete a key and its bearer tokens; ``False`` (and no audit) when there is none."""

    # bearer tokens
    def insert_bearer(self, record: BearerRecord) -> None: ...

    def get_bearer(self, token_hash: str) -> BearerRecord | None: ...

    def get_bearer_and_key(self, token_hash: str) -> tuple[BearerRecord, ApiKeyRecord] | None:
        """The bearer with this hash and its API key, read together; ``None`` if either is
        gone."""

    def delete_bearers(
        self, key_id: str, token_hash: str | None = None, audit: AuditEvent | None = None
    ) -> int:
        """Delete the key's bearer tokens (only the one with ``token_hash`` when given) and
        record ``audit`` in the same transaction; returns how many were deleted."""

    def delete_expired_bearers(self, now: datetime) -> int: ...

    # agent access tokens
    def insert_token(self, record: TokenRecord, audit: AuditEvent | None = None) -> None:
        """Raises ``DuplicateAlias`` when the account already has ``record.alias``."""

    def get_token(self, account: str, lookup: str) -> TokenRecord | None: ...

    def list_tokens(self, account: str) -> list[TokenRecord]:
        """Every token of the account, oldest first."""

    def search_tokens(
        self, account: str, conditions: Sequence[TokenCondition]
    ) -> list[TokenRecord]:
        """Tokens of the account meeting every condition (AND), oldest first."""

    def token_pages(
        self, account: str, conditions: Sequence[TokenCondition] = (), page_size: int = 100
    ) -> Iterator[list[TokenRecord]]:
        """What ``search_tokens`` finds (every token, without conditions), in the same order,
        as pages of at most ``page_size``; each page is one query, run when it is asked for.
        Each token present throughout is in exactly one page."""

    def update_token(
        self,
        account: str,
        lookup: str,
        changes: TokenChanges,
        audit: AuditFor | None = None,
    ) -> TokenRecord | None:
        """Apply ``changes`` atomically; ``None`` when there is no such token.

        ``audit(before, after)`` names the event to record, written in the same transaction.
        Raises ``DuplicateAlias`` when the new alias is taken.
        """

    def find_token(self, lookup: str) -> TokenRecord | None:
        """The token with this lookup in any account (what an agent's token names)."""

    # agents
    def enroll_agent(
        self,
        record: AgentRecord,
        *,
        max_enrollments: int | None = None,
        audit: AuditEvent | None = None,
    ) -> AgentRecord:
        """Store a new agent under the account's next ``mid`` (``record.mid`` is ignored) and
        count it on its token, in one transaction; the agent as stored.

        Raises ``EnrollmentsExhausted`` when the token has already enrolled
        ``max_enrollments`` agents (checked in the same transaction). The audit event's
        detail is prefixed with the new mid.
        """

    def checkin_agent(self, token_lookup: str, mid: int, now: datetime) -> AgentRecord | None:
        """Record a check-in at ``now`` of agent ``mid`` (of the token's account) enrolled with
        ``token_lookup``; the agent after it, or ``None`` when no such agent enrolled with that
        token. An agent whose token is disabled is answered as it is, nothing written."""

    def get_agent(self, account: str, mid: int) -> AgentRecord | None: ...

    def search_agents(self, query: AgentQuery, statuses: tuple[str, str, str]) -> list[AgentRecord]:
        """One page of agents (see ``AgentQuery``); ``statuses`` name active, inactive and
        token-disabled agents for conditions on the status."""

    def count_agents(self, query: AgentQuery, statuses: tuple[str, str, str]) -> int:
        """How many agents the query finds on all its pages (``after`` and ``limit`` aside)."""

    def token_usage(self, lookup: str, since: datetime) -> TokenUsageRecord | None:
        """Agents of a token: enrolled, checked in at or after ``since``, last check-in;
        ``None`` when there is no such token. Costs the same however many agents there are."""

    # audit trail
    def insert_audit(self, event: AuditEvent) -> None:
        """Record an event that goes with no other change (e.g. a failed login)."""

    def insert_audit_events(self, events: Sequence[AuditEvent]) -> None:
        """Record several such events in one transaction."""

    def list_audit(self, account: str | None = None, limit: int = 100) -> list[AuditEvent]:
        """The newest ``limit`` events, newest first; only ``account``'s when it is given."""

    def list_audit_of_token(
        self, account: str, token_id: str, limit: int = 100
    ) -> list[AuditEvent]:
        """The newest ``limit`` events of ``account`` naming the token ``token_id``, newest
        first."""

"""What the console's pages show, built from the services' records: never a token value.

A row of the tokens table is made from a stored ``TokenRecord`` (whose value stays sealed) and
names its token by ``lookup``, the keyed hash the store finds it by; so neither a page nor a URL
can carry a value unless a page is asked to reveal one.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from attrs import frozen

from lacework_tokens import limits
from lacework_tokens.server.services.agents import ListedAgent
from lacework_tokens.server.storage.records import (
    ApiKeyRecord,
    AuditEvent,
    TokenRecord,
    TokenUsageRecord,
)

__all__ = [
    "CHART_DAYS",
    "AgentRow",
    "Chart",
    "KeyRow",
    "TokenRow",
    "TokenState",
    "agent_rows",
    "audit_rows",
    "filter_tokens",
    "key_rows",
    "shown_time",
    "token_row",
    "usage_chart",
]


class TokenState(enum.StrEnum):
    """A token's state as the console shows it and filters by it (the states of
    ``lacework-tokens token list``)."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    DELETED = "deleted"  # soft-deleted: disabled and renamed as Terraform's destroy does
    EXPIRED = "expired"  # enabled, past its expiry: no new enrollment
    USED_UP = "used up"  # enabled, all its enrollments taken

    @property
    def slug(self) -> str:
        return self.value.replace(" ", "-")


def token_state(record: TokenRecord, usage: TokenUsageRecord | None, now: datetime) -> TokenState:
    if not record.enabled:
        if limits.is_soft_deleted_name(record.alias):
            return TokenState.DELETED
        return TokenState.DISABLED
    if record.expires_at is not None and record.expires_at <= now:
        return TokenState.EXPIRED
    enrolled = usage.enrolled if usage is not None else record.enrolled
    if record.max_enrollments is not None and enrolled >= record.max_enrollments:
        return TokenState.USED_UP
    return TokenState.ENABLED


def shown_time(value: datetime | None) -> str:
    """A time as people read it in the console: UTC to the second."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@frozen
class TokenRow:
    id: str  # the lookup: names the token in URLs and forms
    name: str
    state: TokenState
    os: str
    description: str
    created: datetime
    updated: datetime
    version: str
    expires: datetime | None
    max_enrollments: int | None
    scope: str | None
    enrolled: int | None  # None: not counted
    active: int | None  # checked in within the usage window
    last_checkin: datetime | None

    @property
    def deleted(self) -> bool:
        return self.state is TokenState.DELETED

    @property
    def enrollments(self) -> str:
        """How many agents may enroll: "any number", "single use" or "at most N"."""
        if self.max_enrollments is None:
            return "any number"
        if self.max_enrollments == 1:
            return "single use"
        return f"at most {self.max_enrollments}"


def token_row(
    record: TokenRecord, usage: TokenUsageRecord | None = None, *, now: datetime
) -> TokenRow:
    return TokenRow(
        id=record.lookup,
        name=record.alias,
        state=token_state(record, usage, now),
        os=record.os,
        description=record.description,
        created=record.created_time,
        updated=record.updated_time,
        version=record.version,
        expires=record.expires_at,
        max_enrollments=record.max_enrollments,
        scope=record.scope,
        enrolled=None if usage is None else usage.enrolled,
        active=None if usage is None else usage.active,
        last_checkin=None if usage is None else usage.last_checkin,
    )


def filter_tokens(
    records: Iterable[TokenRecord],
    usage: Mapping[str, TokenUsageRecord],
    *,
    now: datetime,
    search: str = "",
    state: str = "",
) -> list[TokenRow]:
    """Rows whose name or description contains ``search`` (ignoring case) in ``state`` (any
    when empty), newest first."""
    needle = search.strip().casefold()
    rows = [token_row(record, usage.get(record.lookup), now=now) for record in records]
    return sorted(
        (
            row
            for row in rows
            if (not state or row.state.value == state)
            and (
                not needle or needle in row.name.casefold() or needle in row.description.casefold()
            )
        ),
        key=lambda row: row.created,
        reverse=True,
    )


@frozen
class KeyRow:
    key_id: str
    user: str
    role: str
    enabled: bool
    created: datetime
    current: bool  # the key this session signed in with


def key_rows(keys: Sequence[ApiKeyRecord], current_key_id: str) -> list[KeyRow]:
    return [
        KeyRow(
            key_id=key.key_id,
            user=key.user,
            role=key.role.value,
            enabled=key.enabled,
            created=key.created_time,
            current=key.key_id == current_key_id,
        )
        for key in keys
    ]


@frozen
class AuditRow:
    time: datetime
    actor: str
    action: str
    subject: str
    detail: str


def audit_rows(events: Iterable[AuditEvent]) -> list[AuditRow]:
    rows = []
    for event in events:
        if event.token_alias is not None:
            subject = f"token {event.token_alias} ({event.token_id})"
        elif event.key_id is not None:
            subject = f"API key {event.key_id}"
        else:
            subject = ""
        rows.append(
            AuditRow(
                time=event.time,
                actor=event.actor,
                action=event.action.value,
                subject=subject,
                detail=event.detail,
            )
        )
    return rows


@frozen
class AgentRow:
    """An agent in ``lacework agent list``'s columns, with the name of its token (never its
    value nor ``LwTokenShort``)."""

    mid: int
    status: str
    agent_version: str
    hostname: str
    name: str
    internal_ip: str
    external_ip: str
    os_arch: str
    last_checkin: datetime
    created: datetime
    token_id: str
    token_name: str


def agent_rows(agents: Iterable[ListedAgent], token_names: Mapping[str, str]) -> list[AgentRow]:
    rows = []
    for listed in agents:
        record = listed.record
        rows.append(
            AgentRow(
                mid=record.mid,
                status=listed.status,
                agent_version=record.agent_version,
                hostname=record.hostname,
                name=record.tags.get("Name", ""),
                internal_ip=record.tags.get("InternalIp", record.ip_addr),
                external_ip=record.tags.get("ExternalIp", ""),
                os_arch=f"{record.os}/{record.arch}",
                last_checkin=record.last_update,
                created=record.created_time,
                token_id=record.token_lookup,
                token_name=token_names.get(record.token_lookup, ""),
            )
        )
    return rows


# --- the usage chart: server-rendered SVG, no script ----------------------------------------

CHART_DAYS: Final = 14
_CHART_WIDTH: Final = 560
_CHART_HEIGHT: Final = 140
_CHART_LEFT: Final = 28
_CHART_BOTTOM: Final = 20


@frozen
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str  # for screen readers and the tooltip


@frozen
class Chart:
    """Enrollments and check-ins per day over ``CHART_DAYS`` days, as SVG geometry (the
    template draws it: no script, no inline style)."""

    width: int
    height: int
    enrolled: tuple[Bar, ...]
    checked_in: tuple[Bar, ...]
    days: tuple[tuple[float, str], ...]  # x and label of a few day ticks
    top: int  # the count at the top of the scale
    baseline: float
    left: float
    summary: str  # the chart in words


def usage_chart(agents: Sequence[AgentRow], now: datetime) -> Chart:
    """Per day: agents that enrolled, and agents whose latest check-in fell on that day (the
    store keeps each agent's latest check-in, not every one)."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=CHART_DAYS - 1)
    enrolled = [0] * CHART_DAYS
    checked_in = [0] * CHART_DAYS
    for agent in agents:
        for counts, when in ((enrolled, agent.created), (checked_in, agent.last_checkin)):
            index = (when.astimezone(UTC).date() - first).days
            if 0 <= index < CHART_DAYS:
                counts[index] += 1
    top = max(1, *enrolled, *checked_in)
    plot_width = _CHART_WIDTH - _CHART_LEFT - 4
    plot_height = _CHART_HEIGHT - _CHART_BOTTOM - 8
    slot = plot_width / CHART_DAYS
    bar = slot * 0.38
    baseline = _CHART_HEIGHT - _CHART_BOTTOM

    def bars(counts: list[int], offset: float, what: str) -> tuple[Bar, ...]:
        made = []
        for index, count in enumerate(counts):
            height = plot_height * count / top
            day = first + timedelta(days=index)
            made.append(
                Bar(
                    x=round(_CHART_LEFT + index * slot + offset, 1),
                    y=round(baseline - height, 1),
                    width=round(bar, 1),
                    height=round(height, 1),
                    count=count,
                    label=f"{day.isoformat()}: {count} {what}",
                )
            )
        return tuple(made)

    ticks = tuple(
        (
            round(_CHART_LEFT + index * slot + slot / 2, 1),
            (first + timedelta(days=index)).strftime("%m-%d"),
        )
        for index in range(0, CHART_DAYS, 3)
    )
    enrolled_words = "1 agent" if sum(enrolled) == 1 else f"{sum(enrolled)} agents"
    summary = f"Over the last {CHART_DAYS} days, {enrolled_words} enrolled and "
    summary += f"{sum(checked_in)} last checked in."
    return Chart(
        width=_CHART_WIDTH,
        height=_CHART_HEIGHT,
        enrolled=bars(enrolled, slot * 0.1, "enrolled"),
        checked_in=bars(checked_in, slot * 0.1 + bar, "last checked in"),
        days=ticks,
        top=top,
        baseline=baseline,
        left=_CHART_LEFT,
        summary=summary,
    )

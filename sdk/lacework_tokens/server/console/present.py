"""What the console's pages show, built from the services' records: never a token value.

A row of the tokens table is made from a stored ``TokenRecord`` (whose value stays sealed) and
names its token by ``lookup``, the keyed hash the store finds it by; so neither a page nor a URL
can carry a value unless a page is asked to reveal one.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Final

from attrs import frozen

from lacework_tokens import limits
from lacework_tokens.server.storage.records import ApiKeyRecord, AuditEvent, TokenRecord

__all__ = [
    "KeyRow",
    "TokenRow",
    "TokenState",
    "audit_rows",
    "filter_tokens",
    "key_rows",
    "shown_time",
    "token_row",
]

# What the official provider's destroy leaves: ``<name>-<5 random [a-z0-9]>-deleted``.
_SOFT_DELETED: Final = re.compile(r".+-[a-z0-9]{5}" + re.escape(limits.SOFT_DELETE_SUFFIX))


class TokenState(enum.StrEnum):
    """A token's state as the console shows it and filters by it."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    DELETED = "deleted"  # soft-deleted: disabled and renamed as Terraform's destroy does


def token_state(record: TokenRecord) -> TokenState:
    if record.enabled:
        return TokenState.ENABLED
    if _SOFT_DELETED.fullmatch(record.alias):
        return TokenState.DELETED
    return TokenState.DISABLED


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

    @property
    def deleted(self) -> bool:
        return self.state is TokenState.DELETED


def token_row(record: TokenRecord) -> TokenRow:
    return TokenRow(
        id=record.lookup,
        name=record.alias,
        state=token_state(record),
        os=record.os,
        description=record.description,
        created=record.created_time,
        updated=record.updated_time,
        version=record.version,
    )


def filter_tokens(
    records: Iterable[TokenRecord], *, search: str = "", state: str = ""
) -> list[TokenRow]:
    """Rows whose name or description contains ``search`` (ignoring case) in ``state`` (any
    when empty), newest first."""
    needle = search.strip().casefold()
    rows = [token_row(record) for record in records]
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

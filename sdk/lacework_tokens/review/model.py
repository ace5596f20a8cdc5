"""What a review returns: typed, frozen models with no token value in them.

``Review.changes`` says what happens to each token, ``Review.findings`` what a rule found and
``Review.flows`` where token values go. None of them holds a token value; the only values kept
are in ``Review.redactor``, which removes them from any text as a last line of defence.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Final

import attrs

from lacework_tokens.review.rules import Rule, Severity

__all__ = [
    "Acknowledgement",
    "AgentUsage",
    "ChangeKind",
    "Finding",
    "Flow",
    "Redactor",
    "Review",
    "SourceLocation",
    "TokenChange",
    "window_words",
]

# Lacework agents tag themselves with the first 30 characters of their token (LwTokenShort).
TOKEN_PREFIX_LENGTH: Final = 30
REDACTED: Final = "[redacted]"


class ChangeKind(enum.Enum):
    """One thing a plan does to a token, in the words the report uses."""

    CREATED = "created"
    RENAMED = "renamed"
    DESCRIPTION_CHANGED = "description-changed"
    ENABLED = "enabled"
    DISABLED = "disabled"
    DESTROYED = "destroyed"
    REPLACED = "replaced"
    IMPORTED = "imported"
    REVIVED = "revived"
    FORGOTTEN = "forgotten"
    MOVED = "moved"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class AgentUsage:
    """Agents that checked in with one token during the review's window."""

    agents: int
    hostnames: tuple[str, ...] = ()


@attrs.frozen
class SourceLocation:
    """A line in the configuration, relative to the root module's directory."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@attrs.frozen
class Acknowledgement:
    """``# lacework-tokens: ack RULE reason`` found next to the block a finding is about."""

    reason: str
    location: SourceLocation


@attrs.frozen
class TokenChange:
    """What the plan does to one ``lacework_agent_access_token`` instance.

    ``None`` in a ``*_before``/``*_after`` field means there is no such state (before a create,
    after a destroy), the value is not known until apply (listed in ``unknown``) or it is
    sensitive (listed in ``hidden``). After a destroy the token still exists, disabled: so
    ``enabled_after`` is ``False`` and ``name_after`` is ``None`` (a random ``-deleted`` name).
    """

    address: str
    module_address: str
    provider: str
    actions: tuple[str, ...]
    events: tuple[ChangeKind, ...]
    name_before: str | None
    name_after: str | None
    enabled_before: bool | None
    enabled_after: bool | None
    description_before: str | None
    description_after: str | None
    unknown: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    previous_address: str | None = None
    agents: AgentUsage | None = None

    @property
    def stops_agents(self) -> bool:
        """Whether agents using the token's current value stop reporting after this plan."""
        return any(event in _STOPPING for event in self.events)

    @property
    def name(self) -> str | None:
        """The name a person knows the token by: the current one, else the planned one."""
        return self.name_before if self.name_before is not None else self.name_after

    def summary(self) -> str:
        """What happens, in plain words, e.g. "renamed prod → prod-eu, disabled"."""
        return "; ".join(_describe(self, event) for event in self.events) or "no change"


_STOPPING: Final = frozenset({ChangeKind.DESTROYED, ChangeKind.DISABLED, ChangeKind.REPLACED})


def window_words(window: timedelta) -> str:
    """``7 days``, ``36 hours``, ``90 minutes``."""
    seconds = int(window.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def _describe(change: TokenChange, event: ChangeKind) -> str:
    name_after = _shown(change, "name", change.name_after)
    match event:
        case ChangeKind.CREATED:
            state = {True: "enabled", False: "disabled", None: "enabled state unknown"}
            return f"created as {name_after}, {state[change.enabled_after]}"
        case ChangeKind.RENAMED:
            return f"renamed {_shown(change, 'name', change.name_before)} → {name_after}"
        case ChangeKind.DESCRIPTION_CHANGED:
            return "description changed"
        case ChangeKind.ENABLED:
            return "enabled"
        case ChangeKind.DISABLED:
            return "disabled: agents using it stop reporting"
        case ChangeKind.DESTROYED:
            return (
                "destroyed: disabled and renamed "
                f"{_shown(change, 'name', change.name_before)}-xxxxx-deleted (tokens are never "
                "deleted); agents using it stop reporting"
            )
        case ChangeKind.REPLACED:
            return (
                "replaced: the old value is disabled and renamed "
                f"{_shown(change, 'name', change.name_before)}-xxxxx-deleted, a new value is "
                "created; agents with the old value stop reporting"
            )
        case ChangeKind.IMPORTED:
            return "imported into Terraform"
        case ChangeKind.REVIVED:
            return "re-enabled after a soft delete: old copies of its value work again"
        case ChangeKind.FORGOTTEN:
            return "removed from Terraform's state; the token stays as it is"
        case ChangeKind.MOVED:
            return f"moved from {change.previous_address}"
    raise AssertionError(event)  # pragma: no cover


def _shown(change: TokenChange, attribute: str, value: str | None) -> str:
    if attribute in change.hidden:
        return "(sensitive)"
    if attribute in change.unknown and value is None:
        return "(known after apply)"
    return value if value is not None else "(none)"


@attrs.frozen
class Finding:
    """One rule's verdict on one address (a token, a sink, a module or an output)."""

    rule: Rule
    severity: Severity
    address: str
    message: str
    path: tuple[str, ...] = ()
    location: SourceLocation | None = None
    acknowledged: Acknowledgement | None = None


@attrs.frozen
class Flow:
    """A token value reaching a destination: an output or a resource attribute.

    ``path`` runs from the token (``lacework_agent_access_token.x.token``) through every
    reference that carries it (locals, module variables and outputs) to ``sink``.
    ``evidence`` is ``reference`` (the configuration says so), ``value`` (the planned value
    contains the token) or ``reference+value``.
    """

    token: str
    sink: str
    path: tuple[str, ...]
    kept_secret: bool
    rule: str | None
    evidence: str


class Redactor:
    """Removes token values (and their 30-character agent tag prefix) from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {value for value in secrets if len(value) >= 8}
        values |= {value[:TOKEN_PREFIX_LENGTH] for value in values}
        ordered = sorted(values, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._count = len(values)

    def __repr__(self) -> str:
        return f"Redactor({self._count} values)"

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(REDACTED, text)


@attrs.frozen
class Review:
    """The result of ``review_plan``: changes, findings and flows, in a stable order."""

    changes: tuple[TokenChange, ...]
    findings: tuple[Finding, ...]
    flows: tuple[Flow, ...]
    impact_checked: bool
    window: timedelta
    ignored: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()
    redactor: Redactor = attrs.field(factory=Redactor, repr=False, eq=False)

    def blocking(self, threshold: Severity) -> tuple[Finding, ...]:
        """Findings at or above ``threshold`` that nobody acknowledged: what fails CI."""
        return tuple(
            finding
            for finding in self.findings
            if finding.acknowledged is None and finding.severity.rank >= threshold.rank
        )

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape (``--format json``)."""
        from lacework_tokens.review.formats import as_json_data

        return as_json_data(self)

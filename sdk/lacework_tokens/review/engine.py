"""``review_plan``: one plan in, one ``Review`` out."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import attrs

from lacework_tokens.review.changes import (
    Draft,
    hygiene_findings,
    lifecycle_findings,
    token_changes,
)
from lacework_tokens.review.exposure import flows as find_flows
from lacework_tokens.review.model import (
    Acknowledgement,
    AgentUsage,
    Finding,
    Redactor,
    Review,
    SourceLocation,
    TokenChange,
    window_words,
)
from lacework_tokens.review.plan import Plan, ResourceChange
from lacework_tokens.review.rules import RULES, UnknownRuleError, rule, rule_ids
from lacework_tokens.review.source import SourceTree
from lacework_tokens.review.usage import UsageSource

__all__ = ["DEFAULT_WINDOW", "review_plan"]

DEFAULT_WINDOW: Final = timedelta(days=7)


def review_plan(
    plan: Mapping[str, Any],
    *,
    usage: UsageSource | None = None,
    window: timedelta = DEFAULT_WINDOW,
    name_pattern: str | re.Pattern[str] | None = None,
    ignore: Iterable[str] = (),
    sources: SourceTree | str | Path | None = None,
    now: datetime | None = None,
) -> Review:
    """Review a plan (the parsed JSON of ``terraform show -json``).

    ``usage`` counts agents per token for destroys, disables and replacements (``None``: impact
    not checked); ``window`` is how far back agents count. ``name_pattern`` must match whole
    token names. ``ignore`` drops rules by id or name. ``sources`` is the configuration's
    directory (or a ``SourceTree``), read for acknowledgements and ``locals``.

    Raises ``PlanError`` when ``plan`` is not a plan this review reads, ``UnknownRuleError``
    for an unknown rule in ``ignore``.
    """
    parsed = Plan(plan)
    ignored = rule_ids(ignore)
    pattern = re.compile(name_pattern) if isinstance(name_pattern, str) else name_pattern
    if isinstance(sources, (str, Path)):
        sources = SourceTree.from_directory(Path(sources), parsed.document.get("configuration"))
    words = window_words(window)
    notes: list[str] = []

    changes = token_changes(parsed)
    usages: dict[str, AgentUsage | None] = {}
    if usage is not None:
        changes = _with_usage(changes, usage, window, now or datetime.now(UTC))
        usages = {token.address: token.agents for token, _ in changes}
    else:
        notes.append("Impact on agents was not checked: run with --live to count them.")

    token_values = parsed.token_values()
    flows, exposure_drafts, unfollowed = find_flows(parsed, sources, token_values)
    drafts = [
        *lifecycle_findings(changes, words),
        *hygiene_findings(
            parsed,
            changes,
            name_pattern=pattern,
            window=words,
            usage_of=lambda address: usages.get(address),
            checked=usage is not None,
        ),
        *exposure_drafts,
    ]
    findings = [_finding(draft, sources, notes) for draft in drafts if draft.rule not in ignored]
    findings.sort(key=lambda item: (-item.severity.rank, item.address, item.rule.id))

    if sources is None:
        notes.append(
            "The configuration's .tf files were not found: acknowledgements in code and "
            "locals were not read."
        )
    elif unfollowed:
        notes.append(f"Not followed (not found in the .tf files): {', '.join(sorted(unfollowed))}.")
    if parsed.errored:
        notes.append("Terraform reported errors while planning: this plan is incomplete.")
    return Review(
        changes=tuple(sorted((token for token, _ in changes), key=lambda item: item.address)),
        findings=tuple(findings),
        flows=tuple(flows),
        impact_checked=usage is not None,
        window=window,
        ignored=ignored,
        notes=tuple(dict.fromkeys(notes)),
        redactor=Redactor(token_values),
    )


def _with_usage(
    changes: list[tuple[TokenChange, ResourceChange]],
    usage: UsageSource,
    window: timedelta,
    now: datetime,
) -> list[tuple[TokenChange, ResourceChange]]:
    """Agents per token whose current value stops working, one lookup per value."""
    counted: dict[str, AgentUsage] = {}
    updated = []
    for token, change in changes:
        value = change.before.get("token") if isinstance(change.before, Mapping) else None
        if token.stops_agents and isinstance(value, str) and value:
            if value not in counted:
                counted[value] = usage.agents_using(value, start=now - window, end=now)
            token = attrs.evolve(token, agents=counted[value])
        updated.append((token, change))
    return updated


def _finding(draft: Draft, sources: SourceTree | None, notes: list[str]) -> Finding:
    location: SourceLocation | None = None
    acknowledged: Acknowledgement | None = None
    module = sources.module(draft.anchor.module) if sources else None
    found = module.block(draft.anchor.kind, draft.anchor.labels) if module else None
    if found is not None:
        file, index, block = found
        location = SourceLocation(file.path, block.line)
        for ack in file.acks.get(index, ()):
            try:
                acknowledged_rules = {rule(name).id for name in ack.rules}
            except UnknownRuleError:
                notes.append(
                    f"{file.path}:{ack.line} acknowledges an unknown rule "
                    f"({', '.join(ack.rules)}); `lacework-tokens review --list-rules`."
                )
                continue
            if draft.rule in acknowledged_rules:
                acknowledged = Acknowledgement(ack.reason, SourceLocation(file.path, ack.line))
                break
    return Finding(
        rule=RULES[draft.rule],
        severity=draft.severity,
        address=draft.address,
        message=draft.message,
        path=draft.path,
        location=location,
        acknowledged=acknowledged,
    )

"""What a plan does to each token, and the lifecycle and hygiene rules on it.

A ``lacework_agent_access_token`` is never deleted: the provider's destroy disables it and
renames it ``<name>-xxxxx-deleted``. So the question for every change is which tokens stop
working (destroy, disable, replace), which come back (a soft-deleted token enabled again), and
what the plan cannot tell yet (values known only after apply).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import attrs

from lacework_tokens.limits import SOFT_DELETE_SUFFIX
from lacework_tokens.review.model import AgentUsage, ChangeKind, TokenChange
from lacework_tokens.review.plan import (
    Plan,
    ResourceChange,
    marked,
    module_ancestors,
    module_path,
    module_prefix,
)
from lacework_tokens.review.rules import RULES, Severity

__all__ = ["Anchor", "Draft", "hygiene_findings", "lifecycle_findings", "token_changes"]

SOFT_DELETED: Final = re.compile(rf"^(?P<name>.+)-[a-z0-9]{{5}}{re.escape(SOFT_DELETE_SUFFIX)}$")
# What distinguishes generations of one token: prod-v2, prod-2, prod-2024-06, prod_20240601.
_GENERATION: Final = re.compile(r"[-_.]?(?:v?\d+|\d{4}-\d{2}(?:-\d{2})?)$")
_SHOWN: Final = ("name", "enabled", "description")


@attrs.frozen
class Anchor:
    """The configuration block a finding is about: where an acknowledgement must be."""

    module: tuple[str, ...]
    kind: str  # resource, data, output, module, terraform
    labels: tuple[str, ...]


@attrs.frozen
class Draft:
    """A finding before acknowledgements and source locations are looked up."""

    rule: str
    severity: Severity
    address: str
    message: str
    anchor: Anchor
    path: tuple[str, ...] = ()


# --- changes --------------------------------------------------------------------------------


def token_changes(plan: Plan) -> list[tuple[TokenChange, ResourceChange]]:
    """Every token the plan changes, imports, moves or forgets (no-ops left out)."""
    found = []
    for change in plan.token_changes():
        built = _token_change(change, provider_key(plan, change))
        if built.events:
            found.append((built, change))
    return found


def _attribute(state: Any, sensitive: Any, name: str) -> Any:
    if not isinstance(state, Mapping) or marked(sensitive, (name,)):
        return None
    return state.get(name)


def _token_change(change: ResourceChange, provider: str) -> TokenChange:
    actions = change.actions
    before, after = change.before, change.after
    unknown = tuple(name for name in _SHOWN if marked(change.after_unknown, (name,)))
    hidden = tuple(
        name
        for name in _SHOWN
        if marked(change.before_sensitive, (name,)) or marked(change.after_sensitive, (name,))
    )
    name_before = _attribute(before, change.before_sensitive, "name")
    enabled_before = _attribute(before, change.before_sensitive, "enabled")
    description_before = _attribute(before, change.before_sensitive, "description")
    name_after = _attribute(after, change.after_sensitive, "name")
    enabled_after = _attribute(after, change.after_sensitive, "enabled")
    description_after = _attribute(after, change.after_sensitive, "description")

    events: list[ChangeKind] = []
    if change.previous_address:
        events.append(ChangeKind.MOVED)
    if change.importing is not None:
        events.append(ChangeKind.IMPORTED)
    if "forget" in actions and "create" not in actions:
        events.append(ChangeKind.FORGOTTEN)
        name_after, enabled_after, description_after = (
            name_before,
            enabled_before,
            description_before,
        )
    elif "delete" in actions and "create" in actions:
        events.append(ChangeKind.REPLACED)
    elif "delete" in actions:
        events.append(ChangeKind.DESTROYED)
        name_after, enabled_after, description_after = None, False, description_before
    elif "create" in actions:
        events.append(ChangeKind.CREATED)
    elif before is not None and after is not None:
        if name_before != name_after and "name" not in unknown and "name" not in hidden:
            events.append(ChangeKind.RENAMED)
        if description_before != description_after and "description" not in unknown:
            events.append(ChangeKind.DESCRIPTION_CHANGED)
        if enabled_before is True and enabled_after is False:
            events.append(ChangeKind.DISABLED)
        elif enabled_before is False and enabled_after is True:
            revived = isinstance(name_before, str) and SOFT_DELETED.match(name_before)
            events.append(ChangeKind.REVIVED if revived else ChangeKind.ENABLED)
    return TokenChange(
        address=change.address,
        module_address=change.module_address,
        provider=provider,
        actions=actions,
        events=tuple(events),
        name_before=name_before,
        name_after=name_after,
        enabled_before=enabled_before,
        enabled_after=enabled_after,
        description_before=description_before,
        description_after=description_after,
        unknown=unknown if after is not None else (),
        hidden=hidden,
        previous_address=change.previous_address,
    )


def provider_key(plan: Plan, change: ResourceChange) -> str:
    module = plan.configuration.find(change.module)
    resource = module.resources.get(change.config_address) if module else None
    key = str((resource or {}).get("provider_config_key") or "")
    # Older Terraform writes "module.path:name" keys; the part after the colon is the name.
    return key.rsplit(":", 1)[-1] if key else change.type.split("_", 1)[0]


# --- lifecycle ------------------------------------------------------------------------------

_IMPACT_RULES: Final = {
    ChangeKind.DESTROYED: "LWT101",
    ChangeKind.DISABLED: "LWT102",
    ChangeKind.REPLACED: "LWT103",
}
_PLAIN_RULES: Final = {
    ChangeKind.RENAMED: "LWT104",
    ChangeKind.REVIVED: "LWT105",
    ChangeKind.IMPORTED: "LWT106",
    ChangeKind.FORGOTTEN: "LWT108",
}


def impact_words(usage: AgentUsage | None, window: str) -> str:
    if usage is None:
        return "impact not checked (run with --live)"
    if usage.agents == 0:
        return f"no agent checked in with it in the last {window}"
    hosts = ", ".join(usage.hostnames)
    more = "" if len(usage.hostnames) >= usage.agents else ", …"
    return f"{_agents(usage.agents)} checked in with it in the last {window} ({hosts}{more})"


def _agents(count: int) -> str:
    return f"{count} agent" if count == 1 else f"{count} agents"


def impact_severity(base: Severity, usages: Sequence[AgentUsage | None]) -> Severity:
    """Critical when agents use it, low when checked and none do, else the rule's own."""
    counted = [usage.agents for usage in usages if usage is not None]
    if not counted or len(counted) < len(usages):
        return base
    return Severity.CRITICAL if any(counted) else Severity.LOW


def _anchor(change: ResourceChange) -> Anchor:
    return Anchor(change.module, "resource", (change.type, change.name))


def lifecycle_findings(
    changes: Sequence[tuple[TokenChange, ResourceChange]], window: str
) -> list[Draft]:
    drafts = []
    for token, change in changes:
        label = _label(token)
        for event in token.events:
            if event in _IMPACT_RULES:
                rule = RULES[_IMPACT_RULES[event]]
                severity = impact_severity(rule.severity, [token.agents])
                verb = {
                    ChangeKind.DESTROYED: "is destroyed: disabled and renamed "
                    f"{token.name_before or '<name>'}-xxxxx-deleted, never deleted",
                    ChangeKind.DISABLED: "is disabled",
                    ChangeKind.REPLACED: "is replaced: the old value is disabled and a new one "
                    "created",
                }[event]
                message = f"Token {label} {verb}; {impact_words(token.agents, window)}."
                drafts.append(Draft(rule.id, severity, token.address, message, _anchor(change)))
            elif event in _PLAIN_RULES:
                rule = RULES[_PLAIN_RULES[event]]
                message = {
                    ChangeKind.RENAMED: f"Token {label} is renamed to {token.name_after}; "
                    "agents keep working, lookups by the old name stop finding it.",
                    ChangeKind.REVIVED: f"Token {label} was soft-deleted and is enabled again"
                    + (f" as {token.name_after}" if token.name_after != token.name_before else "")
                    + ": every old copy of its value works again.",
                    ChangeKind.IMPORTED: f"Token {label} is imported: a later destroy or "
                    "enabled = false in this configuration disables it.",
                    ChangeKind.FORGOTTEN: f"Token {label} leaves Terraform's state and stays "
                    + ("enabled" if token.enabled_before else "as it is")
                    + ", managed by nothing.",
                }[event]
                drafts.append(
                    Draft(rule.id, rule.severity, token.address, message, _anchor(change))
                )
        unknown = [name for name in ("name", "enabled") if name in token.unknown]
        if unknown:
            rule = RULES["LWT107"]
            what = " and ".join(unknown)
            drafts.append(
                Draft(
                    rule.id,
                    rule.severity,
                    token.address,
                    f"Token {label}: {what} known only after apply; this review cannot say "
                    "what happens to it.",
                    _anchor(change),
                )
            )
    return drafts


def _label(token: TokenChange) -> str:
    name = token.name
    if name is None:
        return (
            f"{token.address} (name known after apply)"
            if "name" in token.unknown
            else token.address
        )
    return f"{name!r} ({token.address})"


# --- hygiene --------------------------------------------------------------------------------


def name_stem(name: str) -> str:
    """The part of a name generations share: prod-v2, prod-2024-06 and prod-abcde-deleted
    all have the stem prod."""
    match = SOFT_DELETED.match(name)
    if match:
        name = match.group("name")
    return _GENERATION.sub("", name) or name


def hygiene_findings(
    plan: Plan,
    changes: Sequence[tuple[TokenChange, ResourceChange]],
    *,
    name_pattern: re.Pattern[str] | None,
    window: str,
    usage_of: Callable[[str], AgentUsage | None],
    checked: bool,
) -> list[Draft]:
    drafts: list[Draft] = []
    for token, change in changes:
        if change.removed:
            continue
        label = _label(token)
        if (
            token.description_after in (None, "")
            and "description" not in token.unknown
            and "description" not in token.hidden
        ):
            rule = RULES["LWT301"]
            drafts.append(
                Draft(
                    rule.id,
                    rule.severity,
                    token.address,
                    f"Token {label} has no description.",
                    _anchor(change),
                )
            )
        if (
            name_pattern is not None
            and isinstance(token.name_after, str)
            and not name_pattern.fullmatch(token.name_after)
        ):
            rule = RULES["LWT302"]
            drafts.append(
                Draft(
                    rule.id,
                    rule.severity,
                    token.address,
                    f"Token name {token.name_after!r} ({token.address}) does not match "
                    f"{name_pattern.pattern!r}.",
                    _anchor(change),
                )
            )
    drafts += _module_all_disabled(plan, window, usage_of, checked)
    drafts += _no_successor(plan, changes)
    return drafts


def _enabled_after(change: ResourceChange) -> bool | None:
    """True, False, or None when the plan does not know."""
    if "delete" in change.actions and "create" not in change.actions:
        return False
    state = change.before if change.removed else change.after
    if not change.removed and marked(change.after_unknown, ("enabled",)):
        return None
    enabled = _state(state, "enabled")
    return enabled if isinstance(enabled, bool) else None


def _state(state: Any, name: str) -> Any:
    return state.get(name) if isinstance(state, Mapping) else None


def _module_all_disabled(
    plan: Plan, window: str, usage_of: Callable[[str], AgentUsage | None], checked: bool
) -> list[Draft]:
    """Module instances (nested ones included) whose every token ends disabled or destroyed;
    only the outermost such module is reported."""
    groups: dict[str, list[ResourceChange]] = defaultdict(list)
    for change in plan.token_changes():
        if "forget" not in change.actions:
            for ancestor in module_ancestors(change.module_address):
                groups[ancestor].append(change)
    qualifying: list[tuple[str, list[ResourceChange], list[ResourceChange]]] = []
    for module_address, members in sorted(groups.items(), key=lambda item: len(item[0])):
        if len(members) < 2 or any(_enabled_after(change) is not False for change in members):
            continue
        going = [
            change
            for change in members
            if _state(change.before, "enabled") is True and change.actions != ("no-op",)
        ]
        if len(going) < 2:
            continue
        if any(module_address.startswith(outer + ".") or not outer for outer, _, _ in qualifying):
            continue
        qualifying.append((module_address, members, going))
    rule = RULES["LWT303"]
    drafts = []
    for module_address, members, going in qualifying:
        usages = [usage_of(change.address) for change in going] if checked else [None]
        counted = [usage.agents for usage in usages if usage is not None]
        impact = (
            f"{_agents(sum(counted))} checked in with them in the last {window}"
            if len(counted) == len(usages)
            else "impact not checked (run with --live)"
        )
        path = module_path(module_address)
        anchor = Anchor(path[:-1], "module", (path[-1],)) if path else Anchor((), "terraform", ())
        drafts.append(
            Draft(
                rule.id,
                impact_severity(rule.severity, usages),
                module_address or "(root module)",
                f"All {len(members)} tokens of {module_address or 'the root module'} are "
                f"disabled or destroyed by this plan, none stays enabled; {impact}.",
                anchor,
                tuple(change.address for change in going),
            )
        )
    return drafts


def _purposes(plan: Plan, change: ResourceChange, name: Any) -> set[tuple[str, ...]]:
    provider = provider_key(plan, change)
    keys: set[tuple[str, ...]] = {
        ("block", provider, module_prefix(change.module) + change.config_address)
    }
    if isinstance(name, str):
        keys.add(("stem", provider, name_stem(name)))
    return keys


def _no_successor(plan: Plan, changes: Sequence[tuple[TokenChange, ResourceChange]]) -> list[Draft]:
    successors: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for change in plan.token_changes():
        if _enabled_after(change) is True:
            for key in _purposes(plan, change, _state(change.after, "name")):
                successors[key].add(change.address)
    rule = RULES["LWT304"]
    drafts = []
    for token, change in changes:
        if ChangeKind.DESTROYED not in token.events:
            continue
        candidates = set().union(
            *(successors.get(key, set()) for key in _purposes(plan, change, token.name_before))
        )
        candidates.discard(change.address)
        if not candidates:
            drafts.append(
                Draft(
                    rule.id,
                    rule.severity,
                    token.address,
                    f"Token {_label(token)} is destroyed and no enabled token of the same "
                    "resource block or name stem remains for its agents to move to.",
                    _anchor(change),
                )
            )
    return drafts

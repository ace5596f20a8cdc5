"""A review as text: terminal, Markdown (a pull-request comment), JSON and SARIF 2.1.0.

Every renderer's output passes through the review's ``Redactor`` before it is returned, so even
a token value that slipped into an address or a description never leaves as text.

The JSON shape (``--format json``), stable: fields are only ever added::

    {"changes": [{"address", "actions", "name_before", "name_after", "enabled_before",
                  "enabled_after", "agents", "agent_hostnames", "events", "summary",
                  "module_address", "provider", "description_before", "description_after",
                  "unknown", "hidden", "previous_address"}],
     "findings": [{"rule", "name", "severity", "address", "message", "title", "fix", "path",
                   "location": {"file", "line"} | null,
                   "acknowledged": {"reason", "file", "line"} | null}],
     "flows": [{"token", "sink", "path", "kept_secret", "rule", "evidence"}],
     "impact": {"checked", "window_seconds", "window"},
     "summary": {"critical", "high", "medium", "low", "info", "acknowledged"},
     "ignored": [rule ids], "notes": [text]}

``agents`` is the number of agents that checked in with the token's current value during the
window, ``null`` when not checked (no --live, or a change that does not stop the token).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from lacework_tokens import __version__
from lacework_tokens.review.model import Finding, Review, TokenChange, window_words
from lacework_tokens.review.rules import RULES, Rule, Severity

__all__ = ["FORMATS", "as_json_data", "render", "render_rules"]

FORMATS: Final = ("terminal", "markdown", "json", "sarif")
SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub refuses comments over 65,536 characters; tables are cut well before.
MARKDOWN_ROWS: Final = 100
MARKDOWN_LIMIT: Final = 60000
_SEVERITIES: Final = tuple(Severity)
_MARKS: Final = {
    Severity.CRITICAL: "🟥",
    Severity.HIGH: "🟧",
    Severity.MEDIUM: "🟨",
    Severity.LOW: "🟦",
    Severity.INFO: "⬜",
}
_COLOURS: Final = {
    Severity.CRITICAL: "\033[1;31m",
    Severity.HIGH: "\033[31m",
    Severity.MEDIUM: "\033[33m",
    Severity.LOW: "\033[36m",
    Severity.INFO: "\033[2m",
}
_BOLD: Final = "\033[1m"
_DIM: Final = "\033[2m"
_RESET: Final = "\033[0m"
# SARIF levels and GitHub's security-severity scores (critical >= 9, high >= 7, medium >= 4).
_LEVELS: Final = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_SCORES: Final = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def render(review: Review, form: str, *, colour: bool = False, artifact: str = "main.tf") -> str:
    """The review in ``form`` (one of ``FORMATS``). ``colour`` applies to ``terminal`` only;
    ``artifact`` is the SARIF location of findings without a source line."""
    renderers: dict[str, Callable[[], str]] = {
        "terminal": lambda: _terminal(review, colour),
        "markdown": lambda: _markdown(review),
        "json": lambda: json.dumps(as_json_data(review), indent=2, ensure_ascii=False) + "\n",
        "sarif": lambda: json.dumps(_sarif(review, artifact), indent=2, ensure_ascii=False) + "\n",
    }
    if form not in renderers:
        raise ValueError(f"unknown format {form!r}; one of {', '.join(FORMATS)}")
    return review.redactor(renderers[form]())


# --- JSON -----------------------------------------------------------------------------------


def _change_data(change: TokenChange) -> dict[str, Any]:
    return {
        "address": change.address,
        "actions": list(change.actions),
        "name_before": change.name_before,
        "name_after": change.name_after,
        "enabled_before": change.enabled_before,
        "enabled_after": change.enabled_after,
        "agents": change.agents.agents if change.agents is not None else None,
        "agent_hostnames": list(change.agents.hostnames) if change.agents is not None else None,
        "events": [str(event) for event in change.events],
        "summary": change.summary(),
        "module_address": change.module_address,
        "provider": change.provider,
        "description_before": change.description_before,
        "description_after": change.description_after,
        "unknown": list(change.unknown),
        "hidden": list(change.hidden),
        "previous_address": change.previous_address,
    }


def _finding_data(finding: Finding) -> dict[str, Any]:
    ack = finding.acknowledged
    return {
        "rule": finding.rule.id,
        "name": finding.rule.name,
        "severity": finding.severity.value,
        "address": finding.address,
        "message": finding.message,
        "title": finding.rule.title,
        "fix": finding.rule.fix,
        "path": list(finding.path),
        "location": (
            {"file": finding.location.file, "line": finding.location.line}
            if finding.location
            else None
        ),
        "acknowledged": (
            {"reason": ack.reason, "file": ack.location.file, "line": ack.location.line}
            if ack
            else None
        ),
    }


def _summary(review: Review) -> dict[str, int]:
    counts = {severity.value: 0 for severity in _SEVERITIES}
    for finding in review.findings:
        if finding.acknowledged is None:
            counts[finding.severity.value] += 1
    counts["acknowledged"] = sum(1 for item in review.findings if item.acknowledged is not None)
    return counts


def as_json_data(review: Review) -> dict[str, Any]:
    """The documented JSON shape, as Python data (token values never included)."""
    return {
        "changes": [_change_data(change) for change in review.changes],
        "findings": [_finding_data(finding) for finding in review.findings],
        "flows": [
            {
                "token": flow.token,
                "sink": flow.sink,
                "path": list(flow.path),
                "kept_secret": flow.kept_secret,
                "rule": flow.rule,
                "evidence": flow.evidence,
            }
            for flow in review.flows
        ],
        "impact": {
            "checked": review.impact_checked,
            "window_seconds": int(review.window.total_seconds()),
            "window": window_words(review.window),
        },
        "summary": _summary(review),
        "ignored": sorted(review.ignored),
        "notes": list(review.notes),
    }


# --- shared words ---------------------------------------------------------------------------


def _agents(change: TokenChange, review: Review) -> str:
    """Agents using a token that stops working; "—" for changes that stop nothing."""
    if change.agents is not None:
        return str(change.agents.agents)
    if not change.stops_agents:
        return "—"
    return "not checked" if not review.impact_checked else "unknown (no value in the plan)"


def _headline(review: Review) -> str:
    counts = _summary(review)
    parts = [f"{counts[s.value]} {s.value}" for s in _SEVERITIES if counts[s.value]]
    found = ", ".join(parts) if parts else "no findings"
    acknowledged = f", {counts['acknowledged']} acknowledged" if counts["acknowledged"] else ""
    changes = len(review.changes)
    impact = (
        f"agents counted over the last {window_words(review.window)}"
        if review.impact_checked
        else "impact on agents not checked (--live)"
    )
    noun = "token change" if changes == 1 else "token changes"
    return f"{changes} {noun}; {found}{acknowledged}; {impact}"


# --- terminal -------------------------------------------------------------------------------


def _terminal(review: Review, colour: bool) -> str:
    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    lines = [paint(_BOLD, "lacework-tokens review: ") + _headline(review), ""]
    if review.changes:
        lines.append(paint(_BOLD, "Tokens"))
        for change in review.changes:
            agents = _agents(change, review)
            lines.append(f"  {change.address}")
            lines.append(
                f"      {change.summary()}" + (f"  [agents: {agents}]" if agents != "—" else "")
            )
        lines.append("")
    open_findings = [item for item in review.findings if item.acknowledged is None]
    if open_findings:
        lines.append(paint(_BOLD, "Findings"))
        for finding in open_findings:
            severity = paint(_COLOURS[finding.severity], f"{finding.severity.value.upper():<8}")
            lines.append(f"  {severity} {finding.rule.id} {finding.address}")
            lines.append(f"           {finding.message}")
            if len(finding.path) > 2:
                lines.append(paint(_DIM, f"           via {' → '.join(finding.path)}"))
            where = f" ({finding.location})" if finding.location else ""
            lines.append(paint(_DIM, f"           fix: {finding.rule.fix}{where}"))
        lines.append("")
    acknowledged = [item for item in review.findings if item.acknowledged is not None]
    if acknowledged:
        lines.append(paint(_BOLD, "Acknowledged"))
        for finding in acknowledged:
            assert finding.acknowledged is not None
            lines.append(
                f"  {finding.rule.id} {finding.address}: {finding.acknowledged.reason} "
                f"({finding.acknowledged.location})"
            )
        lines.append("")
    if review.flows:
        lines.append(paint(_BOLD, "Where token values flow"))
        for flow in review.flows:
            verdict = "kept secret" if flow.kept_secret else f"{flow.rule}"
            lines.append(f"  {' → '.join(flow.path)}  [{verdict}]")
        lines.append("")
    for note in review.notes:
        lines.append(paint(_DIM, f"note: {note}"))
    return "\n".join(lines).rstrip() + "\n"


# --- Markdown -------------------------------------------------------------------------------

_MARKDOWN_SPECIAL: Final = str.maketrans(
    {
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "[": "\\[",
        "|": "\\|",
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
        "#": "\\#",
        "\n": " ",
        "\r": " ",
    }
)


_HTML_SPECIAL: Final = str.maketrans({"<": "&lt;", ">": "&gt;", "&": "&amp;", "|": "\\|"})


# GitHub ignores underscores inside words: only those at a word's edge can start emphasis.
_EDGE_UNDERSCORE: Final = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def _text(value: str) -> str:
    """User text (names, descriptions, messages) safe in a Markdown table cell."""
    return _EDGE_UNDERSCORE.sub(r"\_", value.translate(_MARKDOWN_SPECIAL))


def _prose(value: str) -> str:
    """The project's own words (rule texts): Markdown kept, HTML and cell breaks escaped."""
    return value.translate(_HTML_SPECIAL)


def _code(value: str) -> str:
    if "`" in value or "\n" in value:
        return _text(value)
    escaped = value.replace("|", "\\|")
    return f"`{escaped}`"


def _rows(items: Sequence[Any], render_row: Callable[[Any], str], what: str) -> list[str]:
    rows = [render_row(item) for item in items[:MARKDOWN_ROWS]]
    if len(items) > MARKDOWN_ROWS:
        rows.append(f"\n_… and {len(items) - MARKDOWN_ROWS} more {what} (see `--format json`)._")
    return rows


def _markdown(review: Review) -> str:
    lines = ["### lacework-tokens review", "", _text(_headline(review)), ""]
    open_findings = [item for item in review.findings if item.acknowledged is None]
    if open_findings:
        lines += ["| | Severity | Rule | Address | Finding |", "|---|---|---|---|---|"]
        lines += _rows(
            open_findings,
            lambda item: (
                f"| {_MARKS[item.severity]} | {item.severity.value} | {item.rule.id} | "
                f"{_code(item.address)} | {_text(item.message)} |"
            ),
            "findings",
        )
        lines.append("")
    if review.changes:
        lines += [
            f"<details{' open' if len(review.changes) <= 10 else ''}>"
            f"<summary>What happens to each token ({len(review.changes)})</summary>",
            "",
            "| Token | Address | What happens | Agents |",
            "|---|---|---|---|",
        ]
        lines += _rows(
            list(review.changes),
            lambda change: (
                f"| {_text(change.name or '—')} | {_code(change.address)} | "
                f"{_text(change.summary())} | {_agents(change, review)} |"
            ),
            "tokens",
        )
        lines += ["", "</details>", ""]
    if review.flows:
        lines += [
            f"<details><summary>Where token values flow ({len(review.flows)})</summary>",
            "",
            "| Path | Verdict |",
            "|---|---|",
        ]
        lines += _rows(
            list(review.flows),
            lambda flow: (
                f"| {' → '.join(_code(step) for step in flow.path)} | "
                f"{'kept secret' if flow.kept_secret else flow.rule} |"
            ),
            "flows",
        )
        lines += ["", "</details>", ""]
    acknowledged = [item for item in review.findings if item.acknowledged is not None]
    if acknowledged:
        lines += [
            f"<details><summary>Acknowledged in code ({len(acknowledged)})</summary>",
            "",
            "| Rule | Address | Reason | Where |",
            "|---|---|---|---|",
        ]
        lines += _rows(
            acknowledged,
            lambda item: (
                f"| {item.rule.id} | {_code(item.address)} | {_text(item.acknowledged.reason)} | "
                f"{_code(str(item.acknowledged.location))} |"
            ),
            "acknowledgements",
        )
        lines += ["", "</details>", ""]
    fired = sorted({item.rule.id for item in review.findings})
    if fired:
        lines += ["<details><summary>Rules and fixes</summary>", ""]
        for rule_id in fired:
            rule = RULES[rule_id]
            lines.append(
                f"- **{rule.id}** {rule.name}: {_prose(rule.title)} {_prose(rule.rationale)} "
                f"_Fix:_ {_prose(rule.fix)}"
            )
        lines += ["", "</details>", ""]
    for note in review.notes:
        lines.append(f"> {_text(note)}")
    if review.notes:
        lines.append("")
    lines.append(
        "<sub>Acknowledge a reviewed finding with a comment in or above its block: "
        "`# lacework-tokens: ack RULE-ID reason`.</sub>"
    )
    text = "\n".join(lines) + "\n"
    if len(text) > MARKDOWN_LIMIT:
        text = (
            text[:MARKDOWN_LIMIT].rsplit("\n", 1)[0]
            + "\n\n_… cut to fit a comment; see `--format json`._\n"
        )
    return text


# --- SARIF ----------------------------------------------------------------------------------


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {
            "text": f"{rule.rationale} Fix: {rule.fix}",
            "markdown": f"{rule.rationale}\n\n**Fix:** {rule.fix}",
        },
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": {
            "security-severity": _SCORES[rule.severity],
            "precision": "high",
            "tags": ["security", "terraform", "lacework"],
        },
    }


def _sarif(review: Review, artifact: str) -> dict[str, Any]:
    rules = list(RULES.values())
    index = {rule.id: position for position, rule in enumerate(rules)}
    results = []
    for finding in review.findings:
        physical: dict[str, Any] = {
            "artifactLocation": {
                "uri": finding.location.file if finding.location else artifact,
                "uriBaseId": "%SRCROOT%",
            }
        }
        if finding.location:
            physical["region"] = {"startLine": finding.location.line}
        result: dict[str, Any] = {
            "ruleId": finding.rule.id,
            "ruleIndex": index[finding.rule.id],
            "level": _LEVELS[finding.severity],
            "message": {"text": finding.message},
            "locations": [
                {
                    "physicalLocation": physical,
                    "logicalLocations": [
                        {"fullyQualifiedName": finding.address, "kind": "resource"}
                    ],
                }
            ],
            "partialFingerprints": {
                "laceworkTokensFinding/v1": _fingerprint(finding.rule.id, finding.address)
            },
            "properties": {"severity": finding.severity.value, "path": list(finding.path)},
        }
        if finding.acknowledged is not None:
            result["suppressions"] = [
                {"kind": "inSource", "justification": finding.acknowledged.reason}
            ]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "lacework-tokens review",
                        "version": __version__,
                        "rules": [_sarif_rule(rule) for rule in rules],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:32]


# --- the rule list --------------------------------------------------------------------------


def render_rules(form: str, rules: Iterable[Rule] = RULES.values()) -> str:
    """``review --list-rules``: every rule with its id, severity, title, rationale and fix."""
    items = list(rules)
    if form == "json":
        return (
            json.dumps(
                [
                    {
                        "rule": rule.id,
                        "name": rule.name,
                        "severity": rule.severity.value,
                        "title": rule.title,
                        "rationale": rule.rationale,
                        "fix": rule.fix,
                    }
                    for rule in items
                ],
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
    if form == "sarif":
        return (
            json.dumps([_sarif_rule(rule) for rule in items], indent=2, ensure_ascii=False) + "\n"
        )
    if form == "markdown":
        lines = ["| Rule | Name | Severity | What | Fix |", "|---|---|---|---|---|"]
        lines += [
            f"| {rule.id} | {rule.name} | {rule.severity.value} | {_prose(rule.title)} | "
            f"{_prose(rule.fix)} |"
            for rule in items
        ]
        return "\n".join(lines) + "\n"
    lines = []
    for rule in items:
        lines += [
            f"{rule.id}  {rule.severity.value:<8}  {rule.name}",
            f"    {rule.title}",
            f"    why: {rule.rationale}",
            f"    fix: {rule.fix}",
            "",
        ]
    return "\n".join(lines)

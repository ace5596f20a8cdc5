"""What a plan does to each token, and the lifecycle and hygiene rules, on a plan the real
terraform made against the backend (``scenarios.lifecycle``)."""

from __future__ import annotations

from typing import Any

import pytest
from review_harness import Lab, findings_by_rule, review_json
from scenarios import Scenario

pytestmark = pytest.mark.terraform

TEAM_BLUE = 'module.team["blue"]'
NIGHT_LINUX = 'module.night.module.os["linux"].lacework_agent_access_token.this'
NIGHT_WINDOWS = 'module.night.module.os["windows"].lacework_agent_access_token.this'
BLUE_LINUX = f'{TEAM_BLUE}.module.os["linux"].lacework_agent_access_token.this'
BLUE_WINDOWS = f'{TEAM_BLUE}.module.os["windows"].lacework_agent_access_token.this'
TOKEN = "lacework_agent_access_token"


@pytest.fixture(scope="module")
def report(lab: Lab, lifecycle: Scenario) -> dict[str, Any]:
    _, found = review_json(lab, lifecycle.run.json_path, "--name-pattern", "lc-[a-z0-9-]+")
    return found


def changes(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {change["address"]: change for change in report["changes"]}


def test_every_kind_of_change_is_named(report: dict[str, Any]) -> None:
    events = {address: change["events"] for address, change in changes(report).items()}
    assert events == {
        f"{TOKEN}.adopted": ["imported"],
        f"{TOKEN}.after_move": ["moved"],
        f"{TOKEN}.bare": ["created"],
        f"{TOKEN}.fleet[1]": ["destroyed"],
        f"{TOKEN}.late": ["created"],
        f"{TOKEN}.lonely[0]": ["moved", "destroyed"],
        f"{TOKEN}.other_account": ["disabled"],
        f"{TOKEN}.paused": ["disabled"],
        f"{TOKEN}.renamed": ["renamed", "description-changed"],
        f"{TOKEN}.replaced": ["replaced"],
        f"{TOKEN}.resumed": ["enabled"],
        f"{TOKEN}.retired": ["forgotten"],
        f"{TOKEN}.revived": ["imported", "renamed", "description-changed", "revived"],
        NIGHT_LINUX: ["disabled"],
        NIGHT_WINDOWS: ["disabled"],
        BLUE_LINUX: ["destroyed"],
        BLUE_WINDOWS: ["destroyed"],
    }


def test_names_and_enabled_before_and_after(report: dict[str, Any]) -> None:
    by_address = changes(report)

    def states(address: str) -> tuple[Any, ...]:
        change = by_address[address]
        return (
            change["name_before"],
            change["name_after"],
            change["enabled_before"],
            change["enabled_after"],
        )

    assert states(f"{TOKEN}.renamed") == ("lc-web", "lc-web-eu", True, True)
    assert states(f"{TOKEN}.paused") == ("lc-batch", "lc-batch", True, False)
    assert states(f"{TOKEN}.resumed") == ("lc-legacy", "lc-legacy", False, True)
    # A destroy leaves the token disabled under a random -deleted name: enabled_after is false.
    assert states(f"{TOKEN}.fleet[1]") == ("lc-fleet-1", None, True, False)
    assert states(f"{TOKEN}.revived") == ("lc-old-zz9zz-deleted", "lc-old", False, True)
    assert states(f"{TOKEN}.bare") == (None, "LC_bare", None, True)
    # Forgotten: the token itself stays as it was.
    assert states(f"{TOKEN}.retired") == ("lc-retired", "lc-retired", True, True)
    assert by_address[f"{TOKEN}.replaced"]["actions"] == ["delete", "create"]


def test_a_destroy_is_described_as_the_soft_delete_it_is(report: dict[str, Any]) -> None:
    summary = changes(report)[f"{TOKEN}.fleet[1]"]["summary"]
    assert "disabled and renamed lc-fleet-1-xxxxx-deleted" in summary
    assert "agents using it stop reporting" in summary


def test_values_unknown_until_apply_are_named(report: dict[str, Any]) -> None:
    late = changes(report)[f"{TOKEN}.late"]
    assert late["unknown"] == ["name", "enabled"]
    assert late["name_after"] is None and late["enabled_after"] is None
    assert "known after apply" in late["summary"]
    (finding,) = [item for item in report["findings"] if item["rule"] == "LWT107"]
    assert finding["address"] == f"{TOKEN}.late"
    assert "name and enabled known only after apply" in finding["message"]


def test_provider_alias_and_module_nesting(report: dict[str, Any]) -> None:
    by_address = changes(report)
    assert by_address[f"{TOKEN}.other_account"]["provider"] == "lacework.second"
    assert by_address[f"{TOKEN}.paused"]["provider"] == "lacework"
    assert by_address[BLUE_LINUX]["module_address"] == f'{TEAM_BLUE}.module.os["linux"]'
    assert by_address[BLUE_LINUX]["name_before"] == "lc-blue-linux"


def test_lifecycle_and_hygiene_rules(report: dict[str, Any]) -> None:
    assert findings_by_rule(report) == {
        "LWT101": {
            f"{TOKEN}.fleet[1]",
            f"{TOKEN}.lonely[0]",
            BLUE_LINUX,
            BLUE_WINDOWS,
        },
        "LWT102": {f"{TOKEN}.paused", f"{TOKEN}.other_account", NIGHT_LINUX, NIGHT_WINDOWS},
        "LWT103": {f"{TOKEN}.replaced"},
        "LWT104": {f"{TOKEN}.renamed", f"{TOKEN}.revived"},
        "LWT105": {f"{TOKEN}.revived"},
        "LWT106": {f"{TOKEN}.adopted", f"{TOKEN}.revived"},
        "LWT107": {f"{TOKEN}.late"},
        "LWT108": {f"{TOKEN}.retired"},
        "LWT301": {f"{TOKEN}.bare"},
        "LWT302": {f"{TOKEN}.bare"},
        # Whole module instances going dark at once; the nested os modules are not repeated.
        "LWT303": {TEAM_BLUE, "module.night"},
        # fleet[1] keeps fleet[0], team blue keeps team red; lc-lonely has no successor.
        "LWT304": {f"{TOKEN}.lonely[0]"},
    }


def test_severities_without_live(report: dict[str, Any]) -> None:
    severity = {(item["rule"], item["address"]): item["severity"] for item in report["findings"]}
    assert severity[("LWT303", "module.night")] == "critical"
    assert severity[("LWT101", f"{TOKEN}.fleet[1]")] == "high"
    assert severity[("LWT102", f"{TOKEN}.paused")] == "high"
    assert severity[("LWT103", f"{TOKEN}.replaced")] == "high"
    assert severity[("LWT105", f"{TOKEN}.revived")] == "medium"
    assert severity[("LWT104", f"{TOKEN}.renamed")] == "low"
    assert report["impact"] == {"checked": False, "window_seconds": 604800, "window": "7 days"}
    assert all(change["agents"] is None for change in report["changes"])


def test_a_module_going_dark_points_at_its_module_block(
    report: dict[str, Any], lifecycle: Scenario
) -> None:
    (finding,) = [
        item
        for item in report["findings"]
        if item["rule"] == "LWT303" and item["address"] == TEAM_BLUE
    ]
    assert set(finding["path"]) == {BLUE_LINUX, BLUE_WINDOWS}
    line = finding["location"]["line"]
    text = (lifecycle.workdir.path / finding["location"]["file"]).read_text().splitlines()
    assert text[line - 1] == 'module "team" {'


def test_acknowledged_in_code(report: dict[str, Any], lifecycle: Scenario) -> None:
    acknowledged = {
        (item["rule"], item["address"]): item["acknowledged"]
        for item in report["findings"]
        if item["acknowledged"]
    }
    ack = acknowledged.pop(("LWT101", f"{TOKEN}.lonely[0]"))
    assert acknowledged == {}
    assert ack["reason"] == "no agent has used lc-lonely since the spring migration (OPS-42)"
    lines = (lifecycle.workdir.path / "main.tf").read_text().splitlines()
    assert lines[ack["line"] - 1].startswith("# lacework-tokens: ack LWT101 ")
    # The acknowledgement names one rule: the same block's LWT304 still counts.
    assert report["summary"]["acknowledged"] == 1


def test_name_pattern_must_match_the_whole_name(lab: Lab, lifecycle: Scenario) -> None:
    _, loose = review_json(lab, lifecycle.run.json_path, "--name-pattern", "lc")
    flagged = findings_by_rule(loose)["LWT302"]
    # "lc" matches no whole name: every token whose name the plan knows is flagged.
    assert f"{TOKEN}.renamed" in flagged and f"{TOKEN}.bare" in flagged
    assert f"{TOKEN}.fleet[1]" not in flagged  # destroyed: its name no longer matters
    assert f"{TOKEN}.late" not in flagged  # name unknown until apply
    _, unchecked = review_json(lab, lifecycle.run.json_path)
    assert "LWT302" not in findings_by_rule(unchecked)

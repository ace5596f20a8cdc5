"""``lacework_tokens.review`` from Python: typed results for a team's own policy, what the
package imports, acknowledgement comments, and redaction of token values that reach text."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from review_harness import Lab, providers_block, review_json
from scenarios import Scenario

from lacework_tokens.review import (
    ChangeKind,
    PlanError,
    Review,
    Severity,
    SourceTree,
    UnknownRuleError,
    review_plan,
)
from lacework_tokens.wire import AgentAccessToken

pytestmark = pytest.mark.terraform


def test_importing_the_review_imports_neither_backend_nor_plugin() -> None:
    probe = (
        "import sys, lacework_tokens.review\n"
        "heavy = ('lacework_tokens.server', 'lacework_tokens.provider', 'grpc', 'tf', "
        "'uvicorn', 'lacework_tokens.client', 'requests')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(heavy)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_typed_results_for_a_policy_of_ones_own(lab: Lab, lifecycle: Scenario) -> None:
    review = review_plan(lifecycle.run.document, sources=lifecycle.workdir.path)
    assert isinstance(review, Review)
    lab.render_all(review)
    # A team's own rule: no token of the "night" shift may be disabled in office hours.
    night_disabled = [
        change.address
        for change in review.changes
        if ChangeKind.DISABLED in change.events
        and change.name_before is not None
        and change.name_before.startswith("lc-night-")
    ]
    assert night_disabled == [
        'module.night.module.os["linux"].lacework_agent_access_token.this',
        'module.night.module.os["windows"].lacework_agent_access_token.this',
    ]
    blocking = review.blocking(Severity.CRITICAL)
    assert {finding.rule.id for finding in blocking} == {"LWT303"}
    assert all(finding.rule.fix for finding in review.findings)
    # The findings come worst first.
    ranks = [finding.severity.rank for finding in review.findings]
    assert ranks == sorted(ranks, reverse=True)


def test_the_sdk_and_the_command_agree(lab: Lab, lifecycle: Scenario) -> None:
    review = review_plan(lifecycle.run.document, sources=lifecycle.workdir.path)
    _, from_command = review_json(lab, lifecycle.run.json_path)
    assert review.to_dict() == from_command


def test_errors_a_caller_can_handle(lifecycle: Scenario) -> None:
    with pytest.raises(PlanError, match=r"format_version 3\.1"):
        review_plan({**lifecycle.run.document, "format_version": "3.1"})
    with pytest.raises(UnknownRuleError, match="no rule 'LWT000'"):
        review_plan(lifecycle.run.document, ignore=["LWT000"])


ACKED_VARIANTS = {
    "slashes": "// lacework-tokens: ack LWT201 published on purpose for the demo (DEMO-1)\n",
    "block comment": "/* lacework-tokens: ack output-nonsensitive published for the demo */\n",
    "two rules": "# lacework-tokens: ack LWT208,LWT201 published for the demo\n",
}


@pytest.mark.parametrize("variant", sorted(ACKED_VARIANTS))
def test_acknowledgement_comment_forms(
    lab: Lab, exposure: tuple[Scenario, AgentAccessToken], tmp_path: Path, variant: str
) -> None:
    scenario, _ = exposure
    copy = _copy_configuration(scenario, tmp_path)
    main = copy / "main.tf"
    text = main.read_text()
    main.write_text(
        text.replace(
            'output "existing_plain" {', ACKED_VARIANTS[variant] + 'output "existing_plain" {'
        )
    )
    review = review_plan(scenario.run.document, sources=copy)
    lab.render_all(review)
    acknowledged = {f.address for f in review.findings if f.acknowledged is not None}
    assert "output.existing_plain" in acknowledged


def test_what_is_not_an_acknowledgement(
    lab: Lab, exposure: tuple[Scenario, AgentAccessToken], tmp_path: Path
) -> None:
    scenario, _ = exposure
    copy = _copy_configuration(scenario, tmp_path)
    main = copy / "main.tf"
    text = main.read_text()
    not_acks = (
        # A blank line parts the comment from the block.
        "# lacework-tokens: ack LWT201 too far away\n\n"
        # The same words inside a string are no comment.
        "locals {\n  note = <<-EOT\n    # lacework-tokens: ack LWT201 in a heredoc\n  EOT\n}\n"
        # An unknown rule is reported, not applied.
        "# lacework-tokens: ack LWT999 no such rule\n"
    )
    main.write_text(
        text.replace('output "existing_plain" {', not_acks + 'output "existing_plain" {')
    )
    review = review_plan(scenario.run.document, sources=copy)
    lab.render_all(review)
    existing = [f for f in review.findings if f.address == "output.existing_plain"]
    assert [f.acknowledged for f in existing] == [None]
    assert any("unknown rule (LWT999)" in note for note in review.notes)


def _copy_configuration(scenario: Scenario, target: Path) -> Path:
    copy = target / "configuration"
    shutil.copytree(scenario.workdir.path, copy, ignore=shutil.ignore_patterns(".terraform"))
    return copy


def test_sources_from_a_binary_plan_snapshot(lab: Lab, lifecycle: Scenario) -> None:
    import zipfile

    with zipfile.ZipFile(lifecycle.run.binary) as snapshot:
        sources = SourceTree.from_plan_file(snapshot)
        assert sources is not None
        review = review_plan(lifecycle.run.document, sources=sources)
    located = {f.address: f.location for f in review.findings if f.rule.id == "LWT102"}
    night = located['module.night.module.os["linux"].lacework_agent_access_token.this']
    assert night is not None and str(night).startswith("modules/os/main.tf:")


def test_a_token_value_that_reaches_text_is_redacted(lab: Lab) -> None:
    workdir = lab.workdir(
        "redaction",
        {
            "main.tf": providers_block()
            + """
variable "stage" {
  type    = number
  default = 1
}

resource "lacework_agent_access_token" "source" {
  name        = "rd-source"
  description = "the token copied below"
}

resource "lacework_agent_access_token" "copy" {
  name        = var.stage == 1 ? "rd-copy" : "rd-copy-2"
  description = "copied ${nonsensitive(lacework_agent_access_token.source.token)}"
}
"""
        },
    )
    workdir.init()
    workdir.apply()
    run = workdir.plan("-var", "stage=2")
    _, report = review_json(lab, run.json_path)
    copy = next(c for c in report["changes"] if c["address"].endswith(".copy"))
    # The description holds the other token's value: it is shown redacted.
    assert copy["description_before"] == "copied [redacted]"
    (flow,) = report["flows"]
    assert flow["sink"] == "lacework_agent_access_token.copy.description"
    assert flow["rule"] == "LWT209"
    # Every format goes through the same redaction (and the token check after each test).
    for form in ("terminal", "markdown", "sarif"):
        assert lab.review(str(run.json_path), "--format", form).returncode == 0


def _as_older_terraform(document: dict[str, Any], version: str) -> dict[str, Any]:
    """The plan as Terraform 1.0 to 1.4 wrote it: no import, move or output-change fields."""
    older = copy.deepcopy(document)
    older["format_version"] = version
    for key in ("relevant_attributes", "output_changes", "checks", "timestamp"):
        older.pop(key, None)
    for change in older["resource_changes"]:
        change.pop("previous_address", None)
        change["change"].pop("importing", None)
    return older


@pytest.mark.parametrize("version", ["0.2", "1.0", "1.1"])
def test_plans_of_older_terraform_1x(lab: Lab, lifecycle: Scenario, version: str) -> None:
    review = review_plan(_as_older_terraform(lifecycle.run.document, version))
    lab.render_all(review)
    events = {change.address: change.events for change in review.changes}
    # What the older format cannot say (imports, moves) is simply not reported...
    assert "lacework_agent_access_token.adopted" not in events
    assert events["lacework_agent_access_token.revived"] == (
        ChangeKind.RENAMED,
        ChangeKind.DESCRIPTION_CHANGED,
        ChangeKind.REVIVED,
    )
    # ...and everything else is.
    assert events["lacework_agent_access_token.fleet[1]"] == (ChangeKind.DESTROYED,)
    assert {f.rule.id for f in review.findings} >= {"LWT101", "LWT102", "LWT303", "LWT304"}


def test_a_sensitive_name_is_never_shown(lab: Lab) -> None:
    secret_name = "sn-codename-aurora"
    workdir = lab.workdir(
        "sensitive-name",
        {
            "main.tf": providers_block()
            + """
variable "codename" {
  type      = string
  sensitive = true
}

resource "lacework_agent_access_token" "project" {
  name        = var.codename
  description = "a project whose name is secret"
}
"""
        },
    )
    workdir.init()
    run = workdir.plan("-var", f"codename={secret_name}")
    _, report = review_json(lab, run.json_path)
    (change,) = report["changes"]
    assert change["hidden"] == ["name"]
    assert change["name_after"] is None
    assert change["summary"] == "created as (sensitive), enabled"
    for form in ("terminal", "markdown", "json", "sarif"):
        printed = lab.review(str(run.json_path), "--format", form).stdout
        assert secret_name not in printed

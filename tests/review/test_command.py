"""``lacework-tokens review`` as CI runs it: exit codes, ``--fail-on``, ``--ignore``, inputs
(plan JSON, binary plan files, standard input), bad input, formats and colour."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from review_harness import Lab, findings_by_rule, providers_block, review_json
from scenarios import Scenario

from lacework_tokens.review import RULES
from lacework_tokens.wire import AgentAccessToken

pytestmark = pytest.mark.terraform


def test_exit_status_follows_fail_on_and_ignore(lab: Lab, lifecycle: Scenario) -> None:
    plan = str(lifecycle.run.json_path)
    assert lab.review(plan).returncode == 1  # high findings, default --fail-on high
    assert lab.review(plan, "--fail-on", "critical").returncode == 1  # LWT303 is critical
    assert lab.review(plan, "--fail-on", "critical", "--ignore", "LWT303").returncode == 0
    # By name too, comma-separated and repeated.
    everything_high = "token-destroyed,token-disabled,LWT103,no-successor"
    result = lab.review(plan, "--ignore", everything_high, "--ignore", "module-all-disabled")
    assert result.returncode == 0, result.stdout
    assert lab.review(plan, "--ignore", everything_high, "--fail-on", "medium").returncode == 1


def test_ignored_rules_are_gone_from_the_report(lab: Lab, lifecycle: Scenario) -> None:
    _, report = review_json(lab, lifecycle.run.json_path, "--ignore", "LWT101,LWT104")
    assert "LWT101" not in findings_by_rule(report)
    assert "LWT104" not in findings_by_rule(report)
    assert report["ignored"] == ["LWT101", "LWT104"]


def test_acknowledged_findings_do_not_fail_the_run(
    lab: Lab, exposure: tuple[Scenario, AgentAccessToken]
) -> None:
    scenario, _ = exposure
    plan = str(scenario.run.json_path)
    assert lab.review(plan).returncode == 1  # LWT201 is high and not acknowledged
    assert lab.review(plan, "--ignore", "LWT201").returncode == 0
    # terraform_data.per_set is acknowledged; module.consumer's marker is not.
    assert lab.review(plan, "--ignore", "LWT201", "--fail-on", "medium").returncode == 1
    consumer = "module.consumer.terraform_data.marker.triggers_replace"
    _, report = review_json(lab, plan, "--ignore", "LWT201")
    open_medium = [
        item["address"]
        for item in report["findings"]
        if item["severity"] == "medium" and not item["acknowledged"]
    ]
    assert open_medium == [consumer]


def test_a_plan_with_nothing_to_say_passes_at_any_threshold(lab: Lab) -> None:
    workdir = lab.workdir(
        "clean",
        {
            "main.tf": providers_block()
            + """
resource "lacework_agent_access_token" "clean" {
  name        = "cl-web"
  description = "web servers"
}
"""
        },
    )
    workdir.init()
    run = workdir.plan()
    status, report = review_json(lab, run.json_path, "--fail-on", "info")
    assert status == 0
    assert report["findings"] == []
    assert [change["events"] for change in report["changes"]] == [["created"]]


def _one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("lacework-tokens review: error: ")
    for text in expected:
        assert text in lines[0], lines[0]


def test_bad_input_exits_2_with_one_line(lab: Lab, lifecycle: Scenario, tmp_path: Path) -> None:
    not_json = tmp_path / "notes.txt"
    not_json.write_text("terraform plan output, not JSON\n")
    _one_line_error(lab.review(str(not_json)), "not a Terraform plan: neither JSON nor a plan")

    no_version = tmp_path / "other.json"
    no_version.write_text('{"resource_changes": []}')
    _one_line_error(lab.review(str(no_version)), "no format_version")

    future = tmp_path / "future.json"
    future.write_text(json.dumps({**lifecycle.run.document, "format_version": "2.0"}))
    _one_line_error(lab.review(str(future)), "format_version 2.0 is not supported")

    state = tmp_path / "state.json"
    state.write_text(lifecycle.workdir.terraform("show", "-json", "-no-color").stdout)
    _one_line_error(lab.review(str(state)), "a Terraform state")

    _one_line_error(lab.review(str(tmp_path / "missing.json")), "cannot read")

    archive = tmp_path / "archive.tfplan"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("readme.txt", "not a plan")
    _one_line_error(lab.review(str(archive)), "a zip archive without tfplan")

    _one_line_error(lab.review("-", stdin=b""), "stdin is not a Terraform plan")
    plan = str(lifecycle.run.json_path)
    _one_line_error(lab.review(plan, "--window", "a week"), "--window")
    _one_line_error(lab.review(plan, "--name-pattern", "(unclosed"), "--name-pattern")
    _one_line_error(lab.review(plan, "--ignore", "LWT999"), "no rule 'LWT999'")
    _one_line_error(lab.review(), "PLAN is required")


def test_a_broken_plan_file_is_reported_in_terraforms_words(
    lab: Lab, lifecycle: Scenario, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.tfplan"
    with zipfile.ZipFile(lifecycle.run.binary) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, data[: len(data) // 2] if item.filename == "tfplan" else data)
    result = lab.review(str(broken), cwd=lifecycle.workdir.path, env=lab.env)
    _one_line_error(result, "terraform show -json", "Error:")


def test_binary_plan_and_stdin_give_the_same_report(lab: Lab, lifecycle: Scenario) -> None:
    run, workdir = lifecycle.run, lifecycle.workdir
    _, from_json = review_json(lab, run.json_path)
    from_binary = lab.review(str(run.binary), "--format", "json", cwd=workdir.path, env=lab.env)
    assert from_binary.returncode == 1, from_binary.stderr
    from_stdin = lab.review(
        "-", "--format", "json", cwd=workdir.path, stdin=run.json_path.read_bytes()
    )
    # The binary plan's own configuration snapshot gives the same acknowledgements and lines.
    assert json.loads(from_binary.stdout) == from_json
    assert json.loads(from_stdin.stdout) == from_json
    # From elsewhere, --config names the working directory terraform show needs.
    elsewhere = lab.review(
        str(run.binary), "--format", "json", "--config", str(workdir.path), env=lab.env
    )
    assert json.loads(elsewhere.stdout) == from_json


def test_a_binary_plan_needs_terraform_on_path(lab: Lab, lifecycle: Scenario) -> None:
    result = lab.review(
        str(lifecycle.run.binary),
        cwd=lifecycle.workdir.path,
        env={**lab.env, "PATH": str(Path(sys.executable).parent)},
    )
    _one_line_error(result, "needs terraform, which is not on PATH", "terraform show -json")


def test_list_rules(lab: Lab) -> None:
    listed = lab.review("--list-rules")
    assert listed.returncode == 0
    for rule in RULES.values():
        assert f"{rule.id}  {rule.severity.value}" in listed.stdout
        assert rule.fix in listed.stdout
    as_json = json.loads(lab.review("--list-rules", "--format", "json").stdout)
    assert [item["rule"] for item in as_json] == list(RULES)
    assert {item["severity"] for item in as_json} == {"critical", "high", "medium", "low", "info"}
    assert all(item["title"] and item["rationale"] and item["fix"] for item in as_json)


def _on_a_terminal(lab: Lab, *args: str) -> str:
    """The review with its standard output on a pseudo-terminal, as a person runs it."""
    leader, follower = pty.openpty()
    environment = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    process = subprocess.Popen(
        [sys.executable, "-m", "lacework_tokens", "review", *args],
        stdout=follower,
        stderr=subprocess.PIPE,
        env=environment,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait() == 1
    text = b"".join(chunks).decode("utf-8")
    lab.outputs.append(text)
    return text


def test_colour_on_a_terminal_only(lab: Lab, lifecycle: Scenario) -> None:
    plan = str(lifecycle.run.json_path)
    assert "\x1b[" in _on_a_terminal(lab, plan)
    piped = lab.review(plan)
    assert "\x1b[" not in piped.stdout
    assert "CRITICAL LWT303 module.night" in piped.stdout
    assert "\x1b[" not in lab.review(plan, "--format", "markdown").stdout


def test_sarif_for_code_scanning(lab: Lab, lifecycle: Scenario) -> None:
    plan = str(lifecycle.run.json_path)
    _, report = review_json(lab, plan)
    result = lab.review(plan, "--format", "sarif")
    assert result.returncode == 1
    sarif: dict[str, Any] = json.loads(result.stdout)
    assert sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == list(RULES)
    assert all(float(rule["properties"]["security-severity"]) >= 0 for rule in rules)
    results = run["results"]
    assert len(results) == len(report["findings"])
    by_key = {
        (item["ruleId"], item["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]): item
        for item in results
    }
    lonely = by_key[("LWT101", "lacework_agent_access_token.lonely[0]")]
    assert lonely["suppressions"][0]["kind"] == "inSource"
    assert "spring migration" in lonely["suppressions"][0]["justification"]
    night = by_key[("LWT303", "module.night")]
    assert night["level"] == "error"
    physical = night["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "main.tf"
    assert physical["region"]["startLine"] >= 1
    assert rules[night["ruleIndex"]]["id"] == "LWT303"
    assert by_key[("LWT104", "lacework_agent_access_token.renamed")]["level"] == "note"

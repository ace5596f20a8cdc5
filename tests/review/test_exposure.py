"""Where token values flow, on plans the real terraform made: through locals, module variables
and outputs, for_each and a data source (``exposure``), into the plaintext sinks of local,
null, kubernetes and github (``sinks``) and of AWS (``aws``)."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from review_harness import Lab, findings_by_rule, review_json
from scenarios import Scenario

from lacework_tokens.wire import AgentAccessToken

pytestmark = pytest.mark.terraform

APP = "lacework_agent_access_token.app.token"
SET = "lacework_agent_access_token.set.token"
EXISTING = "data.lacework_agent_access_token.existing.token"
K8S = "lacework_agent_access_token.k8s.token"
EC2 = "lacework_agent_access_token.ec2.token"


def flows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {flow["sink"]: flow for flow in report["flows"]}


@pytest.fixture(scope="module")
def exposure_report(lab: Lab, exposure: tuple[Scenario, AgentAccessToken]) -> dict[str, Any]:
    scenario, _ = exposure
    return review_json(lab, scenario.run.json_path)[1]


def test_paths_through_locals_module_variables_and_outputs(
    exposure_report: dict[str, Any],
) -> None:
    found = flows(exposure_report)
    assert found["output.app_token"]["path"] == [APP, "local.app_token", "output.app_token"]
    assert found["module.consumer.terraform_data.marker.triggers_replace"]["path"] == [
        APP,
        "local.app_token",
        "module.consumer.var.token",
        "module.consumer.terraform_data.marker.triggers_replace",
    ]
    assert found["module.consumer.output.token_plain"]["path"] == [
        APP,
        "local.app_token",
        "module.consumer.var.token",
        "module.consumer.output.token_plain",
    ]
    assert found['terraform_data.per_set["a"].input']["path"] == [
        SET,
        "each.value",
        'terraform_data.per_set["a"].input',
    ]
    assert found["output.existing_plain"]["path"] == [EXISTING, "output.existing_plain"]


def test_known_values_confirm_the_references(exposure_report: dict[str, Any]) -> None:
    found = flows(exposure_report)
    assert found["output.app_token"]["evidence"] == "reference+value"
    assert found["output.existing_plain"]["evidence"] == "reference+value"
    assert found["module.consumer.terraform_data.marker.triggers_replace"]["evidence"] == (
        "reference+value"
    )


def test_sensitive_outputs_keep_the_secret_and_names_are_no_flow(
    exposure_report: dict[str, Any],
) -> None:
    found = flows(exposure_report)
    assert found["output.kept"]["kept_secret"] is True
    assert found["output.kept"]["rule"] is None
    # A for expression over the tokens that reads only their names carries no value.
    assert "output.names" not in found


def test_exposure_rules(exposure_report: dict[str, Any]) -> None:
    assert findings_by_rule(exposure_report) == {
        "LWT201": {
            "output.app_token",
            "output.existing_plain",
            "module.consumer.output.token_plain",
        },
        "LWT208": {
            "module.consumer.terraform_data.marker.triggers_replace",
            'terraform_data.per_set["a"].input',
            'terraform_data.per_set["b"].input',
        },
    }


def test_acknowledgement_needs_a_reason(exposure_report: dict[str, Any]) -> None:
    acknowledged = {
        item["address"]: item["acknowledged"]
        for item in exposure_report["findings"]
        if item["acknowledged"]
    }
    assert set(acknowledged) == {
        'terraform_data.per_set["a"].input',
        'terraform_data.per_set["b"].input',
    }
    assert acknowledged['terraform_data.per_set["a"].input']["reason"] == (
        "replacing the marker on rotation is the point (SEC-7)"
    )
    # "# lacework-tokens: ack LWT201" without a reason acknowledges nothing.
    assert "output.app_token" not in acknowledged


def test_without_the_tf_files_values_still_show_the_flows(
    lab: Lab, exposure: tuple[Scenario, AgentAccessToken], tmp_path: Any
) -> None:
    scenario, _ = exposure
    alone = tmp_path / "plan.json"
    shutil.copy(scenario.run.json_path, alone)
    result = lab.review("-", "--format", "json", cwd=tmp_path, stdin=alone.read_bytes())
    assert result.returncode == 1, result.stderr
    import json

    report = json.loads(result.stdout)
    found = flows(report)
    # The local cannot be followed without the .tf files; the planned values still prove it.
    assert found["output.app_token"]["evidence"] == "value"
    assert found["module.consumer.terraform_data.marker.triggers_replace"]["evidence"] == "value"
    assert any(".tf files were not found" in note for note in report["notes"])
    assert all(item["acknowledged"] is None for item in report["findings"])


@pytest.fixture(scope="module")
def sinks_report(lab: Lab, sinks: Scenario) -> dict[str, Any]:
    return review_json(lab, sinks.run.json_path)[1]


def test_plaintext_sinks_of_local_null_kubernetes_and_github(sinks_report: dict[str, Any]) -> None:
    assert findings_by_rule(sinks_report) == {
        "LWT202": {"local_file.config.content"},
        "LWT205": {"kubernetes_config_map.agent.data"},
        "LWT206": {"github_actions_variable.token.value"},
        "LWT207": {"kubernetes_config_map.agent.metadata.labels"},
        "LWT208": {"null_resource.install.triggers"},
    }
    found = flows(sinks_report)
    for kept in (
        "local_sensitive_file.config.content",
        "kubernetes_secret.agent.data",
        "github_actions_secret.token.plaintext_value",
    ):
        assert found[kept]["kept_secret"] is True, kept
    # The tokens are created by this plan: only the configuration can tell.
    assert {flow["evidence"] for flow in found.values()} == {"reference"}
    assert found["local_file.config.content"]["path"] == [K8S, "local_file.config.content"]


@pytest.fixture(scope="module")
def aws_report(lab: Lab, aws: Scenario) -> dict[str, Any]:
    return review_json(lab, aws.run.json_path)[1]


def test_aws_sinks(aws_report: dict[str, Any]) -> None:
    assert findings_by_rule(aws_report) == {
        "LWT203": {"aws_ssm_parameter.plain.value"},
        "LWT204": {"aws_instance.agent.user_data", "aws_launch_template.agents.user_data"},
        "LWT207": {"aws_ssm_parameter.secure.tags"},
        "LWT209": {"aws_launch_template.agents.description"},
    }
    found = flows(aws_report)
    assert found["aws_ssm_parameter.secure.value"]["kept_secret"] is True
    assert "a String parameter" in next(
        item["message"] for item in aws_report["findings"] if item["rule"] == "LWT203"
    )
    # The AWS provider keeps only a hash of user_data in the plan; the reference still shows
    # it. The launch template's base64 user data is decoded and matched.
    assert found["aws_instance.agent.user_data"]["evidence"] == "reference"
    assert found["aws_launch_template.agents.user_data"]["evidence"] == "reference+value"
    assert found["aws_ssm_parameter.plain.value"]["path"] == [EC2, "aws_ssm_parameter.plain.value"]

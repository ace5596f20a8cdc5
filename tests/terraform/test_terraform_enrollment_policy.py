"""The plugin's extensions ``expires_at``, ``max_enrollments`` and ``scope`` through real
Terraform: plan, apply, agents enrolling under the policy, in-place changes, removal, import, and
no drift however often agents check in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tftest
from tf_harness import Workbench, managed_tokens, plan_exit_code, var_args

from lacework_tokens.enrollment import AgentConnection
from lacework_tokens.errors import PermissionDeniedError

pytestmark = pytest.mark.terraform

EXPIRES = "2099-06-30T12:00:00Z"


def test_the_example_applies_a_policy_agents_meet_and_check_ins_cause_no_drift(
    workbench: Workbench,
) -> None:
    tf = workbench.example("enrollment-policy")
    tf.setup()
    tf.apply(tf_vars={"expires_at": EXPIRES})
    args = var_args(expires_at=EXPIRES)
    assert plan_exit_code(tf, *args) == 0

    bastion = workbench.client.agent_tokens.find("bastion-once")
    web = workbench.client.agent_tokens.find("payments-web")
    assert bastion is not None and web is not None
    assert bastion.max_enrollments == 1 and bastion.scope is None
    assert bastion.expires_at == datetime(2099, 6, 30, 12, tzinfo=UTC)
    assert web.scope == "payments-web" and web.max_enrollments is None and web.expires_at is None
    state = {values["name"]: values for values in managed_tokens(tf).values()}
    assert state["bastion-once"]["expires_at"] == EXPIRES
    assert state["bastion-once"]["max_enrollments"] == 1
    assert state["payments-web"]["scope"] == "payments-web"

    with AgentConnection(workbench.backend.url) as agent:
        first = agent.enroll(bastion.token, "bastion-1")
        with pytest.raises(PermissionDeniedError, match="used up"):
            agent.enroll(bastion.token, "bastion-2")
        joined = agent.enroll(web.token, "web-1")
        assert joined.scope == "payments-web"
        for _ in range(3):
            agent.checkin(bastion.token, first.mid)
            agent.checkin(web.token, joined.mid)
    # Enrollments and check-ins change usage, never the token: nothing to plan.
    assert plan_exit_code(tf, *args) == 0
    assert workbench.client.agent_tokens.usage(bastion.token).enrolled == 1

    # Raising the limit and moving the expiry are in-place updates.
    tf.execute_command(
        "apply",
        "-input=false",
        "-no-color",
        "-auto-approve",
        "-var",
        "expires_at=2099-07-01T00:00:00+02:00",
    )
    moved = workbench.client.agent_tokens.get(bastion.token)
    assert moved.expires_at == datetime(2099, 6, 30, 22, tzinfo=UTC)
    assert moved.created_time == bastion.created_time
    assert plan_exit_code(tf, "-var", "expires_at=2099-07-01T00:00:00+02:00") == 0

    tf.destroy(tf_vars={"expires_at": EXPIRES})


def test_changes_and_removal_are_in_place_and_import_keeps_the_policy(
    workbench: Workbench,
) -> None:
    body = """
resource "lacework_agent_access_token" "fleet" {
  name            = "fleet-policy"
  max_enrollments = var.max
  scope           = var.scope
  expires_at      = var.expires_at
}

variable "max" {
  type    = number
  default = 2
}

variable "scope" {
  type    = string
  default = "fleet"
}

variable "expires_at" {
  type    = string
  default = null
}
"""
    tf = workbench.configuration("policy-changes", body)
    tf.setup()
    tf.apply()
    assert plan_exit_code(tf) == 0
    token = workbench.client.agent_tokens.find("fleet-policy")
    assert token is not None and (token.max_enrollments, token.scope) == (2, "fleet")

    plan = tf.execute_command("plan", "-input=false", "-no-color", *var_args(max=5)).out
    assert "1 to change" in plan and "must be replaced" not in plan
    tf.apply(tf_vars={"max": 5})
    assert workbench.client.agent_tokens.get(token.token).max_enrollments == 5

    # Leaving the limits out removes them: the token enrolls any number of agents anywhere.
    unlimited = body.replace("  max_enrollments = var.max\n  scope           = var.scope\n", "")
    (Path(tf.tfdir) / "main.tf").write_text(
        'terraform {\n  required_providers {\n    lacework = {\n      source = "lacework/lacework"'
        '\n    }\n  }\n}\n\nprovider "lacework" {}\n' + unlimited,
        encoding="utf-8",
    )
    tf.apply()
    cleared = workbench.client.agent_tokens.get(token.token)
    assert cleared.max_enrollments is None and cleared.scope is None
    assert plan_exit_code(tf) == 0

    # A token made elsewhere with a policy imports with it, and plans no change.
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    made = workbench.client.agent_tokens.create(
        "imported-policy", max_enrollments=3, scope="imported", expires_at=expires
    )
    stamp = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    imported = workbench.configuration(
        "policy-import",
        f"""
resource "lacework_agent_access_token" "imported" {{
  name            = "imported-policy"
  max_enrollments = 3
  scope           = "imported"
  expires_at      = "{stamp}"
}}
""",
    )
    imported.setup()
    imported.execute_command(
        "import", "-input=false", "-no-color", "lacework_agent_access_token.imported", made.token
    )
    assert plan_exit_code(imported) == 0
    (values,) = managed_tokens(imported).values()
    assert (values["max_enrollments"], values["scope"], values["expires_at"]) == (
        3,
        "imported",
        stamp,
    )


def test_invalid_policy_values_are_reported_at_their_attribute(workbench: Workbench) -> None:
    tf = workbench.configuration(
        "policy-invalid",
        """
resource "lacework_agent_access_token" "bad" {
  name            = "bad-policy"
  max_enrollments = 0
  scope           = "no spaces allowed"
  expires_at      = "next tuesday"
}
""",
    )
    tf.setup()
    with pytest.raises(tftest.TerraformTestError) as failure:
        tf.execute_command("plan", "-input=false", "-no-color")
    output = re.sub(r"\s+", " ", str(failure.value.cmd_error))
    assert "Invalid value for max_enrollments" in output
    assert "Invalid value for scope" in output
    assert "must be an RFC 3339 time" in output
    assert workbench.client.agent_tokens.find("bad-policy") is None

"""Every example under examples/terraform: init, apply, plan (no changes), destroy, then the
backend, read through the SDK, shows what destroy means for agent access tokens."""

from __future__ import annotations

import pytest
from tf_harness import (
    EXAMPLES,
    Workbench,
    assert_soft_deleted,
    managed_tokens,
    plan_exit_code,
    var_args,
)

pytestmark = pytest.mark.terraform


def test_basic_creates_the_documented_token_and_destroy_disables_it(workbench: Workbench) -> None:
    tf = workbench.example("basic")
    tf.setup()
    tf.apply()
    assert plan_exit_code(tf) == 0

    token = workbench.client.agent_tokens.find("prod")
    assert token is not None
    assert token.description == "k8s deployment for production env"
    assert token.os == "linux" and token.enabled
    assert tf.output()["token"] == token.token

    tf.destroy()
    assert workbench.client.agent_tokens.find("prod") is None
    assert_soft_deleted(workbench.client, token.token, "prod")


def test_per_environment_makes_a_token_per_team_and_environment(workbench: Workbench) -> None:
    tf = workbench.example("per-environment")
    tf.setup()
    tf.apply()
    assert plan_exit_code(tf) == 0

    names = tf.output()["token_names"]
    assert names == {
        team: {
            "dev": f"{team}-dev",
            "staging": f"{team}-staging",
            "prod": f"{team}-prod",
            "prod-windows": f"{team}-prod-windows",
        }
        for team in ("payments", "search")
    }
    windows = workbench.client.agent_tokens.find("search-prod-windows")
    assert windows is not None and windows.os == "windows"
    managed = managed_tokens(tf)
    assert len(managed) == 8

    # Dropping an environment soft-deletes exactly its tokens.
    tf.apply(tf_vars={"environments": ["dev", "prod"]})
    staging = [values for values in managed.values() if values["name"].endswith("-staging")]
    for values in staging:
        assert_soft_deleted(workbench.client, values["token"], values["name"])
    assert workbench.client.agent_tokens.find("payments-dev") is not None

    tf.destroy(tf_vars={"environments": ["dev", "prod"]})
    for values in managed.values():
        assert_soft_deleted(workbench.client, values["token"], values["name"])


def test_import_existing_adopts_a_token_by_value_without_changing_it(
    workbench: Workbench,
) -> None:
    existing = workbench.client.agent_tokens.create("edge", description="created by a script")
    tf = workbench.example("import-existing")
    tf.setup()
    variables = var_args(
        existing_token=existing.token, name="edge", description="created by a script"
    )
    plan = tf.execute_command("plan", "-input=false", "-no-color", *variables).out
    assert "1 to import, 0 to add, 0 to change, 0 to destroy" in plan
    # Terraform itself echoes an import id ("Preparing import... [id=...]"); the plan does not.
    shown = [line for line in plan.splitlines() if existing.token in line]
    assert len(shown) == 1 and "Preparing import" in shown[0], shown

    tf.execute_command("apply", "-input=false", "-no-color", "-auto-approve", *variables)
    assert plan_exit_code(tf, *variables) == 0
    (values,) = managed_tokens(tf).values()
    assert values["id"] == "edge" and values["token"] == existing.token
    assert workbench.client.agent_tokens.get(existing.token).created_time == existing.created_time

    tf.execute_command("destroy", "-input=false", "-no-color", "-auto-approve", *variables)
    assert_soft_deleted(workbench.client, existing.token, "edge")


def test_import_existing_as_its_readme_says_keeps_a_console_token_as_it_is(
    workbench: Workbench,
) -> None:
    made = workbench.client.agent_tokens.create(
        "console-made", description="made by console", os="windows", enabled=False
    )
    tf = workbench.example("import-existing")
    tf.setup()
    # What the README says to pass: the token's name and description, its os and enabled state.
    variables = var_args(
        existing_token=made.token,
        name="console-made",
        description="made by console",
        os="windows",
        enabled=False,
    )
    plan = tf.execute_command("plan", "-input=false", "-no-color", *variables).out
    assert "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy." in plan
    tf.execute_command("apply", "-input=false", "-no-color", "-auto-approve", *variables)
    assert plan_exit_code(tf, *variables) == 0
    after = workbench.client.agent_tokens.get(made.token)
    assert (after.name, after.description, after.os, after.enabled) == (
        "console-made",
        "made by console",
        "windows",
        False,
    )


def test_import_existing_readme_lets_terraform_write_the_block(workbench: Workbench) -> None:
    made = workbench.client.agent_tokens.create("console-generated", description="from the UI")
    readme = (EXAMPLES / "import-existing" / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Or let Terraform write the resource block") :]
    hcl = section.split("```hcl\n", 1)[1].split("```", 1)[0]
    directory = workbench.scratch("import-generated")
    (directory / "main.tf").write_text(hcl, encoding="utf-8")
    tf = workbench.terraform(directory)
    tf.setup()
    variables = var_args(existing_token=made.token)
    tf.execute_command(
        "plan", "-input=false", "-no-color", "-generate-config-out=generated.tf", *variables
    )
    applied = tf.execute_command(
        "apply", "-input=false", "-no-color", "-auto-approve", *variables
    ).out
    assert "1 imported, 0 added, 0 changed, 0 destroyed." in applied
    assert plan_exit_code(tf, *variables) == 0
    after = workbench.client.agent_tokens.get(made.token)
    assert (after.name, after.description, after.enabled) == (
        "console-generated",
        "from the UI",
        True,
    )


def test_rotation_enables_the_successor_before_disabling_the_old_token(
    workbench: Workbench,
) -> None:
    tf = workbench.example("rotation")
    tf.setup()
    tf.apply()
    assert plan_exit_code(tf) == 0
    first = workbench.client.agent_tokens.find("prod-v1")
    assert first is not None and first.enabled

    # Start the rotation: the successor exists and both work while agents move.
    tf.apply(tf_vars={"generation": 2})
    assert plan_exit_code(tf, *var_args(generation=2)) == 0
    second = workbench.client.agent_tokens.find("prod-v2")
    assert second is not None and second.enabled
    assert workbench.client.agent_tokens.get(first.token).enabled
    assert tf.output()["current_token"] == second.token

    # Finish it: the old token is disabled, not gone.
    finish = {"generation": 2, "previous_enabled": "false"}
    tf.apply(tf_vars=finish)
    assert plan_exit_code(tf, *var_args(**finish)) == 0
    assert workbench.client.agent_tokens.get(first.token).enabled is False
    assert workbench.client.agent_tokens.get(second.token).enabled is True

    tf.destroy(tf_vars=finish)
    assert_soft_deleted(workbench.client, first.token, "prod-v1")
    assert_soft_deleted(workbench.client, second.token, "prod-v2")


def test_lookup_reads_a_token_by_name_and_leaves_it_alone(workbench: Workbench) -> None:
    existing = workbench.client.agent_tokens.create("lookup-target")
    tf = workbench.example("lookup")
    tf.setup()
    tf.apply(tf_vars={"token_name": "lookup-target"})
    assert plan_exit_code(tf, *var_args(token_name="lookup-target")) == 0
    assert tf.output()["token"] == existing.token

    tf.destroy(tf_vars={"token_name": "lookup-target"})
    after = workbench.client.agent_tokens.get(existing.token)
    assert after.name == "lookup-target" and after.enabled

"""The resource's semantics through real Terraform: import, drift, the ``enabled`` default,
diagnostics a person can act on, and a large parallel apply."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import tftest
from tf_harness import (
    PROVIDER_BLOCK,
    TERRAFORM,
    Workbench,
    assert_soft_deleted,
    managed_tokens,
    plan_exit_code,
)

from lacework_tokens.provider import OFFICIAL_VERSIONS
from lacework_tokens.testing import hermetic_terraform_environment

pytestmark = pytest.mark.terraform


def failing(tf: tftest.TerraformTest, command: str, *args: str) -> str:
    """Run a command that must fail; return its diagnostics (stderr), whitespace collapsed."""
    with pytest.raises(tftest.TerraformTestError) as failure:
        tf.execute_command(command, "-input=false", "-no-color", *args)
    assert "Traceback" not in str(failure.value)
    return re.sub(r"\s+", " ", str(failure.value.cmd_error))


def test_terraform_import_by_token_round_trips_without_drift(workbench: Workbench) -> None:
    existing = workbench.client.agent_tokens.create(
        "imported", description="made elsewhere", os="windows"
    )
    workbench.client.agent_tokens.disable(existing.token)
    tf = workbench.configuration(
        "import-cli",
        """
resource "lacework_agent_access_token" "imported" {
  name        = "imported"
  description = "made elsewhere"
  os          = "windows"
  enabled     = false
}
""",
    )
    tf.setup()
    address = "lacework_agent_access_token.imported"
    tf.execute_command("import", "-input=false", "-no-color", address, existing.token)
    assert plan_exit_code(tf) == 0
    (values,) = managed_tokens(tf).values()
    assert values["id"] == "imported"
    assert values["enabled"] is False and values["os"] == "windows"


def test_import_block_generates_configuration_that_plans_no_changes(
    workbench: Workbench,
) -> None:
    existing = workbench.client.agent_tokens.create("generated", description="from the console")
    tf = workbench.configuration(
        "import-generate",
        f"""
import {{
  to = lacework_agent_access_token.generated
  id = "{existing.token}"
}}
""",
    )
    tf.setup()
    tf.execute_command("plan", "-input=false", "-no-color", "-generate-config-out=generated.tf")
    text = Path(tf.tfdir, "generated.tf").read_text(encoding="utf-8")
    assert re.search(r'name\s+= "generated"', text), text
    # Terraform heads the block with a comment naming the import id; the block holds no token.
    block = text[text.index('resource "lacework_agent_access_token"') :]
    assert existing.token not in block

    tf.apply()
    assert plan_exit_code(tf) == 0
    assert workbench.client.agent_tokens.get(existing.token).name == "generated"


def test_importing_an_unknown_token_says_it_was_not_found(workbench: Workbench) -> None:
    tf = workbench.configuration(
        "import-unknown", 'resource "lacework_agent_access_token" "x" {\n  name = "x"\n}\n'
    )
    tf.setup()
    output = failing(tf, "import", "lacework_agent_access_token.x", "not-a-real-token-value")
    assert "Unable to import Lacework resource. Agent access token" in output
    assert "was not found." in output
    # Terraform itself echoes the import id; the provider's diagnostic shows a masked form.
    diagnostic = output[output.index("Error:") :]
    assert "not-a-real-token-value" not in diagnostic


def test_changes_made_outside_terraform_are_detected_and_repaired(workbench: Workbench) -> None:
    tf = workbench.configuration(
        "drift",
        """
resource "lacework_agent_access_token" "disabled_elsewhere" {
  name = "drift-disabled"
}

resource "lacework_agent_access_token" "renamed_elsewhere" {
  name = "drift-renamed"
}
""",
    )
    tf.setup()
    tf.apply()
    tokens = {values["name"]: values["token"] for values in managed_tokens(tf).values()}
    workbench.client.agent_tokens.disable(tokens["drift-disabled"])
    workbench.client.agent_tokens.update(tokens["drift-renamed"], name="renamed-by-hand")

    plan = tf.plan(output=True)
    actions = {
        change["address"]: change["change"]["actions"] for change in plan.resource_changes.values()
    }
    assert actions == {
        "lacework_agent_access_token.disabled_elsewhere": ["update"],
        # A token renamed outside Terraform is no longer the one this configuration manages.
        "lacework_agent_access_token.renamed_elsewhere": ["create"],
    }

    tf.apply()
    assert plan_exit_code(tf) == 0
    assert workbench.client.agent_tokens.get(tokens["drift-disabled"]).enabled
    renamed = workbench.client.agent_tokens.get(tokens["drift-renamed"])
    assert renamed.name == "renamed-by-hand" and renamed.enabled
    successor = workbench.client.agent_tokens.find("drift-renamed")
    assert successor is not None and successor.token != renamed.token
    tf.destroy()


def test_enabled_defaults_to_true_removing_enabled_false_re_enables_renames_in_place(
    workbench: Workbench,
) -> None:
    resource = 'resource "lacework_agent_access_token" "t" {{\n  name = "toggle"\n{extra}}}\n'
    tf = workbench.configuration("enabled", resource.format(extra="  enabled = false\n"))
    tf.setup()
    tf.apply()
    assert plan_exit_code(tf) == 0
    token = workbench.client.agent_tokens.find("toggle")
    assert token is not None and token.enabled is False

    main_tf = Path(tf.tfdir, "main.tf")
    main_tf.write_text(PROVIDER_BLOCK + "\n" + resource.format(extra=""), encoding="utf-8")
    plan = tf.plan(output=True)
    (change,) = plan.resource_changes.values()
    assert change["change"]["actions"] == ["update"]
    assert change["change"]["before"]["enabled"] is False
    assert change["change"]["after"]["enabled"] is True

    tf.apply()
    assert plan_exit_code(tf) == 0
    assert workbench.client.agent_tokens.get(token.token).enabled is True

    # A rename is an in-place update too: same token value, new name, old name free.
    main_tf.write_text(
        PROVIDER_BLOCK + "\n" + resource.format(extra="").replace('"toggle"', '"toggled"'),
        encoding="utf-8",
    )
    (change,) = tf.plan(output=True).resource_changes.values()
    assert change["change"]["actions"] == ["update"]
    tf.apply()
    assert plan_exit_code(tf) == 0
    assert workbench.client.agent_tokens.get(token.token).name == "toggled"
    assert workbench.client.agent_tokens.find("toggle") is None

    tf.destroy()
    assert_soft_deleted(workbench.client, token.token, "toggled")


def test_a_taken_name_is_a_diagnostic_naming_the_fix(workbench: Workbench) -> None:
    workbench.client.agent_tokens.create("taken")
    tf = workbench.configuration(
        "duplicate", 'resource "lacework_agent_access_token" "t" {\n  name = "taken"\n}\n'
    )
    tf.setup()
    output = failing(tf, "apply", "-auto-approve")
    assert "An agent access token named 'taken' already exists" in output
    assert "import" in output


def test_a_missing_data_source_name_uses_the_official_message(workbench: Workbench) -> None:
    tf = workbench.configuration(
        "lookup-missing", 'data "lacework_agent_access_token" "t" {\n  name = "nobody"\n}\n'
    )
    tf.setup()
    output = failing(tf, "plan")
    assert "Agent access token with name 'nobody' was not found." in output


def test_wrong_credentials_are_one_clear_diagnostic(workbench: Workbench) -> None:
    tf = workbench.configuration(
        "bad-credentials",
        'resource "lacework_agent_access_token" "t" {\n  name = "never"\n}\n',
        env={"LW_API_SECRET": "_not-the-secret"},
    )
    tf.setup()
    output = failing(tf, "apply", "-auto-approve")
    assert "Lacework rejected the API credentials" in output
    assert output.count("Lacework rejected the API credentials") == 1
    assert "_not-the-secret" not in output
    assert workbench.client.agent_tokens.find("never") is None


def test_an_unreachable_server_is_named_in_the_diagnostic(workbench: Workbench) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{closed_port}"
    tf = workbench.configuration(
        "unreachable",
        'resource "lacework_agent_access_token" "t" {\n  name = "never"\n}\n',
        env={"LW_API_SERVER_URL": url},
    )
    tf.setup()
    # A create-only plan makes no call (see test_terraform_in_the_wild); the apply does.
    output = failing(tf, "apply", "-auto-approve")
    assert f"Unable to reach the Lacework API at {url}" in output


def test_missing_credentials_point_at_the_settings_to_give(workbench: Workbench) -> None:
    tf = workbench.configuration(
        "no-credentials",
        'resource "lacework_agent_access_token" "t" {\n  name = "never"\n}\n',
        env={"LW_API_KEY": "", "LW_API_SECRET": ""},
    )
    tf.setup()
    output = failing(tf, "plan")
    assert "Unable to create Lacework API client" in output
    assert "LW_API_KEY" in output


def test_a_hundred_tokens_in_one_parallel_apply_lose_none(workbench: Workbench) -> None:
    tf = workbench.configuration(
        "hundred",
        """
resource "lacework_agent_access_token" "fleet" {
  count       = 100
  name        = "fleet-${count.index}"
  description = "host group ${count.index}"
}
""",
    )
    tf.setup()
    tf.apply(parallelism="10")
    assert plan_exit_code(tf) == 0
    managed = managed_tokens(tf)
    assert len(managed) == 100
    on_server = {
        token.name: token
        for token in workbench.client.agent_tokens.list()
        if token.name.startswith("fleet-")
    }
    assert set(on_server) == {f"fleet-{index}" for index in range(100)}
    assert {values["token"] for values in managed.values()} == {
        token.token for token in on_server.values()
    }
    assert all(token.enabled for token in on_server.values())

    tf.destroy(parallelism="10")
    for values in managed.values():
        assert_soft_deleted(workbench.client, values["token"], values["name"])


def test_install_into_the_implied_mirror_lets_init_run_offline_twice(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = hermetic_terraform_environment(home)
    # No provider_installation block: Terraform searches ~/.terraform.d/plugins by itself.
    empty_config = tmp_path / "empty.tfrc"
    empty_config.write_text("", encoding="utf-8")
    env["TF_CLI_CONFIG_FILE"] = str(empty_config)
    printed = subprocess.run(
        [sys.executable, "-m", "lacework_tokens", "terraform", "install"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    plugins = home / ".terraform.d" / "plugins" / "registry.terraform.io" / "lacework" / "lacework"
    # Served as the latest release of each official major version, from the same launcher.
    assert sorted(path.name for path in plugins.iterdir()) == sorted(OFFICIAL_VERSIONS)
    launchers = set()
    for version in OFFICIAL_VERSIONS:
        (platform_dir,) = (plugins / version).iterdir()
        launchers.add((platform_dir / f"terraform-provider-lacework_v{version}").read_bytes())
    assert len(launchers) == 1
    assert "filesystem_mirror" in printed
    assert "`terraform init` finds the plugin" in printed

    workdir = tmp_path / "config"
    workdir.mkdir()
    (workdir / "main.tf").write_text(PROVIDER_BLOCK, encoding="utf-8")
    for _ in range(2):  # the second init checks the plugin against .terraform.lock.hcl
        subprocess.run(
            [TERRAFORM, "init", "-input=false", "-no-color"],
            cwd=workdir,
            env=env,
            check=True,
            capture_output=True,
        )
    lock = (workdir / ".terraform.lock.hcl").read_text(encoding="utf-8")
    assert 'provider "registry.terraform.io/lacework/lacework"' in lock
    assert f'version = "{OFFICIAL_VERSIONS[0]}"' in lock
    validated = subprocess.run(
        [TERRAFORM, "validate", "-no-color"], cwd=workdir, env=env, capture_output=True, text=True
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr

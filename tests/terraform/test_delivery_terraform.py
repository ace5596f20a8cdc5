"""Delivering tokens with Terraform: the module's ``agent_configs`` output, and the AWS Secrets
Manager example applied for real against moto's server with the AWS provider from a local
filesystem mirror, then rotated and destroyed."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import boto3
import pytest
import tftest
from moto.server import ThreadedMotoServer
from tf_harness import (
    MODULES,
    Workbench,
    assert_soft_deleted,
    cli_configuration_with_aws,
    plan_exit_code,
    var_args,
)

from lacework_tokens import AgentConfig, agent_config

pytestmark = pytest.mark.terraform

# Anything works against moto; real-looking values keep the provider's checks quiet.
AWS_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_REGION": "us-east-1",
}


def copy_module(workbench: Workbench, label: str) -> Path:
    """A scratch root with the module beside it at ``modules/agent-access-tokens``."""
    root = workbench.scratch(label)
    shutil.copytree(MODULES / "agent-access-tokens", root / "modules" / "agent-access-tokens")
    return root


# --- the module's agent_configs output ------------------------------------------------------

MODULE_ROOT: Final = """\
terraform {
  required_providers {
    lacework = {
      source = "lacework/lacework"
    }
  }
}

provider "lacework" {}

variable "agent" {
  type    = any
  default = {}
}

module "tokens" {
  source      = "./modules/agent-access-tokens"
  name_prefix = "cfg-"
  tokens = {
    linux   = { agent_tags = { team = "payments" } }
    windows = { os = "windows" }
  }
  agent = var.agent
}

output "agent_configs" {
  value     = module.tokens.agent_configs
  sensitive = true
}

output "tokens" {
  value     = module.tokens.tokens
  sensitive = true
}
"""


def test_module_outputs_each_tokens_config_json_as_the_sdk_writes_it(
    workbench: Workbench,
) -> None:
    root = copy_module(workbench, "agent-configs")
    (root / "main.tf").write_text(MODULE_ROOT, encoding="utf-8")
    tf = workbench.terraform(root)
    tf.setup()
    settings: dict[str, Any] = {
        "server_url": "https://api.fra.lacework.net",
        "proxy_url": "http://10.10.10.10:3128",
        "autoupgrade": False,
        "tags": {"env": "prod", "team": "all"},
    }
    tf.apply(tf_vars={"agent": json.dumps(settings)})
    assert plan_exit_code(tf, *var_args(agent=settings)) == 0

    shown = tf.execute_command("output", "-no-color").out
    assert "<sensitive>" in shown
    outputs = tf.output()
    tokens, configs = outputs["tokens"], outputs["agent_configs"]
    assert set(configs) == {"linux", "windows"}
    for key, tags in (
        ("linux", {"env": "prod", "team": "payments"}),  # the entry's tags over the module's
        ("windows", {"env": "prod", "team": "all"}),
    ):
        expected = agent_config(
            tokens[key],
            server_url=settings["server_url"],
            proxy_url=settings["proxy_url"],
            autoupgrade=False,
            tags=tags,
        )
        assert json.loads(configs[key]) == expected.as_dict()
        assert AgentConfig.from_json(configs[key]).token == tokens[key]

    # With nothing but the token, config.json holds nothing else.
    tf.apply(tf_vars={"agent": "{}"})
    outputs = tf.output()
    assert json.loads(outputs["agent_configs"]["windows"]) == {
        "tokens": {"AccessToken": outputs["tokens"]["windows"]}
    }
    assert json.loads(outputs["agent_configs"]["linux"]) == {
        "tokens": {"AccessToken": outputs["tokens"]["linux"]},
        "tags": {"team": "payments"},
    }
    tf.destroy(tf_vars={"agent": "{}"})


def test_module_refuses_a_server_url_that_is_not_a_url(workbench: Workbench) -> None:
    root = copy_module(workbench, "agent-configs-invalid")
    (root / "main.tf").write_text(MODULE_ROOT, encoding="utf-8")
    tf = workbench.terraform(root)
    tf.setup()
    with pytest.raises(tftest.TerraformTestError) as failure:
        tf.execute_command(
            "plan", "-input=false", "-no-color", *var_args(agent={"server_url": "api.lacework.net"})
        )
    diagnostics = re.sub(r"\s+", " ", str(failure.value.cmd_error))
    assert "agent.server_url must be an absolute http or https URL" in diagnostics


# --- the AWS Secrets Manager example --------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's server on a free loopback port, for every AWS call of the example."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def aws_environment(workbench: Workbench, endpoint: str, cli_config: Path) -> dict[str, str]:
    """Endpoints and credentials from the environment, as a user's shell would give them, so
    the example's .tf files name no endpoint and stay valid against real AWS."""
    return {
        **{k: v for k, v in workbench.env.items() if not k.startswith("AWS_")},
        **AWS_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "TF_CLI_CONFIG_FILE": str(cli_config),
    }


def secrets_client(endpoint: str) -> Any:
    return boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name=AWS_CREDENTIALS["AWS_REGION"],
        aws_access_key_id=AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def versions_by_stage(client: Any, secret: str) -> dict[str, str]:
    """``{"AWSCURRENT": value, "AWSPREVIOUS": value}`` of a secret."""
    found: dict[str, str] = {}
    for version in client.list_secret_version_ids(SecretId=secret)["Versions"]:
        for stage in version.get("VersionStages", []):
            value = client.get_secret_value(SecretId=secret, VersionId=version["VersionId"])
            found[stage] = value["SecretString"]
    return found


def test_secrets_manager_example_stores_each_generation_without_a_gap(
    workbench: Workbench, moto_endpoint: str
) -> None:
    env = aws_environment(
        workbench, moto_endpoint, cli_configuration_with_aws(workbench, workbench.root / "aws.tfrc")
    )
    tf = workbench.example("aws-secrets-manager", env=env)
    tf.setup()
    common = var_args(
        name="sm-prod",
        secret_prefix="lacework/agents/sm-prod",
        agent={"server_url": "https://api.fra.lacework.net", "tags": {"env": "prod"}},
        recovery_window_in_days=7,
    )
    secrets = secrets_client(moto_endpoint)
    token_secret, config_secret = (
        "lacework/agents/sm-prod/token",
        ("lacework/agents/sm-prod/config.json"),
    )
    tokens = workbench.client.agent_tokens

    def apply(*extra: str) -> None:
        tf.execute_command("apply", "-input=false", "-no-color", "-auto-approve", *common, *extra)

    # Generation 1: the secret holds the token, read back through boto3.
    apply()
    v1 = tokens.find("sm-prod-v1")
    assert v1 is not None and v1.enabled
    assert secrets.get_secret_value(SecretId=token_secret)["SecretString"] == v1.token
    stored_config = AgentConfig.from_json(
        secrets.get_secret_value(SecretId=config_secret)["SecretString"]
    )
    assert stored_config == agent_config(
        v1, server_url="https://api.fra.lacework.net", tags={"env": "prod"}
    )
    assert plan_exit_code(tf, *common) == 0
    assert tf.output()["current_name"] == "sm-prod-v1"

    # Generation 2: the successor is stored as AWSCURRENT; the old value stays AWSPREVIOUS and
    # its token stays enabled while agents move.
    apply(*var_args(generation=2))
    v2 = tokens.find("sm-prod-v2")
    assert v2 is not None and v2.enabled
    assert tokens.get(v1.token).enabled
    assert versions_by_stage(secrets, token_secret) == {
        "AWSCURRENT": v2.token,
        "AWSPREVIOUS": v1.token,
    }
    assert AgentConfig.from_json(versions_by_stage(secrets, config_secret)["AWSCURRENT"]) == (
        agent_config(v2, server_url="https://api.fra.lacework.net", tags={"env": "prod"})
    )
    assert plan_exit_code(tf, *common, *var_args(generation=2)) == 0
    version_of_v2 = tf.output()["token_version_id"]

    # Agents moved: the previous generation is disabled; the secret does not move.
    apply(*var_args(generation=2, previous_enabled=False))
    assert not tokens.get(v1.token).enabled
    assert tf.output()["token_version_id"] == version_of_v2
    assert secrets.get_secret_value(SecretId=token_secret)["SecretString"] == v2.token

    # Generation 3: v3 becomes current, v2 previous (enabled again for the move), and v1 leaves
    # the window: destroyed, which for a token means disabled and renamed, never deleted.
    apply(*var_args(generation=3))
    v3 = tokens.find("sm-prod-v3")
    assert v3 is not None and v3.enabled
    assert tokens.get(v2.token).enabled
    assert_soft_deleted(workbench.client, v1.token, "sm-prod-v1")
    assert versions_by_stage(secrets, token_secret) == {
        "AWSCURRENT": v3.token,
        "AWSPREVIOUS": v2.token,
    }

    # Destroy: both tokens soft-deleted, both secrets scheduled for deletion (7 days).
    tf.execute_command(
        "destroy", "-input=false", "-no-color", "-auto-approve", *common, *var_args(generation=3)
    )
    for token, name in ((v2, "sm-prod-v2"), (v3, "sm-prod-v3")):
        assert_soft_deleted(workbench.client, token.token, name)
    for secret in (token_secret, config_secret):
        assert "DeletedDate" in secrets.describe_secret(SecretId=secret)


def test_the_example_names_no_endpoint_and_no_credentials() -> None:
    """What makes it valid against real AWS: nothing in it points at moto or holds a key."""
    example = Path(__file__).resolve().parents[2] / "examples" / "terraform" / "aws-secrets-manager"
    text = "\n".join(path.read_text() for path in sorted(example.glob("*.tf")))
    for word in ("endpoints {", "127.0.0.1", "localhost", "access_key", "secret_key", "skip_"):
        assert word not in text
    assert 'provider "aws" {}' in text

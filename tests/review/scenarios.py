"""The configurations the review is tested on, each planned by the real ``terraform``.

- ``lifecycle``: every kind of token change, applied then changed: rename, disable, enable,
  destroy (by ``count``, by a whole ``for_each`` module instance, with and without a
  successor), replace, import (``import {}`` blocks), re-enable after a soft delete, forget
  (``removed {}``), move (``moved {}``), values unknown until apply, a provider alias and
  modules nested two deep.
- ``exposure``: token values through locals, module variables, module outputs, ``for_each``
  and a data source into outputs and ``terraform_data``, applied so the plan knows the values.
- ``sinks``: the plaintext sinks of providers served by ``standin_providers``, with tokens
  created in the same plan (values unknown).
- ``aws``: SSM parameters, instance and launch-template user data and tags, with the real AWS
  provider planning offline.
"""

from __future__ import annotations

from dataclasses import dataclass

from review_harness import AWS_PROVIDER, Lab, PlannedRun, Workdir, providers_block

from lacework_tokens.wire import AgentAccessToken


@dataclass(frozen=True)
class Scenario:
    workdir: Workdir
    run: PlannedRun


TEAM_MODULE = (
    providers_block()
    + """
variable "team" {
  type = string
}

variable "enabled" {
  type    = bool
  default = true
}

module "os" {
  source   = "../os"
  for_each = toset(["linux", "windows"])

  name    = "lc-${var.team}-${each.key}"
  os      = each.key
  enabled = var.enabled
}
"""
)

OS_MODULE = (
    providers_block()
    + """
variable "name" {
  type = string
}

variable "os" {
  type = string
}

variable "enabled" {
  type = bool
}

resource "lacework_agent_access_token" "this" {
  name        = var.name
  description = "${var.os} agents"
  os          = var.os
  enabled     = var.enabled
}
"""
)

LIFECYCLE_BEFORE = (
    providers_block()
    + """
provider "lacework" {}

provider "lacework" {
  alias = "second"
}

resource "lacework_agent_access_token" "renamed" {
  name        = "lc-web"
  description = "web servers"
}

resource "lacework_agent_access_token" "paused" {
  name        = "lc-batch"
  description = "batch hosts"
}

resource "lacework_agent_access_token" "resumed" {
  name        = "lc-legacy"
  description = "legacy hosts"
  enabled     = false
}

resource "lacework_agent_access_token" "fleet" {
  count       = 2
  name        = "lc-fleet-${count.index}"
  description = "fleet ${count.index}"
}

resource "lacework_agent_access_token" "lonely" {
  name        = "lc-lonely"
  description = "the only token of its kind"
}

resource "lacework_agent_access_token" "replaced" {
  name        = "lc-rotated"
  description = "replaced on request"
}

resource "lacework_agent_access_token" "other_account" {
  provider    = lacework.second
  name        = "lc-other"
  description = "through the aliased provider"
}

resource "lacework_agent_access_token" "retired" {
  name        = "lc-retired"
  description = "handed over to another team"
}

resource "lacework_agent_access_token" "before_move" {
  name        = "lc-moved"
  description = "same token, new address"
}

module "team" {
  source   = "./modules/team"
  for_each = toset(["red", "blue"])
  team     = each.key
}

module "night" {
  source = "./modules/team"
  team   = "night"
}
"""
)

LIFECYCLE_AFTER = (
    providers_block()
    + """
provider "lacework" {}

provider "lacework" {
  alias = "second"
}

variable "adopted_token" {
  type      = string
  sensitive = true
}

variable "revived_token" {
  type      = string
  sensitive = true
}

resource "lacework_agent_access_token" "renamed" {
  name        = "lc-web-eu"
  description = "web servers, eu"
}

resource "lacework_agent_access_token" "paused" {
  name        = "lc-batch"
  description = "batch hosts"
  enabled     = false
}

resource "lacework_agent_access_token" "resumed" {
  name        = "lc-legacy"
  description = "legacy hosts"
}

resource "lacework_agent_access_token" "fleet" {
  count       = 1
  name        = "lc-fleet-${count.index}"
  description = "fleet ${count.index}"
}

# The last agents of lc-lonely were decommissioned in the spring.
# lacework-tokens: ack LWT101 no agent has used lc-lonely since the spring migration (OPS-42)
resource "lacework_agent_access_token" "lonely" {
  count       = 0
  name        = "lc-lonely"
  description = "the only token of its kind"
}

resource "lacework_agent_access_token" "replaced" {
  name        = "lc-rotated"
  description = "replaced on request"
}

resource "lacework_agent_access_token" "other_account" {
  provider    = lacework.second
  name        = "lc-other"
  description = "through the aliased provider"
  enabled     = false
}

removed {
  from = lacework_agent_access_token.retired

  lifecycle {
    destroy = false
  }
}

moved {
  from = lacework_agent_access_token.before_move
  to   = lacework_agent_access_token.after_move
}

resource "lacework_agent_access_token" "after_move" {
  name        = "lc-moved"
  description = "same token, new address"
}

import {
  to = lacework_agent_access_token.adopted
  id = var.adopted_token
}

resource "lacework_agent_access_token" "adopted" {
  name        = "lc-adopted"
  description = "made by hand"
}

import {
  to = lacework_agent_access_token.revived
  id = var.revived_token
}

resource "lacework_agent_access_token" "revived" {
  name        = "lc-old"
  description = "back in service"
}

resource "terraform_data" "suffix" {
  input = "late"
}

resource "lacework_agent_access_token" "late" {
  name        = "lc-late-${terraform_data.suffix.id}"
  description = "named at apply"
  enabled     = terraform_data.suffix.output != ""
}

resource "lacework_agent_access_token" "bare" {
  name = "LC_bare"
}

module "team" {
  source   = "./modules/team"
  for_each = toset(["red"])
  team     = each.key
}

module "night" {
  source  = "./modules/team"
  team    = "night"
  enabled = false
}
"""
)


def lifecycle(lab: Lab) -> Scenario:
    adopted = lab.client.agent_tokens.create("lc-adopted", description="made by hand")
    # A soft delete with a fixed suffix, so the report is the same on every run.
    old = lab.client.agent_tokens.create("lc-old", description="retired in 2024")
    old = lab.client.agent_tokens.update(old.token, name="lc-old-zz9zz-deleted", enabled=False)
    workdir = lab.workdir(
        "lifecycle",
        {
            "main.tf": LIFECYCLE_BEFORE,
            "modules/team/main.tf": TEAM_MODULE,
            "modules/os/main.tf": OS_MODULE,
        },
    )
    workdir.init()
    workdir.apply()
    workdir.write({"main.tf": LIFECYCLE_AFTER})
    run = workdir.plan(
        "-replace=lacework_agent_access_token.replaced",
        "-var",
        f"adopted_token={adopted.token}",
        "-var",
        f"revived_token={old.token}",
    )
    return Scenario(workdir, run)


EXPOSURE_MAIN = (
    providers_block()
    + """
provider "lacework" {}

resource "lacework_agent_access_token" "app" {
  name        = "ex-app"
  description = "application hosts"
}

resource "lacework_agent_access_token" "set" {
  for_each    = toset(["a", "b"])
  name        = "ex-set-${each.key}"
  description = "set member ${each.key}"
}

data "lacework_agent_access_token" "existing" {
  name = "ex-existing"
}

locals {
  app_token = lacework_agent_access_token.app.token
}

module "consumer" {
  source = "./modules/consumer"
  token  = local.app_token
}

# lacework-tokens: ack LWT208 replacing the marker on rotation is the point (SEC-7)
resource "terraform_data" "per_set" {
  for_each = lacework_agent_access_token.set
  input    = each.value.token
}

# lacework-tokens: ack LWT201
output "app_token" {
  value = nonsensitive(local.app_token)
}

output "kept" {
  value     = lacework_agent_access_token.app.token
  sensitive = true
}

output "existing_plain" {
  value = nonsensitive(data.lacework_agent_access_token.existing.token)
}

output "names" {
  value = { for key, token in lacework_agent_access_token.set : key => token.name }
}
"""
)

CONSUMER_MODULE = """\
variable "token" {
  type      = string
  sensitive = true
}

resource "terraform_data" "marker" {
  triggers_replace = [var.token]
}

output "token_plain" {
  value = nonsensitive(var.token)
}
"""


def exposure(lab: Lab) -> tuple[Scenario, AgentAccessToken]:
    existing = lab.client.agent_tokens.create("ex-existing", description="made elsewhere")
    workdir = lab.workdir(
        "exposure", {"main.tf": EXPOSURE_MAIN, "modules/consumer/main.tf": CONSUMER_MODULE}
    )
    workdir.init()
    workdir.apply()
    return Scenario(workdir, workdir.plan()), existing


SINKS_MAIN = (
    providers_block("local", "null", "kubernetes", "github")
    + """
resource "lacework_agent_access_token" "k8s" {
  name        = "sink-k8s"
  description = "kubernetes daemonset"
}

resource "local_file" "config" {
  filename = "${path.module}/config.json"
  content  = jsonencode({ tokens = { AccessToken = lacework_agent_access_token.k8s.token } })
}

resource "local_sensitive_file" "config" {
  filename = "${path.module}/config-sensitive.json"
  content  = jsonencode({ tokens = { AccessToken = lacework_agent_access_token.k8s.token } })
}

resource "null_resource" "install" {
  triggers = {
    token = lacework_agent_access_token.k8s.token
  }
}

resource "kubernetes_config_map" "agent" {
  metadata {
    name      = "lacework-agent"
    namespace = "lacework"
    labels = {
      token = lacework_agent_access_token.k8s.token
    }
  }

  data = {
    "config.json" = jsonencode({ tokens = { AccessToken = lacework_agent_access_token.k8s.token } })
  }
}

resource "kubernetes_secret" "agent" {
  metadata {
    name      = "lacework-agent"
    namespace = "lacework"
  }

  data = {
    token = lacework_agent_access_token.k8s.token
  }
}

resource "github_actions_variable" "token" {
  repository    = "infrastructure"
  variable_name = "LW_AGENT_TOKEN"
  value         = nonsensitive(lacework_agent_access_token.k8s.token)
}

resource "github_actions_secret" "token" {
  repository      = "infrastructure"
  secret_name     = "LW_AGENT_TOKEN"
  plaintext_value = lacework_agent_access_token.k8s.token
}
"""
)


def sinks(lab: Lab) -> Scenario:
    workdir = lab.workdir("sinks", {"main.tf": SINKS_MAIN})
    workdir.init()
    return Scenario(workdir, workdir.plan())


AWS_MAIN = (
    providers_block("aws")
    + AWS_PROVIDER
    + """
resource "lacework_agent_access_token" "ec2" {
  name        = "aws-ec2"
  description = "ec2 fleet"
}

resource "aws_ssm_parameter" "plain" {
  name  = "/lacework/agent-token-plain"
  type  = "String"
  value = lacework_agent_access_token.ec2.token
}

resource "aws_ssm_parameter" "secure" {
  name  = "/lacework/agent-token"
  type  = "SecureString"
  value = lacework_agent_access_token.ec2.token

  tags = {
    token = lacework_agent_access_token.ec2.token
    name  = lacework_agent_access_token.ec2.name
  }
}

resource "aws_instance" "agent" {
  ami           = "ami-12345678"
  instance_type = "t3.micro"
  user_data     = <<-EOT
    #!/bin/sh
    curl -sSL https://packages.lacework.net/install.sh |
      sh -s -- ${lacework_agent_access_token.ec2.token}
  EOT
}

resource "aws_launch_template" "agents" {
  name_prefix = "lacework-agents"
  description = nonsensitive("token ${lacework_agent_access_token.ec2.token}")
  user_data   = base64encode("#!/bin/sh\\ninstall.sh ${lacework_agent_access_token.ec2.token}\\n")
}
"""
)


def aws(lab: Lab) -> Scenario:
    workdir = lab.workdir("aws", {"main.tf": AWS_MAIN})
    workdir.init()
    # The token exists before the plan (so its value is in the plan); AWS is only planned.
    workdir.apply("-target=lacework_agent_access_token.ec2")
    return Scenario(workdir, workdir.plan())

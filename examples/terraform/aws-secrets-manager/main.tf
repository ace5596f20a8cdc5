provider "lacework" {}

# Region, credentials and endpoints come from the environment or a profile (AWS_REGION,
# AWS_PROFILE, ...), as for any AWS configuration.
provider "aws" {}

locals {
  # The current generation and, once there is one, the previous: agents move from the previous
  # token to the current one while both are enabled.
  generations = var.generation > 1 ? [var.generation - 1, var.generation] : [var.generation]
  current     = "v${var.generation}"
}

module "tokens" {
  source = "../../../terraform/modules/agent-access-tokens"

  name_prefix = "${var.name}-"
  tokens = {
    for generation in local.generations : "v${generation}" => {
      description = generation == var.generation ? "current ${var.name} token" : "previous ${var.name} token, retiring"
      enabled     = generation == var.generation || var.previous_enabled
    }
  }
  agent = var.agent
}

# Two secrets: the token itself, and the agent config.json that carries it (ready for a
# Kubernetes Secret through an external-secrets operator, or for cloud-init to fetch).
resource "aws_secretsmanager_secret" "token" {
  name                    = "${var.secret_prefix}/token"
  description             = "The current Lacework agent access token of the ${var.name} agents."
  kms_key_id              = var.kms_key_id
  recovery_window_in_days = var.recovery_window_in_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "token" {
  secret_id     = aws_secretsmanager_secret.token.id
  secret_string = module.tokens.tokens[local.current]

  # A new generation's value is stored, and becomes AWSCURRENT, before the old version is let
  # go (it keeps AWSPREVIOUS): a reader always finds a token, and it is always an enabled one.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_secretsmanager_secret" "config" {
  name                    = "${var.secret_prefix}/config.json"
  description             = "The Lacework agent config.json of the ${var.name} agents, with the current token."
  kms_key_id              = var.kms_key_id
  recovery_window_in_days = var.recovery_window_in_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "config" {
  secret_id     = aws_secretsmanager_secret.config.id
  secret_string = module.tokens.agent_configs[local.current]

  lifecycle {
    create_before_destroy = true
  }
}

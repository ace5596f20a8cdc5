terraform {
  required_version = ">= 1.5"

  required_providers {
    lacework = {
      source = "lacework/lacework"
    }
  }
}

provider "lacework" {}

# One module instance per team; each creates a token per environment, plus a Windows token for
# production.
module "team_tokens" {
  source   = "../../../terraform/modules/agent-access-tokens"
  for_each = var.teams

  name_prefix = "${each.key}-"
  tokens = merge(
    {
      for environment in var.environments : environment => {
        description = "${each.key} agents in ${environment}"
      }
    },
    {
      "prod-windows" = {
        description = "${each.key} Windows agents in prod"
        os          = "windows"
      }
    },
  )
}

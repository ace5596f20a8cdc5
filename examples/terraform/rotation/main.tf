terraform {
  required_version = ">= 1.5"

  required_providers {
    lacework = {
      source = "lacework/lacework"
    }
  }
}

provider "lacework" {}

locals {
  # The current generation and, once there is one, the previous: agents move from the previous
  # token to the current one while both are enabled.
  generations = var.generation > 1 ? [var.generation - 1, var.generation] : [var.generation]
}

resource "lacework_agent_access_token" "generation" {
  for_each = { for generation in local.generations : tostring(generation) => generation }

  name        = "${var.name}-v${each.value}"
  description = each.value == var.generation ? "current ${var.name} token" : "previous ${var.name} token, retiring"
  enabled     = each.value == var.generation || var.previous_enabled
}

output "current_name" {
  value = lacework_agent_access_token.generation[tostring(var.generation)].name
}

output "current_token" {
  value     = lacework_agent_access_token.generation[tostring(var.generation)].token
  sensitive = true
}

terraform {
  required_version = ">= 1.5"

  required_providers {
    lacework = {
      source = "lacework/lacework"
    }
  }
}

provider "lacework" {}

# An agent access token is imported by its value, not by its name.
import {
  to = lacework_agent_access_token.existing
  id = var.existing_token
}

# The token as it is: every argument from a variable, so the plan imports it unchanged.
resource "lacework_agent_access_token" "existing" {
  name        = var.name
  description = var.description
  os          = var.os
  enabled     = var.enabled
}

output "token_name" {
  value = lacework_agent_access_token.existing.name
}

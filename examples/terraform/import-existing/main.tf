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

resource "lacework_agent_access_token" "existing" {
  name        = var.name
  description = var.description
}

output "token_name" {
  value = lacework_agent_access_token.existing.name
}

terraform {
  required_providers {
    lacework = {
      source = "lacework/lacework"
    }
  }
}

provider "lacework" {}

data "lacework_agent_access_token" "existing" {
  name = var.token_name
}

# E.g. hand the token to an agent deployment managed in the same configuration.
resource "terraform_data" "agent_config" {
  input = {
    token_name = data.lacework_agent_access_token.existing.name
    token_sha  = sha256(data.lacework_agent_access_token.existing.token)
  }
}

output "token" {
  value     = data.lacework_agent_access_token.existing.token
  sensitive = true
}

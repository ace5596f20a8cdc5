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

# A new API access token for the provider's API key, valid for an hour and minted on every read,
# for a tool this configuration runs. Kept out of resources and outputs: each plan reads a new one.
data "lacework_api_token" "current" {}

output "token" {
  value     = data.lacework_agent_access_token.existing.token
  sensitive = true
}

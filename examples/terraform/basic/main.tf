terraform {
  required_providers {
    lacework = {
      source = "lacework/lacework"
    }
  }
}

provider "lacework" {}

resource "lacework_agent_access_token" "k8s" {
  name        = "prod"
  description = "k8s deployment for production env"
}

output "token_name" {
  value = lacework_agent_access_token.k8s.name
}

output "token" {
  value     = lacework_agent_access_token.k8s.token
  sensitive = true
}

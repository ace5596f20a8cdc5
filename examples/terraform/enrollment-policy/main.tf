# expires_at, max_enrollments and scope are extensions of the lacework-tokens plugin: the
# official lacework/lacework provider does not have them. Use this example with the plugin and
# the lacework-tokens backend only.
terraform {
  required_providers {
    lacework = {
      source = "lacework/lacework"
    }
  }
}

provider "lacework" {}

# A single-use token for one host, refused for new enrollments after its expiry.
resource "lacework_agent_access_token" "bastion" {
  name            = "bastion-once"
  description     = "one-off install of the bastion host"
  expires_at      = var.expires_at
  max_enrollments = 1
}

# A token whose agents join the asset group "payments-web".
resource "lacework_agent_access_token" "payments_web" {
  name  = "payments-web"
  scope = "payments-web"
}

output "bastion_token" {
  value     = lacework_agent_access_token.bastion.token
  sensitive = true
}

output "payments_web_token" {
  value     = lacework_agent_access_token.payments_web.token
  sensitive = true
}

output "tokens" {
  description = "The agent access token of each entry, by key. Sensitive: agents enroll with these."
  value       = { for key, token in lacework_agent_access_token.this : key => token.token }
  sensitive   = true
}

output "names" {
  description = "The token name of each entry, by key."
  value       = { for key, token in lacework_agent_access_token.this : key => token.name }
}

output "enabled" {
  description = "Whether each entry's token is enabled, by key."
  value       = { for key, token in lacework_agent_access_token.this : key => token.enabled }
}

output "agent_configs" {
  description = <<-EOT
    The agent config.json of each entry's token, by key, as a JSON string: the token under
    tokens.AccessToken (as Lacework's install.sh writes it) and the properties of var.agent.
    Sensitive: ready for a Kubernetes Secret, a cloud-init file or a secret store.
  EOT
  value = {
    for key, token in lacework_agent_access_token.this : key => jsonencode(merge(
      { tokens = { AccessToken = token.token } },
      local.agent_settings,
      { for name, tags in { tags = local.agent_tags[key] } : name => tags if length(tags) > 0 },
    ))
  }
  sensitive = true
}

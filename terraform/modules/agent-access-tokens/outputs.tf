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

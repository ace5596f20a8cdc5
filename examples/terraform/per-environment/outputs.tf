output "token_names" {
  description = "Token names by team and environment."
  value       = { for team, tokens in module.team_tokens : team => tokens.names }
}

output "tokens" {
  description = "Token values by team and environment."
  value       = { for team, tokens in module.team_tokens : team => tokens.tokens }
  sensitive   = true
}

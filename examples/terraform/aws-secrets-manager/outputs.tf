output "current_name" {
  description = "The name of the token agents should use."
  value       = module.tokens.names[local.current]
}

output "token_secret_arn" {
  description = "The secret holding the current token (its AWSCURRENT version)."
  value       = aws_secretsmanager_secret.token.arn
}

output "config_secret_arn" {
  description = "The secret holding the agent config.json with the current token."
  value       = aws_secretsmanager_secret.config.arn
}

output "token_version_id" {
  description = "The secret version holding the current token; it changes with each generation."
  value       = aws_secretsmanager_secret_version.token.version_id
}

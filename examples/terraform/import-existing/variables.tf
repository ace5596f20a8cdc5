variable "existing_token" {
  description = "The value of the token to bring under Terraform (e.g. from the Lacework console)."
  type        = string
  sensitive   = true
}

variable "name" {
  description = "The token's name. Another name than its current one renames it on apply."
  type        = string
}

variable "description" {
  description = "The token's description."
  type        = string
  default     = null
}

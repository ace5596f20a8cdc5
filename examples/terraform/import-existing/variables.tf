variable "existing_token" {
  description = "The value of the token to bring under Terraform (e.g. from the Lacework console)."
  type        = string
  sensitive   = true
}

variable "name" {
  description = "The token's current name. Another name renames it on apply."
  type        = string
}

variable "description" {
  description = "The token's current description, exactly; leave it out when the token has none. Another value replaces it on apply."
  type        = string
  default     = null
}

variable "os" {
  description = "The token's operating system, linux or windows. It cannot change."
  type        = string
  default     = "linux"
}

variable "enabled" {
  description = "Whether the token is enabled now. Another value enables or disables it on apply."
  type        = bool
  default     = true
}

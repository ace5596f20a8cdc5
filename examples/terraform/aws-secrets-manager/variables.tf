variable "name" {
  description = "Base name of the tokens; generation N is named \"<name>-vN\"."
  type        = string
  default     = "prod"
}

variable "generation" {
  description = "The token generation agents should use. Raise it by one to start a rotation."
  type        = number
  default     = 1

  validation {
    condition     = var.generation >= 1 && floor(var.generation) == var.generation
    error_message = "generation is a whole number, 1 or more."
  }
}

variable "previous_enabled" {
  description = "Keep the previous generation enabled while agents move to the current one."
  type        = bool
  default     = true
}

variable "secret_prefix" {
  description = "Secrets are named \"<secret_prefix>/token\" and \"<secret_prefix>/config.json\"."
  type        = string
  default     = "lacework/agents/prod"
}

variable "agent" {
  description = "What the stored config.json says besides the token: server_url, proxy_url, autoupgrade, tags."
  type = object({
    server_url  = optional(string)
    proxy_url   = optional(string)
    autoupgrade = optional(bool)
    tags        = optional(map(string), {})
  })
  default = {}
}

variable "kms_key_id" {
  description = "The KMS key that encrypts the secrets; null uses the account's aws/secretsmanager key."
  type        = string
  default     = null
}

variable "recovery_window_in_days" {
  description = "Days a destroyed secret can still be restored (7 to 30), or 0 to delete it at once."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for the secrets."
  type        = map(string)
  default     = {}
}

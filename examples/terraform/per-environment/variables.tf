variable "teams" {
  description = "Teams that get their own tokens."
  type        = set(string)
  default     = ["payments", "search"]
}

variable "environments" {
  description = "Environments each team deploys agents to."
  type        = list(string)
  default     = ["dev", "staging", "prod"]

  validation {
    condition     = length(var.environments) > 0
    error_message = "List at least one environment."
  }
}

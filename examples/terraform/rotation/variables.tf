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

variable "token_name" {
  description = "The name of an existing agent access token."
  type        = string
  default     = "prod"
}

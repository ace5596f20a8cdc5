variable "expires_at" {
  description = "When the bastion token stops enrolling agents (RFC 3339, in the future)."
  type        = string
  default     = "2099-12-31T23:59:59Z"
}

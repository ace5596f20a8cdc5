variable "tokens" {
  description = <<-EOT
    Agent access tokens to manage, one per entry, keyed by a short label such as an
    environment, an OS or a team. A token is named "<name_prefix><key>" unless the entry
    sets name. agent_tags are added to that entry's config.json tags (over agent.tags).
  EOT
  type = map(object({
    name        = optional(string)
    description = optional(string)
    os          = optional(string, "linux")
    enabled     = optional(bool, true)
    agent_tags  = optional(map(string), {})
  }))

  validation {
    condition = alltrue([
      for key, token in var.tokens : contains(["linux", "windows"], token.os)
    ])
    error_message = "Each token's os must be \"linux\" or \"windows\"."
  }

  validation {
    condition = alltrue([
      for key, token in var.tokens :
      token.name == null ? true : (length(token.name) >= 1 && length(token.name) <= 64 && trimspace(token.name) == token.name)
    ])
    error_message = "A token name must be 1 to 64 characters long, without leading or trailing whitespace."
  }
}

variable "name_prefix" {
  description = "Prefix of the names of tokens whose entry sets no name, e.g. \"payments-\"."
  type        = string
  default     = ""

  validation {
    condition     = length(var.name_prefix) <= 48 && trimspace(var.name_prefix) == var.name_prefix
    error_message = "name_prefix must be at most 48 characters long, without leading or trailing whitespace."
  }
}

variable "agent" {
  description = <<-EOT
    What every token's agent config.json (the agent_configs output) says besides the token:
    server_url (serverurl: where agents send data; optional for US accounts, required
    elsewhere, e.g. "https://api.fra.lacework.net"), proxy_url (proxyurl), autoupgrade
    (false writes "disable") and tags. Unset properties are left out: the agent's defaults apply.
  EOT
  type = object({
    server_url  = optional(string)
    proxy_url   = optional(string)
    autoupgrade = optional(bool)
    tags        = optional(map(string), {})
  })
  default = {}

  validation {
    condition     = var.agent.server_url == null ? true : can(regex("^https?://[^\\s/]+", var.agent.server_url))
    error_message = "agent.server_url must be an absolute http or https URL, e.g. \"https://api.lacework.net\"."
  }
}

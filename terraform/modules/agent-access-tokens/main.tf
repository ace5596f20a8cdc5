locals {
  # The name each token gets: the entry's own, or the prefix followed by the key.
  names = {
    for key, token in var.tokens : key => coalesce(token.name, "${var.name_prefix}${key}")
  }
}

resource "lacework_agent_access_token" "this" {
  for_each = var.tokens

  name        = local.names[each.key]
  description = each.value.description
  os          = each.value.os
  enabled     = each.value.enabled
}

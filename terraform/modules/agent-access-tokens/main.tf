locals {
  # The name each token gets: the entry's own, or the prefix followed by the key.
  names = {
    for key, token in var.tokens : key => coalesce(token.name, "${var.name_prefix}${key}")
  }

  # config.json properties other than the token, as Lacework's agent names them. A property
  # that is not set is left out (a for-expression, not a conditional: both branches of a
  # conditional would need one object type).
  agent_settings = {
    for name, value in {
      serverurl   = var.agent.server_url
      proxyurl    = var.agent.proxy_url
      autoupgrade = var.agent.autoupgrade == null ? null : (var.agent.autoupgrade ? "enable" : "disable")
    } : name => value if value != null
  }
  agent_tags = {
    for key, token in var.tokens : key => merge(var.agent.tags, token.agent_tags)
  }
}

resource "lacework_agent_access_token" "this" {
  for_each = var.tokens

  name        = local.names[each.key]
  description = each.value.description
  os          = each.value.os
  enabled     = each.value.enabled
}

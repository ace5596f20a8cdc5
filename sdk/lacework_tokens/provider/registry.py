"""Everything the provider serves, by Terraform type name: the one list to extend.

A new resource or data source is one module under ``resources/`` or ``data_sources/``, its
import here and its class in the tuple below.
"""

from __future__ import annotations

from typing import Final

from lacework_tokens.provider import configure
from lacework_tokens.provider.data_sources.agent_access_token import AgentAccessTokenDataSource
from lacework_tokens.provider.data_sources.api_token import ApiTokenDataSource
from lacework_tokens.provider.framework import Registry
from lacework_tokens.provider.resources.agent_access_token import AgentAccessTokenResource

__all__ = ["REGISTRY"]

REGISTRY: Final = Registry(
    provider_schema=configure.SCHEMA,
    provider_model=configure.ProviderConfig,
    resources=(AgentAccessTokenResource,),
    data_sources=(AgentAccessTokenDataSource, ApiTokenDataSource),
)

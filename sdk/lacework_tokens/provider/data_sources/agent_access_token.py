"""``data "lacework_agent_access_token"``: look up a token by name, as the official provider does
(the first token whose name matches exactly; its value is sensitive)."""

from __future__ import annotations

from functools import partial
from typing import Final

import attrs

from lacework_tokens.limits import alias_problem
from lacework_tokens.provider.diagnostics import ProviderError
from lacework_tokens.provider.framework import STRING, Attribute, DataSource, Schema
from lacework_tokens.provider.resources.agent_access_token import TYPE_NAME

__all__ = ["SCHEMA", "AgentAccessTokenDataSource", "Config", "State"]

SCHEMA: Final = Schema(
    description="Look up an agent access token by name.",
    attributes=(
        Attribute("id", STRING, "The token's name.", computed=True),
        Attribute(
            "name",
            STRING,
            "The name of the token to look up.",
            required=True,
            # A soft-deleted token keeps its longer "<name>-xxxxx-deleted" name.
            validators=(partial(alias_problem, allow_soft_deleted=True),),
        ),
        Attribute("token", STRING, "The agent access token itself.", computed=True, sensitive=True),
    ),
)


@attrs.frozen
class Config:
    name: str


@attrs.frozen
class State:
    id: str
    name: str
    token: str


class AgentAccessTokenDataSource(DataSource[Config, State]):
    type_name = TYPE_NAME
    schema = SCHEMA
    config_model = Config
    state_model = State

    def read(self, config: Config) -> State:
        with self.connection.doing(f"looking up agent access token '{config.name}'"):
            found = self.connection.client.agent_tokens.find(config.name)
        if found is None:
            raise ProviderError(f"Agent access token with name '{config.name}' was not found.")
        return State(id=found.name, name=found.name, token=found.token)

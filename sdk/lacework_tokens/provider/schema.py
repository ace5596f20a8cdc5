"""Schemas of the provider, the resource and the data source, as the official provider has them.

The official provider declares ``os`` and ``enabled`` with SDKv2 defaults; over protocol 6 a
default must be a computed value the provider fills in at plan time, so both are optional *and*
computed here. Everything else matches attribute for attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "DATA_SOURCE",
    "PROVIDER",
    "RESOURCE",
    "TOKEN_TYPE_NAME",
    "Attribute",
    "Block",
]

TOKEN_TYPE_NAME: Final = "lacework_agent_access_token"


@dataclass(frozen=True)
class Attribute:
    name: str
    type: Literal["string", "bool"]
    description: str
    required: bool = False
    optional: bool = False
    computed: bool = False
    sensitive: bool = False


@dataclass(frozen=True)
class Block:
    attributes: tuple[Attribute, ...]
    description: str = ""
    version: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(attribute.name for attribute in self.attributes)

    def attribute(self, name: str) -> Attribute:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        raise KeyError(name)


PROVIDER: Final = Block(
    description="Lacework agent access tokens, served by lacework-tokens.",
    attributes=(
        Attribute(
            "profile",
            "string",
            "Lacework profile name to use, profiles are configured at $HOME/.lacework.toml "
            "via the Lacework CLI",
            optional=True,
        ),
        Attribute(
            "account",
            "string",
            "Lacework account subdomain of URL (i.e. <ACCOUNT>.lacework.net)",
            optional=True,
        ),
        Attribute(
            "subaccount",
            "string",
            "The sub-account name inside your organization (org admins only)",
            optional=True,
        ),
        Attribute("api_key", "string", "Lacework API access key", optional=True),
        Attribute(
            "api_secret", "string", "Lacework API access secret", optional=True, sensitive=True
        ),
        Attribute(
            "api_token",
            "string",
            "Lacework API access token (instead of api_key and api_secret)",
            optional=True,
            sensitive=True,
        ),
        Attribute(
            "organization",
            "bool",
            "Set it to true to access organization level data sets (org admins only)",
            optional=True,
        ),
    ),
)

RESOURCE: Final = Block(
    description="A Lacework agent access token. Destroying it disables and renames it: "
    "agent access tokens cannot be deleted.",
    attributes=(
        Attribute("id", "string", "The token's name (its alias).", computed=True),
        Attribute("name", "string", "The token's name, unique in the account.", required=True),
        Attribute("description", "string", "A description of the token.", optional=True),
        Attribute(
            "os",
            "string",
            'The operating system of the agents using the token. Defaults to "linux".',
            optional=True,
            computed=True,
        ),
        Attribute(
            "enabled",
            "bool",
            "Whether agents may use the token. Defaults to true.",
            optional=True,
            computed=True,
        ),
        Attribute("last_updated_time", "string", "When the token last changed.", computed=True),
        Attribute("created_time", "string", "When the token was created.", computed=True),
        Attribute("version", "string", "The token's version.", computed=True),
        Attribute(
            "token", "string", "The agent access token itself.", computed=True, sensitive=True
        ),
    ),
)

DATA_SOURCE: Final = Block(
    description="Look up an agent access token by name.",
    attributes=(
        Attribute("id", "string", "The token's name.", computed=True),
        Attribute("name", "string", "The name of the token to look up.", required=True),
        Attribute(
            "token", "string", "The agent access token itself.", computed=True, sensitive=True
        ),
    ),
)

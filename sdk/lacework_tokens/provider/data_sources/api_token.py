"""``data "lacework_api_token"``: a fresh API access (bearer) token, as the official provider
mints one: ``POST /api/v2/access/tokens`` with the provider's API key, valid for an hour, on every
read. Its id is the time of the read, so each plan reads it anew."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import attrs

from lacework_tokens.limits import EXPIRY_DEFAULT_SECONDS
from lacework_tokens.provider.diagnostics import ProviderError
from lacework_tokens.provider.framework import STRING, Attribute, DataSource, Schema

__all__ = ["SCHEMA", "TYPE_NAME", "ApiTokenDataSource", "Config", "State"]

TYPE_NAME: Final = "lacework_api_token"

SCHEMA: Final = Schema(
    description="A new Lacework API access token for the provider's API key, valid for an hour.",
    attributes=(
        Attribute("id", STRING, "When the token was minted.", computed=True),
        Attribute("token", STRING, "The API access token.", computed=True, sensitive=True),
    ),
)


@attrs.frozen
class Config:
    """The data source has no arguments."""


@attrs.frozen
class State:
    id: str
    token: str


def _read_time(now: datetime) -> str:
    # The official provider's id is Go's time.Time.String() of the read, in UTC.
    return now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f +0000 UTC")


class ApiTokenDataSource(DataSource[Config, State]):
    type_name = TYPE_NAME
    schema = SCHEMA
    config_model = Config
    state_model = State

    def read(self, config: Config) -> State:
        connection = self.connection
        if connection.settings.api_key is None:
            raise ProviderError(
                "lacework_api_token needs an API key",
                "It mints a new access token from the provider's API key and secret; this "
                "provider is configured with an api_token only. Set api_key and api_secret "
                "(or LW_API_KEY and LW_API_SECRET).",
            )
        with connection.doing("minting an API access token"):
            issued = connection.unauthenticated_client.new_access_token(EXPIRY_DEFAULT_SECONDS)
        return State(id=_read_time(datetime.now(UTC)), token=issued.token)

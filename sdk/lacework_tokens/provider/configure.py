"""``provider "lacework" {}``: the provider's schema, its configuration, and the connection every
resource and data source works through.

Arguments win over ``LW_*`` variables, which win over the profile in ``~/.lacework.toml``, as in
the official provider. The base URL comes from ``LW_API_SERVER_URL`` alone (else
``https://<account>.lacework.net``), so configurations need no argument the official provider
lacks.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Final

import attrs

from lacework_tokens import __version__
from lacework_tokens.provider.diagnostics import sdk_errors
from lacework_tokens.provider.framework import BOOL, STRING, Attribute, Schema
from lacework_tokens.provider.values import Object, is_known

if TYPE_CHECKING:
    from lacework_tokens.client import Client

__all__ = ["SCHEMA", "Connection", "ProviderConfig", "connect"]

SCHEMA: Final = Schema(
    description="Lacework agent access tokens, served by lacework-tokens.",
    attributes=(
        Attribute(
            "profile",
            STRING,
            "Lacework profile name to use, profiles are configured at $HOME/.lacework.toml "
            "via the Lacework CLI",
            optional=True,
        ),
        Attribute(
            "account",
            STRING,
            "Lacework account subdomain of URL (i.e. <ACCOUNT>.lacework.net)",
            optional=True,
        ),
        Attribute(
            "subaccount",
            STRING,
            "The sub-account name inside your organization (org admins only)",
            optional=True,
        ),
        Attribute("api_key", STRING, "Lacework API access key", optional=True),
        Attribute(
            "api_secret", STRING, "Lacework API access secret", optional=True, sensitive=True
        ),
        Attribute(
            "api_token",
            STRING,
            "Lacework API access token (instead of api_key and api_secret)",
            optional=True,
            sensitive=True,
        ),
        Attribute(
            "organization",
            BOOL,
            "Set it to true to access organization level data sets (org admins only)",
            optional=True,
        ),
    ),
)


@attrs.frozen
class ProviderConfig:
    """The provider block; None where it gives nothing (the environment or profile decides)."""

    profile: str | None
    account: str | None
    subaccount: str | None
    api_key: str | None
    api_secret: str | None
    api_token: str | None
    organization: bool | None

    @classmethod
    def from_object(cls, config: Object) -> ProviderConfig:
        # Unknown and empty values count as not given, as in the official provider.
        return cls(**{name: _given(config, name) for name in attrs.fields_dict(cls)})


def _given(config: Object, name: str) -> Any:
    value = config.get(name)
    if value is None or not is_known(value) or value == "":
        return None
    return value


class Connection:
    """The configured SDK client, and the one place its errors become diagnostics."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.server = client.base_url

    def doing(self, what: str) -> AbstractContextManager[None]:
        """A block whose SDK errors become a diagnostic about ``what`` ("creating 'prod'")."""
        return sdk_errors(server=self.server, doing=what)


def connect(config: ProviderConfig, terraform_version: str) -> Connection:
    """The connection for this configuration; raises ``ProviderError`` when there is none.

    The API key is exchanged for a bearer token right away, so wrong credentials or an
    unreachable server are reported once, against the provider, rather than once per resource.
    """
    from lacework_tokens.client import Client

    with sdk_errors(server="", doing=""):
        client = Client.from_env(
            config.profile,
            organization=config.organization,
            account=config.account,
            subaccount=config.subaccount,
            api_key=config.api_key,
            api_secret=config.api_secret,
            api_token=config.api_token,
        )
    client.session.headers["User-Agent"] = (
        f"Terraform/{terraform_version or 'unknown'} lacework-tokens/{__version__}"
    )
    # The SDK fetches bearer tokens lazily; fetch the first one now (a no-op with api_token).
    with sdk_errors(server=client.base_url, doing="exchanging the API key for an access token"):
        client.authenticate()
    return Connection(client)

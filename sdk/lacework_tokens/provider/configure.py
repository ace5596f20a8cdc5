"""``provider "lacework" {}``: the SDK client for the configured account.

Arguments win over ``LW_*`` variables, which win over the profile in ``~/.lacework.toml``, as in
the official provider. The base URL comes from ``LW_API_SERVER_URL`` alone (else
``https://<account>.lacework.net``), so configurations need no argument the official provider
lacks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lacework_tokens import __version__, errors
from lacework_tokens.provider.diagnostics import Diagnostics, from_sdk_error
from lacework_tokens.provider.values import Object, is_known

if TYPE_CHECKING:
    from lacework_tokens.provider.tokens import Tokens

__all__ = ["connect"]

_ARGUMENTS = ("account", "subaccount", "api_key", "api_secret", "api_token")


def _given(config: Object, name: str) -> Any:
    value = config.get(name)
    if value is None or not is_known(value) or value == "":
        return None
    return value


def connect(config: Object, terraform_version: str, diagnostics: Diagnostics) -> Tokens | None:
    """The token operations for this configuration, or None with an error in ``diagnostics``.

    The API key is exchanged for a bearer token right away, so wrong credentials or an
    unreachable server are reported once, against the provider, rather than once per resource.
    """
    from lacework_tokens.client import Client
    from lacework_tokens.provider.tokens import Tokens

    try:
        client = Client.from_env(
            _given(config, "profile"),
            organization=_given(config, "organization"),
            **{name: _given(config, name) for name in _ARGUMENTS},
        )
    except errors.LaceworkError as error:
        diagnostics.items.append(from_sdk_error(error, server="", doing="").diagnostic)
        return None
    client.session.headers["User-Agent"] = (
        f"Terraform/{terraform_version or 'unknown'} lacework-tokens/{__version__}"
    )
    try:
        # The SDK fetches bearer tokens lazily; fetch the first one now (a no-op with api_token).
        client.authenticate()
    except errors.LaceworkError as error:
        diagnostics.items.append(
            from_sdk_error(
                error, server=client.base_url, doing="exchanging the API key for an access token"
            ).diagnostic
        )
        return None
    return Tokens(client.agent_tokens, client.base_url)

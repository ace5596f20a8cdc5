"""``provider "lacework" {}``: the provider's schema, its configuration, and the connection every
resource and data source works through.

Arguments win over ``LW_*`` variables, which win over the profile in ``~/.lacework.toml``, as in
the official provider. The base URL comes from ``LW_API_SERVER_URL`` alone (else
``https://<account>.lacework.net``), so configurations need no argument the official provider
lacks.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Final

import attrs

from lacework_tokens import __version__
from lacework_tokens.provider.diagnostics import ProviderError, sdk_errors
from lacework_tokens.provider.framework import BOOL, STRING, Attribute, Schema
from lacework_tokens.provider.values import Object, is_known

if TYPE_CHECKING:
    from lacework_tokens.client import Client
    from lacework_tokens.config import ClientSettings

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
    """The account a configured provider works in, and the one place SDK errors become
    diagnostics.

    Configuring the provider only resolves its settings: the SDK client is made, and the API key
    exchanged for a bearer token, at the first call that needs the API (a refresh, an apply, a
    data source). A plan that needs no call (``-refresh=false``, a create-only plan) works
    without reaching the server, as with the official provider, and a process that makes no
    call never loads the SDK's HTTP stack. When that exchange fails, every call of this
    configuration reports the same diagnostic without trying again.
    """

    def __init__(self, settings: ClientSettings, user_agent: str) -> None:
        self.settings = settings
        self.server = settings.base_url
        self._user_agent = user_agent
        self._client: Client | None = None
        self._login_failure: ProviderError | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Client:
        """The SDK client, holding a bearer token and with its account checked (at the first
        use)."""
        with self._lock:
            if self._login_failure is not None:
                raise self._login_failure
            client = self._unauthenticated()
            try:
                with sdk_errors(
                    server=self.server, doing="exchanging the API key for an access token"
                ):
                    client.authenticate()  # at most one exchange: then a no-op until expiry
            except ProviderError as failure:
                self._login_failure = failure
                raise
            return client

    @property
    def unauthenticated_client(self) -> Client:
        """The SDK client without a bearer token, for calls that authenticate themselves."""
        with self._lock:
            return self._unauthenticated()

    def _unauthenticated(self) -> Client:
        if self._client is None:
            from lacework_tokens.client import Client

            # check_account: against a server other than the account's own, the first call also
            # asks whose key this is, and a key of another account fails naming both.
            self._client = Client(settings=self.settings, check_account=True)
            self._client.session.headers["User-Agent"] = self._user_agent
        return self._client

    @property
    def usable(self) -> bool:
        """False once the exchange of the API key has failed."""
        return self._login_failure is None

    def doing(self, what: str) -> AbstractContextManager[None]:
        """A block whose SDK errors become a diagnostic about ``what`` ("creating 'prod'")."""
        return sdk_errors(server=self.server, doing=what)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def connect(config: ProviderConfig, terraform_version: str) -> Connection:
    """The connection for this configuration; raises ``ProviderError`` when a setting is missing.

    Nothing is sent to the server here (see ``Connection``).
    """
    # Here, not at the top: processes that never configure (schema, validate) skip tomllib.
    from lacework_tokens.config import resolve_settings

    with sdk_errors(server="", doing=""):
        settings = resolve_settings(
            config.profile,
            organization=config.organization,
            account=config.account,
            subaccount=config.subaccount,
            api_key=config.api_key,
            api_secret=config.api_secret,
            api_token=config.api_token,
        )
    user_agent = f"Terraform/{terraform_version or 'unknown'} lacework-tokens/{__version__}"
    return Connection(settings, user_agent)

"""Where a client finds its account, credentials and server.

The same habits as the Lacework CLI, the Terraform provider and ``laceworksdk``: for each setting,
an explicit value wins over its ``LW_*`` environment variable, which wins over the profile in
``~/.lacework.toml`` (``[default]`` unless ``LW_PROFILE`` or ``profile`` names another).
``LW_API_SERVER_URL`` points the client at another server (a local backend, a proxy).

Settings are resolved once, into one ``ClientSettings``; the client takes that object and reads
nothing else from the environment about its account, credentials or server. A missing setting is
a ``ConfigurationError`` naming the variable to set (and, for ``resolve_settings``, the profile
file to edit); a secret never appears in a message or a repr.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from attrs import field, frozen

from lacework_tokens.errors import ConfigurationError

__all__ = [
    "PROFILE_FILE_NAME",
    "SERVER_URL_VARIABLE",
    "ClientSettings",
    "checked_server_url",
    "default_base_url",
    "profile_path",
    "resolve_settings",
    "server_url",
]

PROFILE_FILE_NAME: Final = ".lacework.toml"
DEFAULT_PROFILE: Final = "default"
DEFAULT_DOMAIN: Final = "lacework.net"
SERVER_URL_VARIABLE: Final = "LW_API_SERVER_URL"

# setting -> environment variable
ENVIRONMENT: Final = {
    "account": "LW_ACCOUNT",
    "subaccount": "LW_SUBACCOUNT",
    "api_key": "LW_API_KEY",
    "api_secret": "LW_API_SECRET",
    "api_token": "LW_API_TOKEN",
    "organization": "LW_ORGANIZATION",
    "base_url": SERVER_URL_VARIABLE,
}
PROFILE_KEYS: Final = ("account", "subaccount", "api_key", "api_secret", "api_token")
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"", "0", "false", "no", "off"})


@frozen
class ClientSettings:
    """Everything a ``Client`` needs, resolved once. ``api_token`` (a static bearer) replaces key
    and secret.

    Build one with ``resolve_settings`` (explicit values, ``LW_*`` variables, profiles) or
    ``ClientSettings.given`` (the values of ``Client(...)``), never by hand: both refuse settings
    a client cannot work with.
    """

    account: str
    base_url: str
    api_key: str | None = None
    api_secret: str | None = field(default=None, repr=False)
    api_token: str | None = field(default=None, repr=False)
    subaccount: str | None = None
    organization: bool = False
    profile: str | None = None

    @classmethod
    def given(
        cls,
        account: str | None,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        api_token: str | None = None,
        subaccount: str | None = None,
        organization: bool = False,
        base_url: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> ClientSettings:
        """The values as given; only the server URL falls back to ``LW_API_SERVER_URL``.

        An empty string counts as not given.
        """
        missing = _missing_setting(account, api_key, api_secret, api_token)
        if missing is not None:
            alternative = " (or api_token)" if missing != "account" else ""
            raise ConfigurationError(
                f"no {missing} configured: pass {missing}{alternative} or set "
                f"{ENVIRONMENT[missing]}"
            )
        assert account
        return cls(
            account=account,
            base_url=server_url(account, base_url, environ),
            api_key=api_key or None,
            api_secret=api_secret or None,
            api_token=api_token or None,
            subaccount=subaccount or None,
            organization=organization,
        )


def _missing_setting(
    account: str | None, api_key: str | None, api_secret: str | None, api_token: str | None
) -> str | None:
    """The first setting no client can do without that is missing, or ``None``."""
    if not account:
        return "account"
    if api_token:
        return None
    if not api_key:
        return "api_key"
    if not api_secret:
        return "api_secret"
    return None


def server_url(
    account: str,
    base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    setting: str = "base_url",
) -> str:
    """``base_url``, else ``LW_API_SERVER_URL``, else the account's own server; no trailing /.

    A given URL must be ``http://`` or ``https://`` with a host; otherwise the
    ``ConfigurationError`` names where it came from (``setting`` for ``base_url``, else the
    variable) and what it should look like.
    """
    environ = os.environ if environ is None else environ
    if base_url:
        return checked_server_url(base_url, setting)
    from_environment = environ.get(SERVER_URL_VARIABLE)
    if from_environment:
        return checked_server_url(from_environment, SERVER_URL_VARIABLE)
    return default_base_url(account)


def checked_server_url(url: str, setting: str) -> str:
    """``url`` without a trailing /, or a ``ConfigurationError`` naming ``setting``."""
    text = url.strip()
    shown = text if len(text) <= 100 else text[:100] + "…"
    if "://" not in text:
        raise ConfigurationError(
            f"{setting} is '{shown}', which has no scheme: write the server's URL in full, "
            f"like http://{shown.lstrip('/') or '127.0.0.1:8080'}"
        )
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigurationError(
            f"{setting} is '{shown}': the server's URL must start with http:// or https://"
        )
    try:
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError:
        host = None
    if not host:
        raise ConfigurationError(
            f"{setting} is '{shown}', which names no valid host and port: write it like "
            "http://127.0.0.1:8080"
        )
    return text.rstrip("/")


def default_base_url(account: str) -> str:
    """``https://{account}.lacework.net``; an account that is already a host is used as given.

    An account holding a dot or a port (``acme.lacework.net``, ``127.0.0.1:8443``) names the host
    itself, as the Go SDK treats it; one with a scheme is taken as a whole URL.
    """
    # "127.0.0.1:8443#" is how the Go SDK is pointed at a local server (the fragment swallows
    # the ".lacework.net" it appends); honour the same setting here.
    account = account.strip().split("#", 1)[0]
    if "://" in account:
        return account.rstrip("/")
    if "." in account or ":" in account:
        return f"https://{account}".rstrip("/")
    return f"https://{account}.{DEFAULT_DOMAIN}"


def profile_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$HOME/.lacework.toml`` (``HOME`` from ``environ``, so tests can use a temporary home)."""
    environ = os.environ if environ is None else environ
    home = environ.get("HOME") or str(Path.home())
    return Path(home) / PROFILE_FILE_NAME


def _load_profiles(path: Path) -> dict[str, Any] | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the profile file {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        # The decoder reports a line and column, never the offending value.
        reason = str(exc) if isinstance(exc, tomllib.TOMLDecodeError) else "not UTF-8"
        raise ConfigurationError(f"the profile file {path} is not valid TOML: {reason}") from None


def _profile_values(path: Path, name: str | None) -> tuple[dict[str, str | bool], str | None]:
    """The settings of the profile ``name`` (``None``: ``[default]`` if there is one)."""
    profiles = _load_profiles(path)
    wanted = name or DEFAULT_PROFILE
    if profiles is None or wanted not in profiles:
        if name is None:
            return {}, None
        where = "does not exist" if profiles is None else "has no such profile"
        raise ConfigurationError(f"profile [{name}] not found: {path} {where}")
    section = profiles[wanted]
    if not isinstance(section, dict):
        raise ConfigurationError(f"profile [{wanted}] in {path} must be a table of settings")
    values: dict[str, str | bool] = {}
    for key in PROFILE_KEYS:
        value = section.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ConfigurationError(f"{key} in profile [{wanted}] of {path} must be a string")
        if value:
            values[key] = value
    organization = section.get("organization")
    if organization is not None:
        if not isinstance(organization, bool):
            raise ConfigurationError(
                f"organization in profile [{wanted}] of {path} must be true or false"
            )
        values["organization"] = organization
    return values, wanted


def _flag(value: str, variable: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"{variable} must be true or false")


def resolve_settings(
    profile: str | None = None,
    *,
    account: str | None = None,
    subaccount: str | None = None,
    api_key: str | None = None,
    api_secret: str | None = None,
    api_token: str | None = None,
    organization: bool | None = None,
    base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ClientSettings:
    """Merge explicit values (``None``: not given) > ``LW_*`` variables > the profile file."""
    environ = os.environ if environ is None else environ
    path = profile_path(environ)
    profile_name = profile or environ.get("LW_PROFILE") or None
    from_profile, used_profile = _profile_values(path, profile_name)

    explicit: dict[str, str | bool | None] = {
        "account": account,
        "subaccount": subaccount,
        "api_key": api_key,
        "api_secret": api_secret,
        "api_token": api_token,
        "organization": organization,
        "base_url": base_url,
    }
    merged: dict[str, str | bool] = {}
    explicit_base_url = False
    for setting, variable in ENVIRONMENT.items():
        given = explicit[setting]
        if given is not None and given != "":
            merged[setting] = given
            explicit_base_url = explicit_base_url or setting == "base_url"
            continue
        from_env = environ.get(variable)
        if from_env:
            merged[setting] = _flag(from_env, variable) if setting == "organization" else from_env
            continue
        if setting in from_profile:
            merged[setting] = from_profile[setting]

    def text(setting: str) -> str | None:
        value = merged.get(setting)
        return value if isinstance(value, str) else None

    account_name, key, secret, token = (
        text("account"),
        text("api_key"),
        text("api_secret"),
        text("api_token"),
    )
    missing = _missing_setting(account_name, key, secret, token)
    if missing is not None:
        profile_label = f"[{used_profile or profile_name or DEFAULT_PROFILE}]"
        raise ConfigurationError(
            f"no {missing} configured: set {ENVIRONMENT[missing]} or add `{missing}` "
            f"to profile {profile_label} in {path}"
        )
    assert account_name
    return ClientSettings(
        account=account_name,
        base_url=server_url(
            account_name,
            text("base_url") if explicit_base_url else None,
            environ,
        ),
        api_key=key,
        api_secret=secret,
        api_token=token,
        subaccount=text("subaccount"),
        organization=bool(merged.get("organization", False)),
        profile=used_profile,
    )

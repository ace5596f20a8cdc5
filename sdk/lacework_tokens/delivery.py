"""Delivering a token to agents: the agent's ``config.json``, the install line and a Kubernetes
Secret.

A Lacework agent reads its token from ``config.json`` (``/var/lib/lacework/config/config.json``
on Linux, ``C:\\ProgramData\\Lacework\\config.json`` on Windows)::

    {"tokens": {"AccessToken": "<token>"}, "serverurl": "https://…", "tags": {"env": "prod"}}

Lacework's ``install.sh`` and its Terraform modules write the key as ``AccessToken``; its
documentation spells it ``accesstoken``. This module writes ``AccessToken`` and reads either (the
sources are in ``docs/wire-contract.md``, "Agent configuration and install line").

```python
from lacework_tokens import agent_config, install_command

config = agent_config(token, server_url="https://api.fra.lacework.net", tags={"env": "prod"})
config.write("/var/lib/lacework/config/config.json")    # mode 0600, other properties kept
install_command(token)        # curl -sSL https://packages.lacework.net/install.sh | sudo sh -s -- …
kubernetes_secret(config)     # a Secret manifest (YAML) for Lacework's agent DaemonSet
```
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any, Final
from urllib.parse import urlsplit

from attrs import field, frozen

from lacework_tokens import limits
from lacework_tokens.files import write_private
from lacework_tokens.wire import AgentAccessToken, mask

__all__ = [
    "ACCESS_TOKEN_KEY",
    "CONFIG_PATHS",
    "INSTALL_SCRIPT_URL",
    "KUBERNETES_SECRET_NAME",
    "KUBERNETES_TOKEN_KEY",
    "AgentConfig",
    "agent_config",
    "install_command",
    "install_script_server_url_problem",
    "install_script_token_problem",
    "kubernetes_secret",
]

# What install.sh and Lacework's Terraform modules write; the docs' "accesstoken" is read too.
ACCESS_TOKEN_KEY: Final = "AccessToken"
CONFIG_PATHS: Final[Mapping[str, PurePath]] = {
    "linux": PurePosixPath("/var/lib/lacework/config/config.json"),
    "windows": PureWindowsPath("C:/ProgramData/Lacework/config.json"),
}
INSTALL_SCRIPT_URL: Final = "https://packages.lacework.net/install.sh"
# install.sh keeps its first argument only when it matches this (grep -E, POSIX classes in the
# C locale); otherwise it asks for a token on the terminal, which a piped install cannot answer.
_INSTALL_SCRIPT_TOKEN: Final = re.compile(r"[A-Za-z0-9][-A-Za-z0-9]{0,55}[A-Za-z0-9]")
# install.sh's -U check, as it is written: `grep -E "^https://.*\.lacework.net$"`.
_INSTALL_SCRIPT_SERVER_URL: Final = re.compile(r"https://.*\.lacework.net")

_AUTOUPGRADE: Final = {True: "enable", False: "disable"}

# The Secret and key Lacework's agent DaemonSet reads its token from (the LaceworkAccessToken
# environment variable in its Helm chart and in lacework/terraform-kubernetes-agent).
KUBERNETES_SECRET_NAME: Final = "lacework-agent-access-token"
KUBERNETES_TOKEN_KEY: Final = "agent-access-token"
KUBERNETES_CONFIG_KEY: Final = "config.json"
# Kubernetes object names: a DNS subdomain (RFC 1123); namespaces: a DNS label.
_KUBERNETES_NAME: Final = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_KUBERNETES_NAMESPACE: Final = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def _hidden(_: object) -> str:
    return "'****'"


@frozen
class AgentConfig:
    """The properties of an agent's ``config.json`` that concern its token and where it sends
    data. ``None`` (and empty ``tags``) leave a property out: the agent's default applies."""

    token: str = field(repr=_hidden)
    server_url: str | None = None
    proxy_url: str | None = None
    autoupgrade: bool | None = None
    tags: Mapping[str, str] = field(factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON object, with only the properties that are set."""
        data: dict[str, Any] = {"tokens": {ACCESS_TOKEN_KEY: self.token}}
        if self.server_url is not None:
            data["serverurl"] = self.server_url
        if self.proxy_url is not None:
            data["proxyurl"] = self.proxy_url
        if self.autoupgrade is not None:
            data["autoupgrade"] = _AUTOUPGRADE[self.autoupgrade]
        if self.tags:
            data["tags"] = dict(self.tags)
        return data

    def to_json(self) -> str:
        """``config.json`` as the agent reads it (indented, ending with a newline)."""
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n"

    def masked(self) -> AgentConfig:
        """The same configuration with the token masked, for showing to a person."""
        return AgentConfig(
            mask(self.token), self.server_url, self.proxy_url, self.autoupgrade, self.tags
        )

    def merged_into(self, existing: Mapping[str, Any]) -> dict[str, Any]:
        """``existing`` (a parsed ``config.json``) with this token and the properties set here;
        every other property (``fim``, ``perfmode``, …) stays as it was.

        The token replaces every spelling of the key (``AccessToken``, ``accesstoken``) so the
        agent cannot pick up the old one.
        """
        merged = dict(existing)
        tokens = existing.get("tokens")
        kept = (
            {k: v for k, v in tokens.items() if k.lower() != ACCESS_TOKEN_KEY.lower()}
            if isinstance(tokens, Mapping)
            else {}
        )
        merged.pop("tokens", None)
        for key, value in self.as_dict().items():
            if key == "tokens":
                value = {ACCESS_TOKEN_KEY: self.token, **kept}
            elif key == "tags" and isinstance(existing.get("tags"), Mapping):
                value = {**existing["tags"], **value}
            merged[key] = value
        return {"tokens": merged.pop("tokens"), **merged}

    def write(self, path: str | Path, *, keep_existing: bool = True) -> bool:
        """Write ``config.json`` to ``path`` with mode 0600 (atomically, never world-readable).

        With ``keep_existing`` (the default) an existing file's other properties are kept: only
        the token and the properties set here change. Returns whether a file was updated.
        Raises ``ValueError`` when the existing file is not a JSON object.
        """
        target = Path(path)
        data = self.as_dict()
        updated = False
        if keep_existing and target.exists():
            existing = _read_object(target)
            data = self.merged_into(existing)
            updated = True
        write_private(target, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return updated

    @classmethod
    def from_json(cls, text: str) -> AgentConfig:
        """Parse ``config.json``; the token key may be spelled ``AccessToken`` or
        ``accesstoken`` (any case). Raises ``ValueError`` when there is no token."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"config.json is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("config.json must hold a JSON object")
        return cls._from_object(data)

    @classmethod
    def read(cls, path: str | Path) -> AgentConfig:
        return cls._from_object(_read_object(Path(path)))

    @classmethod
    def _from_object(cls, data: Mapping[str, Any]) -> AgentConfig:
        tokens = data.get("tokens")
        token = None
        if isinstance(tokens, Mapping):
            for key, value in tokens.items():
                if key.lower() == ACCESS_TOKEN_KEY.lower() and isinstance(value, str):
                    token = value
        if not token:
            raise ValueError('config.json has no "tokens": {"AccessToken": …}')
        autoupgrade = data.get("autoupgrade")
        tags = data.get("tags")
        return cls(
            token,
            server_url=_optional_str(data.get("serverurl")),
            proxy_url=_optional_str(data.get("proxyurl")),
            autoupgrade=None
            if not isinstance(autoupgrade, str)
            else autoupgrade.lower() != _AUTOUPGRADE[False],
            tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, Mapping) else {},
        )


def agent_config(
    token: str | AgentAccessToken,
    *,
    server_url: str | None = None,
    tags: Mapping[str, str] | None = None,
    proxy_url: str | None = None,
    autoupgrade: bool | None = None,
) -> AgentConfig:
    """The ``config.json`` an agent needs to use ``token`` (a value or a token from the SDK).

    ``server_url`` is where the agent sends data (``serverurl``: optional for US accounts,
    required elsewhere, e.g. ``https://api.fra.lacework.net``); ``tags`` label the agent;
    ``proxy_url`` routes it through a proxy; ``autoupgrade=False`` stops it upgrading itself.
    Raises ``ValueError`` for a value the agent could not use.
    """
    value = token.token if isinstance(token, AgentAccessToken) else token
    if not limits.is_printable_token_value(value) or value != value.strip():
        raise ValueError("the token must be a non-empty printable value")
    if server_url is not None:
        _check_url("the server URL", server_url, ("http", "https"))
    if proxy_url is not None:
        _check_url("the proxy URL", proxy_url, ("http", "https", "socks5", "socks5h"))
    checked_tags: dict[str, str] = {}
    for key, tag in (tags or {}).items():
        if not key or key != key.strip() or limits.has_control_characters(key):
            raise ValueError(f"tag name {key!r} must be non-empty, without surrounding spaces")
        if limits.has_control_characters(tag):
            raise ValueError(f"tag {key!r} must not contain control characters")
        checked_tags[key] = tag
    return AgentConfig(
        value,
        server_url=server_url,
        proxy_url=proxy_url,
        autoupgrade=autoupgrade,
        tags=checked_tags,
    )


def install_script_token_problem(token: str) -> str | None:
    """Why Lacework's install.sh would not take ``token`` as its argument, or ``None``."""
    if _INSTALL_SCRIPT_TOKEN.fullmatch(token) is None:
        return (
            "install.sh takes only a token of 2 to 57 letters, digits and '-', starting and "
            "ending with a letter or digit"
        )
    return None


def install_script_server_url_problem(url: str) -> str | None:
    """Why install.sh's ``-U`` would refuse ``url``, or ``None``."""
    if _INSTALL_SCRIPT_SERVER_URL.fullmatch(url) is None or limits.has_control_characters(url):
        return (
            f"install.sh accepts only a server URL of the form https://….lacework.net, "
            f"not {url!r}; agents of a self-hosted server are configured with config.json"
        )
    return None


def install_command(
    token: str | AgentAccessToken,
    *,
    server_url: str | None = None,
    script_url: str = INSTALL_SCRIPT_URL,
) -> str:
    """The line that installs a Linux agent using ``token``::

        curl -sSL https://packages.lacework.net/install.sh | sudo sh -s -- TOKEN -U SERVER_URL

    Without ``server_url`` there is no ``-U`` and install.sh uses its own default (Lacework's US
    region). Raises ``ValueError`` for a token or URL install.sh would refuse.
    """
    value = token.token if isinstance(token, AgentAccessToken) else token
    if isinstance(token, AgentAccessToken) and token.os != limits.DEFAULT_OS:
        raise ValueError(
            f"install.sh installs Linux agents, and {token.name!r} is a {token.os} token; "
            "give its agents a config.json instead"
        )
    problem = install_script_token_problem(value)
    if problem is None and server_url is not None:
        problem = install_script_server_url_problem(server_url)
    if problem is None:
        _check_url("the install script URL", script_url, ("https",))
    if problem is not None:
        raise ValueError(problem)
    line = f"curl -sSL {shlex.quote(script_url)} | sudo sh -s -- {shlex.quote(value)}"
    if server_url is not None:
        line += f" -U {shlex.quote(server_url)}"
    return line


def kubernetes_secret(
    config: AgentConfig,
    *,
    name: str = KUBERNETES_SECRET_NAME,
    namespace: str | None = None,
) -> str:
    """A Kubernetes Secret manifest (YAML) for the agents of a cluster, holding the token twice:
    as ``agent-access-token``, the key Lacework's DaemonSet reads into ``LaceworkAccessToken``,
    and as ``config.json`` (``config`` as :meth:`AgentConfig.to_json` writes it), to mount at
    the agent's configuration directory, ``/var/lib/lacework/config``.

    Without ``namespace`` the manifest names none: ``kubectl apply -n NAMESPACE -f`` chooses.
    Raises ``ValueError`` for a name or namespace Kubernetes would refuse.
    """
    if _KUBERNETES_NAME.fullmatch(name) is None:
        raise ValueError(
            f"a Secret's name is up to 253 lowercase letters, digits, '-' and '.', starting and "
            f"ending with a letter or digit, not {name!r}"
        )
    if namespace is not None and _KUBERNETES_NAMESPACE.fullmatch(namespace) is None:
        raise ValueError(
            f"a namespace is up to 63 lowercase letters, digits and '-', starting and ending "
            f"with a letter or digit, not {namespace!r}"
        )
    data = {KUBERNETES_TOKEN_KEY: config.token, KUBERNETES_CONFIG_KEY: config.to_json()}
    lines = [
        "# An agent access token: a secret. Apply it (kubectl apply -f); keep it out of source",
        "# control.",
        "apiVersion: v1",
        "kind: Secret",
        "metadata:",
        f"  name: {name}",
        *([f"  namespace: {namespace}"] if namespace is not None else []),
        "type: Opaque",
        "data:",
        # Base64, as Kubernetes stores Secret data: every byte of the values survives as it is.
        *(f"  {key}: {base64.b64encode(value.encode()).decode()}" for key, value in data.items()),
    ]
    return "\n".join(lines) + "\n"


def _check_url(what: str, url: str, schemes: tuple[str, ...]) -> None:
    if not url or any(c.isspace() for c in url) or limits.has_control_characters(url):
        raise ValueError(f"{what} must be a URL without spaces, not {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"{what} must be an absolute {' or '.join(schemes)} URL, not {url!r}")


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _read_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path} is not JSON ({exc}); not changing it") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object; not changing it")
    return data

"""The agent access token lifecycle: ``client.agent_tokens``.

Tokens cannot be deleted through the API, only disabled. ``soft_delete`` therefore does what the
official Terraform provider does on destroy: disable the token and rename it to
``<name>-<5 random [a-z0-9]>-deleted``, which frees the name for a new token.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from lacework_tokens import errors, limits, wire
from lacework_tokens.wire import (
    AgentAccessToken,
    CreateAgentTokenRequest,
    Expression,
    SearchFilter,
    SearchRequest,
    TokenProps,
    UpdateAgentTokenRequest,
)

if TYPE_CHECKING:
    from lacework_tokens.client import Client

__all__ = ["TOKENS_PATH", "AgentTokens", "soft_delete_name"]

TOKENS_PATH: Final = "/api/v2/AgentAccessTokens"
_SUFFIX_ALPHABET: Final = string.ascii_lowercase + string.digits
# ``AgentTokens.list`` shadows the builtin inside the class body.
TokenList = list[AgentAccessToken]
_AnyList = list[Any]


def _quoted(token: str) -> str:
    return quote(token, safe="")


def soft_delete_name(name: str) -> str:
    """``<name>-<5 random [a-z0-9]>-deleted``, the alias a soft-deleted token takes."""
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))
    return f"{name}-{suffix}{limits.SOFT_DELETE_SUFFIX}"


class AgentTokens:
    """Agent access tokens of the client's account. Every method talks to the server."""

    def __init__(self, client: Client) -> None:
        self._client = client

    # --- reading --------------------------------------------------------------------------

    def get(self, token: str) -> AgentAccessToken:
        """The token with this value; ``errors.NotFoundError`` when there is none."""
        path = self._path(token)
        raw = self._client.request("GET", path, secret_in_path=_quoted(token))
        return self._one(raw, "GET", path, _quoted(token))

    def import_token(self, token: str) -> AgentAccessToken:
        """``get``, refusing an answer about another token (as ``terraform import`` does)."""
        found = self.get(token)
        if found.token != token:
            raise errors.NotFoundError(
                f"Agent access token '{wire.mask(token)}' was not found.",
                status=404,
                method="GET",
                path=f"{TOKENS_PATH}/{wire.mask(token)}",
            )
        return found

    def list(self) -> TokenList:
        raw = self._client.request("GET", TOKENS_PATH)
        return self._many(raw, "GET", TOKENS_PATH)

    def search(self, filters: Sequence[SearchFilter]) -> TokenList:
        """Tokens matching every filter.

        ``SearchFilter("tokenAlias", Expression.EQ, "prod")`` finds the token named ``prod``.
        """
        body = wire.converter.unstructure(SearchRequest(filters=tuple(filters)))
        path = f"{TOKENS_PATH}/search"
        raw = self._client.request("POST", path, body, idempotent=True)
        return self._many(raw, "POST", path)

    def find(self, name: str) -> AgentAccessToken | None:
        """The token named exactly ``name``, or ``None``."""
        return self._find(name)[0]

    # --- writing --------------------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        description: str = "",
        os: str = limits.DEFAULT_OS,
        enabled: bool = True,
    ) -> AgentAccessToken:
        """A new token. ``enabled=False`` creates it, then disables it (as the provider does).

        A create whose outcome is unknown (the connection dropped, a gateway error) is never
        simply repeated: the client first looks the name up and returns the token it finds.
        """
        request = CreateAgentTokenRequest(
            token_alias=name,
            token_enabled=True,
            props=TokenProps(description=description or None, os=os),
        )
        body = wire.converter.unstructure(request)

        def recover() -> Any | None:
            found, raw = self._find(name)
            if found is None:
                return None
            if found.description != description or found.os != os:
                raise errors.ConflictError(
                    f"the outcome of creating agent access token '{name}' is unknown, and a "
                    "token with that name but other settings exists",
                    status=409,
                    method="POST",
                    path=TOKENS_PATH,
                )
            return {"data": raw}

        raw = self._client.request("POST", TOKENS_PATH, body, idempotent=False, recover=recover)
        created = self._one(raw, "POST", TOKENS_PATH, None)
        if not enabled and created.enabled:
            return self.disable(created.token)
        return created

    def update(
        self,
        token: str,
        *,
        name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> AgentAccessToken:
        """Change what is given and nothing else (the server merges ``props``)."""
        if name is None and description is None and enabled is None:
            return self.get(token)
        request = UpdateAgentTokenRequest(
            token_alias=name,
            token_enabled=enabled,
            props=None if description is None else TokenProps(description=description),
        )
        return self._patch(token, wire.converter.unstructure(request))

    def enable(self, token: str) -> AgentAccessToken:
        return self.update(token, enabled=True)

    def disable(self, token: str) -> AgentAccessToken:
        return self.update(token, enabled=False)

    def soft_delete(self, token: str) -> AgentAccessToken:
        """Disable the token and rename it ``<name>-<5 random>-deleted``, freeing its name."""
        current = self.get(token)
        request = UpdateAgentTokenRequest(
            token_alias=soft_delete_name(current.name), token_enabled=False
        )
        return self._patch(token, wire.converter.unstructure(request))

    # --- helpers --------------------------------------------------------------------------

    def _path(self, token: str) -> str:
        if not token:
            raise errors.InvalidRequestError(
                "an agent access token value is required", status=400, method="", path=TOKENS_PATH
            )
        return f"{TOKENS_PATH}/{_quoted(token)}"

    def _patch(self, token: str, body: dict[str, Any]) -> AgentAccessToken:
        path = self._path(token)
        raw = self._client.request("PATCH", path, body, secret_in_path=_quoted(token))
        return self._one(raw, "PATCH", path, _quoted(token))

    def _find(self, name: str) -> tuple[AgentAccessToken | None, Any]:
        body = wire.converter.unstructure(
            SearchRequest(filters=(SearchFilter("tokenAlias", Expression.EQ, name),))
        )
        path = f"{TOKENS_PATH}/search"
        raw = self._client.request("POST", path, body, idempotent=True)
        items: _AnyList = self._items(raw, "POST", path)
        parsed_tokens: TokenList = self._many(raw, "POST", path)
        for item, parsed in zip(items, parsed_tokens, strict=True):
            # The server's "eq" may be looser than an exact, case-sensitive match.
            if parsed.name == name:
                return parsed, item
        return None, None

    @staticmethod
    def _items(raw: Any, method: str, path: str) -> _AnyList:
        if raw is None:  # an empty body: no tokens
            return []
        if not isinstance(raw, dict) or "data" not in raw:
            # Not ``{"data": ...}``: reading it as "no tokens" would hide a broken server.
            raise errors.TransportError(f"unexpected answer from {method} {path}: no data")
        data = raw["data"]
        if data is None:
            return []
        if not isinstance(data, list):
            raise errors.TransportError(f"unexpected answer from {method} {path}: data is no list")
        return data

    @classmethod
    def _many(cls, raw: Any, method: str, path: str) -> TokenList:
        tokens: TokenList = []
        for index, item in enumerate(cls._items(raw, method, path)):
            try:
                tokens.append(wire.parse(item, AgentAccessToken))
            except wire.WireError as exc:
                raise errors.TransportError(
                    f"unexpected answer from {method} {path}: data[{index}].{exc}"
                ) from None
        return tokens

    @staticmethod
    def _one(raw: Any, method: str, path: str, token: str | None) -> AgentAccessToken:
        shown = path.replace(token, wire.mask(token)) if token else path
        data = raw.get("data") if isinstance(raw, dict) else None
        if isinstance(data, list) and len(data) == 1:
            # Some deployments wrap a single object in a list.
            data = data[0]
        try:
            return wire.parse(data, AgentAccessToken)
        except wire.WireError as exc:
            raise errors.TransportError(f"unexpected answer from {method} {shown}: {exc}") from None

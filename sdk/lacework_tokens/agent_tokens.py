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
        return self._client.request_one(
            "GET", self._path(token), AgentAccessToken, secret_in_path=_quoted(token)
        )

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
        return self._client.request_list("GET", TOKENS_PATH, AgentAccessToken)

    def search(self, filters: Sequence[SearchFilter]) -> TokenList:
        """Tokens matching every filter.

        ``SearchFilter("tokenAlias", Expression.EQ, "prod")`` finds the token named ``prod``.
        """
        body = wire.converter.unstructure(SearchRequest(filters=tuple(filters)))
        return self._client.request_list(
            "POST", f"{TOKENS_PATH}/search", AgentAccessToken, body, idempotent=True
        )

    def find(self, name: str) -> AgentAccessToken | None:
        """The token named exactly ``name``, or ``None``."""
        for found in self.search((SearchFilter("tokenAlias", Expression.EQ, name),)):
            # The server's "eq" may be looser than an exact, case-sensitive match.
            if found.name == name:
                return found
        return None

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

        def recover() -> AgentAccessToken | None:
            found = self.find(name)
            if found is not None and (found.description != description or found.os != os):
                raise errors.ConflictError(
                    f"the outcome of creating agent access token '{name}' is unknown, and a "
                    "token with that name but other settings exists",
                    status=409,
                    method="POST",
                    path=TOKENS_PATH,
                )
            return found

        created = self._client.request_one(
            "POST", TOKENS_PATH, AgentAccessToken, body, idempotent=False, recover=recover
        )
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
        """Disable the token and rename it ``<name>-<5 random>-deleted``, freeing its name.

        A token already soft-deleted (``token.soft_deleted``) is returned as it is: a second
        delete changes nothing.
        """
        current = self.get(token)
        if current.soft_deleted:
            return current
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
        return self._client.request_one(
            "PATCH", self._path(token), AgentAccessToken, body, secret_in_path=_quoted(token)
        )

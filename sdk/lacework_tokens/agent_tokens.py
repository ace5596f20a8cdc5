"""The agent access token lifecycle: ``client.agent_tokens``.

Tokens cannot be deleted through the API, only disabled. ``soft_delete`` therefore does what the
official Terraform provider does on destroy: disable the token and rename it to
``<name>-<5 random [a-z0-9]>-deleted``, which frees the name for a new token.

The enrollment policy (``expires_at``, ``max_enrollments``, ``scope``) and ``usage`` are this
project's extensions, served by its backend: Lacework itself ignores the policy and has no
usage endpoint.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from lacework_tokens import errors, limits, rotation, wire
from lacework_tokens.wire import (
    KEEP,
    AgentAccessToken,
    CreateAgentTokenRequest,
    Expression,
    Keep,
    SearchFilter,
    SearchRequest,
    TokenProps,
    TokenUsage,
    TokenUsageRequest,
    UpdateAgentTokenRequest,
)

if TYPE_CHECKING:
    from lacework_tokens.client import Client

__all__ = [
    "DEFAULT_ACTIVE_HOURS",
    "SOFT_DELETE_ATTEMPTS",
    "TOKENS_PATH",
    "USAGE_PATH",
    "AgentTokens",
    "soft_delete_name",
]

TOKENS_PATH: Final = "/api/v2/AgentAccessTokens"
USAGE_PATH: Final = f"{TOKENS_PATH}/usage"
DEFAULT_ACTIVE_HOURS: Final = 24
# Names a soft delete tries before giving up: each is one of 60 million, so five taken in a
# row means something other than chance.
SOFT_DELETE_ATTEMPTS: Final = 5
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
        expires_at: datetime | None = None,
        max_enrollments: int | None = None,
        scope: str | None = None,
    ) -> AgentAccessToken:
        """A new token. ``enabled=False`` creates it, then disables it (as the provider does).

        The enrollment policy: no agent enrolls from ``expires_at`` on (agents enrolled before
        keep checking in), at most ``max_enrollments`` agents enroll (1: single-use), and
        enrolled agents join the asset group ``scope`` (their tag ``Scope``).

        A create whose outcome is unknown (the connection dropped, a gateway error) is never
        simply repeated: the client first looks the name up and returns the token it finds.
        """
        request = CreateAgentTokenRequest(
            token_alias=name,
            token_enabled=True,
            props=TokenProps(
                description=description or None,
                os=os,
                expires_at=KEEP if expires_at is None else expires_at,
                max_enrollments=KEEP if max_enrollments is None else max_enrollments,
                scope=KEEP if scope is None else scope,
            ),
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
        expires_at: datetime | Keep | None = KEEP,
        max_enrollments: int | Keep | None = KEEP,
        scope: str | Keep | None = KEEP,
    ) -> AgentAccessToken:
        """Change what is given and nothing else (the server merges ``props``).

        The policy arguments are left alone unless given; ``None`` removes that limit.
        """
        policy = (expires_at, max_enrollments, scope)
        changes_policy = any(value is not KEEP for value in policy)
        if name is None and description is None and enabled is None and not changes_policy:
            return self.get(token)
        props = None
        if description is not None or changes_policy:
            props = TokenProps(
                description=description,
                expires_at=expires_at,
                max_enrollments=max_enrollments,
                scope=scope,
            )
        request = UpdateAgentTokenRequest(token_alias=name, token_enabled=enabled, props=props)
        return self._patch(token, wire.converter.unstructure(request))

    def enable(self, token: str) -> AgentAccessToken:
        return self.update(token, enabled=True)

    def disable(self, token: str) -> AgentAccessToken:
        return self.update(token, enabled=False)

    def soft_delete(self, token: str, *, name: str | None = None) -> AgentAccessToken:
        """Disable the token and rename it ``<name>-<5 random>-deleted``, freeing its name.

        A token already soft-deleted (``token.soft_deleted``) is returned as it is: a second
        delete changes nothing. ``name`` is the token's current name when the caller knows it
        (one request fewer; the caller then knows it is not soft-deleted yet). The new name may
        already be taken, by chance or by a token given such a name on purpose: a 409 is
        retried with a fresh suffix, up to ``SOFT_DELETE_ATTEMPTS`` times, so no existing name
        can make a destroy fail.
        """
        if name is None:
            current = self.get(token)
            if current.soft_deleted:
                return current
            name = current.name
        for attempt in range(1, SOFT_DELETE_ATTEMPTS + 1):
            request = UpdateAgentTokenRequest(
                token_alias=soft_delete_name(name), token_enabled=False
            )
            try:
                return self._patch(token, wire.converter.unstructure(request))
            except errors.ConflictError:
                if attempt == SOFT_DELETE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # --- usage ----------------------------------------------------------------------------

    def usage(self, token: str, *, active_hours: int = DEFAULT_ACTIVE_HOURS) -> TokenUsage:
        """How many agents enrolled with ``token``, how many checked in within the last
        ``active_hours``, and when one last did. ``errors.NotFoundError`` for an unknown token.
        """
        return self.usage_of([token], active_hours=active_hours)[token]

    def usage_of(
        self, tokens: Sequence[str], *, active_hours: int = DEFAULT_ACTIVE_HOURS
    ) -> dict[str, TokenUsage]:
        """``usage`` of several tokens in one request, by token value."""
        if not tokens:
            return {}
        request = TokenUsageRequest(tokens=tuple(tokens), active_hours=active_hours)
        answers = self._client.request_list(
            "POST",
            USAGE_PATH,
            TokenUsage,
            wire.converter.unstructure(request),
            idempotent=True,
        )
        found = {answer.token: answer for answer in answers}
        missing = [token for token in tokens if token not in found]
        if missing:
            raise errors.TransportError(
                f"unexpected answer from POST {USAGE_PATH}: no usage for '{wire.mask(missing[0])}'"
            )
        return found

    # --- rotation (rotation.py) ------------------------------------------------------------

    def rotate(
        self,
        old: str | AgentAccessToken,
        *,
        new_name: str | None = None,
        description: str | None = None,
        os: str | None = None,
        expires_in: timedelta | Keep | None = KEEP,
        max_enrollments: int | Keep | None = KEEP,
        scope: str | Keep | None = KEEP,
    ) -> rotation.Rotation:
        """Create the successor of ``old`` (same description, os and enrollment policy unless
        given), or find it when a rotation with these arguments already did; returns both.
        A successor expires as long after its creation as ``old`` did (``expires_in``).

        The successor is the token named ``new_name`` (default: the name with its generation
        raised, ``prod`` → ``prod-v2``): run again after an interruption, ``rotate`` resumes
        and never makes a second one. ``errors.ConflictError`` when a token with that name is
        not a successor (other os, description or policy; disabled).
        """
        return rotation.rotate(
            self,
            old,
            new_name=new_name,
            description=description,
            os=os,
            expires_in=expires_in,
            max_enrollments=max_enrollments,
            scope=scope,
        )

    def retire(
        self,
        old: str | AgentAccessToken,
        *,
        idle_for: timedelta = rotation.DEFAULT_IDLE_FOR,
        force: bool = False,
    ) -> rotation.Retirement:
        """Disable ``old`` once no agent enrolled with it checked in within ``idle_for``.

        Raises ``errors.TokenInUseError`` (how many agents, their last check-in, their host
        names) while some did, unless ``force``; the backend checks again as it disables the
        token and records the retire, forced or not, in its audit trail. A token that is
        disabled already is returned as it is (``changed`` is ``False``).
        """
        current = self.get(old.token if isinstance(old, AgentAccessToken) else old)
        if not current.enabled:
            return rotation.Retirement(current, changed=False)
        seen = rotation.activity(self, self._client.agents, current, idle_for)
        if seen.agents and not force:
            raise seen.in_use_error(current, idle_for)
        intent = wire.RetireIntent(rotation.idle_seconds(idle_for), force=force)
        body = wire.converter.unstructure(UpdateAgentTokenRequest(token_enabled=False))
        try:
            retired = self._patch(
                current.token, body, headers={wire.RETIRE_HEADER: intent.header_value()}
            )
        except errors.ConflictError as exc:
            # An agent checked in between the look above and the disable: the server refused.
            again = rotation.activity(self, self._client.agents, current, idle_for)
            if again.agents:
                raise again.in_use_error(current, idle_for) from None
            raise errors.TokenInUseError(
                exc.message, token_name=current.name, active=1, idle_for=idle_for
            ) from None
        return rotation.Retirement(
            retired, changed=True, forced=bool(seen.agents), active=seen.agents
        )

    # --- helpers --------------------------------------------------------------------------

    def _path(self, token: str) -> str:
        if not token:
            raise errors.InvalidRequestError(
                "an agent access token value is required", status=400, method="", path=TOKENS_PATH
            )
        return f"{TOKENS_PATH}/{_quoted(token)}"

    def _patch(
        self, token: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> AgentAccessToken:
        return self._client.request_one(
            "PATCH",
            self._path(token),
            AgentAccessToken,
            body,
            secret_in_path=_quoted(token),
            headers=headers,
        )

"""The HTTP routes as data: one table, read by the router and the 405 ``Allow`` header
(``app.py``) and by ``/openapi.json`` (``openapi.py``).

A route is a path (one trailing ``{parameter}`` at most) and an ``Operation`` per method: the
handler, the wire model parsed from the body, the model answered and how it is wrapped, the
success status, the error statuses it can answer, and who may call it. A handler maps one call
to one service method; it never parses or encodes JSON (the app does, from this table).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, Generic, TypeVar

from attrs import define, frozen

from lacework_tokens import wire
from lacework_tokens.server.services import Principal, Services

__all__ = ["OPENAPI_PATH", "ROUTES", "Access", "Call", "Envelope", "Operation", "Route"]

OPENAPI_PATH: Final = "/openapi.json"
# Tokens per page of a list or search answer: one query and about 0.1 ms of encoding, after
# which other requests are served (see app.PAGE_PAUSE_SECONDS).
ANSWER_PAGE_SIZE: Final = 16
API_PREFIX: Final = "/api/v2"

B = TypeVar("B")


class Access(enum.Enum):
    """Who may call; the value names the security scheme in the OpenAPI document."""

    PUBLIC = "public"  # no credentials
    API_SECRET = "apiSecret"  # the API key's secret in X-LW-UAKS (rate-limited per address)
    BEARER = "bearer"  # a bearer token in Authorization (rate-limited per API key)
    # An agent access token in Authorization: enrollment and check-in, nothing else. Not
    # rate-limited: a fleet checks in on one token, and a token value has 224 random bits.
    AGENT_TOKEN = "agentToken"


class Envelope(enum.Enum):
    """How a handler's answer goes on the wire."""

    JSON = "json"  # JSON-ready data, or bytes that are JSON already
    BARE = "bare"  # the wire model itself
    DATA = "data"  # {"data": model}
    DATA_LIST = "data list"  # {"data": [model, …]}
    # {"data": [model, …]} from an iterator of lists of models, sent page by page as they come
    DATA_PAGES = "data pages"


@define
class Call:
    """What a handler is given besides the request body."""

    services: Services
    principal: Principal | None = None  # set for ``Access.BEARER``
    path_value: str | None = None  # set for a route with a ``{parameter}``
    secret: str | None = None  # X-LW-UAKS, for ``Access.API_SECRET`` (may be absent)
    credential: str | None = None  # Authorization, for ``Access.AGENT_TOKEN`` (may be absent)
    address: str | None = None  # the client's network address
    retire: str | None = None  # Lacework-Tokens-Retire, for an operation that declares it

    @property
    def caller(self) -> Principal:
        if self.principal is None:  # pragma: no cover - the app authenticates BEARER routes
            raise RuntimeError("this route has no authenticated caller")
        return self.principal

    @property
    def path(self) -> str:
        if self.path_value is None:  # pragma: no cover - the router sets it for such routes
            raise RuntimeError("this route has no path parameter")
        return self.path_value


@frozen
class Operation(Generic[B]):
    """One method of a route. ``request`` is the wire model parsed from the body (``None``: no
    body is read); ``response`` the wire model answered, wrapped as ``envelope`` says, or for
    ``Envelope.JSON`` described by ``schema``."""

    method: str
    operation_id: str
    summary: str
    handler: Callable[[Call, B], object]
    status: int
    answer: str  # what a success holds, in a few words
    request: type[B] | None = None
    response: type[Any] | None = None
    envelope: Envelope = Envelope.DATA
    schema: Mapping[str, Any] | None = None
    errors: tuple[int, ...] = ()
    access: Access = Access.BEARER
    # Optional request headers beyond authentication, by their name in the OpenAPI document's
    # components (``"Retire"``: ``wire.RETIRE_HEADER``, given to the handler as ``Call.retire``).
    headers: tuple[str, ...] = ()


@frozen
class Route:
    name: str  # how logs name the route
    path: str
    operations: tuple[Operation[Any], ...]
    # Also served with one "/" appended, as Lacework's API is.
    trailing_slash: bool = False


# --- handlers: one service call each ----------------------------------------------------------


def _health(call: Call, body: None) -> dict[str, str]:
    return {"status": "ok"}


def _openapi(call: Call, body: None) -> bytes:
    # The document describes this table, so it is imported when first asked for.
    from lacework_tokens.server.openapi import openapi_json

    return openapi_json()


def _issue_access_token(call: Call, request: wire.AccessTokenRequest) -> wire.AccessTokenResponse:
    return call.services.identity.issue_access_token(request, call.secret, call.address)


def _list_tokens(call: Call, body: None) -> Iterator[list[wire.AgentAccessToken]]:
    return call.services.tokens.token_pages(call.caller, page_size=ANSWER_PAGE_SIZE)


def _create_token(call: Call, request: wire.CreateAgentTokenRequest) -> wire.AgentAccessToken:
    return call.services.tokens.create_token(call.caller, request)


def _search_tokens(
    call: Call, request: wire.SearchRequest
) -> Iterator[list[wire.AgentAccessToken]]:
    return call.services.tokens.token_pages(call.caller, request, page_size=ANSWER_PAGE_SIZE)


def _get_token(call: Call, body: None) -> wire.AgentAccessToken:
    return call.services.tokens.get_token(call.caller, call.path)


def _update_token(call: Call, request: wire.UpdateAgentTokenRequest) -> wire.AgentAccessToken:
    return call.services.tokens.update_token(call.caller, call.path, request, retire=call.retire)


def _user_profile(call: Call, body: None) -> list[wire.UserProfile]:
    return [call.services.identity.user_profile(call.caller)]


def _token_usage(call: Call, request: wire.TokenUsageRequest) -> list[wire.TokenUsage]:
    return call.services.agents.usage(call.caller, request)


def _enroll(call: Call, request: wire.AgentEnrollmentRequest) -> wire.Agent:
    return call.services.agents.enroll(call.credential, request)


def _checkin(call: Call, request: wire.AgentCheckinRequest) -> wire.Agent:
    return call.services.agents.checkin(call.credential, request)


def _search_agents(call: Call, request: wire.AgentSearchRequest) -> wire.AgentPage:
    return call.services.agents.search(call.caller, request)


def _next_agents(call: Call, body: None) -> wire.AgentPage:
    return call.services.agents.next_page(call.caller, call.path)


# --- the table --------------------------------------------------------------------------------

# Error statuses: 400 from the body or the rules, 401/403 from authentication, 404/409 from the
# rules, 408/413 from reading a body, 429 from the rate limits.
_TOKENS: Final = f"{API_PREFIX}/AgentAccessTokens"
_AGENT_INFO: Final = f"{API_PREFIX}/AgentInfo/search"

ROUTES: Final[tuple[Route, ...]] = (
    Route(
        "healthz",
        "/healthz",
        (
            Operation(
                "GET",
                "health",
                "Liveness",
                _health,
                200,
                "The server is up.",
                envelope=Envelope.JSON,
                schema={
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"const": "ok"}},
                },
                access=Access.PUBLIC,
            ),
        ),
    ),
    Route(
        "openapi",
        OPENAPI_PATH,
        (
            Operation(
                "GET",
                "openapi",
                "This document",
                _openapi,
                200,
                "OpenAPI 3.1",
                envelope=Envelope.JSON,
                schema={"type": "object"},
                access=Access.PUBLIC,
            ),
        ),
    ),
    Route(
        "access_tokens",
        f"{API_PREFIX}/access/tokens",
        (
            Operation(
                "POST",
                "createAccessToken",
                "Exchange an API key id and secret for a bearer token",
                _issue_access_token,
                201,
                "A bearer token.",
                request=wire.AccessTokenRequest,
                response=wire.AccessTokenResponse,
                envelope=Envelope.BARE,
                errors=(400, 401, 408, 413, 429),
                access=Access.API_SECRET,
            ),
        ),
        trailing_slash=True,
    ),
    Route(
        "tokens",
        _TOKENS,
        (
            Operation(
                "GET",
                "listAgentAccessTokens",
                "List the account's tokens",
                _list_tokens,
                200,
                "The tokens.",
                response=wire.AgentAccessToken,
                envelope=Envelope.DATA_PAGES,
                errors=(401, 403, 429),
            ),
            Operation(
                "POST",
                "createAgentAccessToken",
                "Create a token",
                _create_token,
                201,
                "The new token.",
                request=wire.CreateAgentTokenRequest,
                response=wire.AgentAccessToken,
                errors=(400, 401, 403, 408, 409, 413, 429),
            ),
        ),
        trailing_slash=True,
    ),
    Route(
        "search",
        f"{_TOKENS}/search",
        (
            Operation(
                "POST",
                "searchAgentAccessTokens",
                "Tokens matching every filter",
                _search_tokens,
                200,
                "The tokens.",
                request=wire.SearchRequest,
                response=wire.AgentAccessToken,
                envelope=Envelope.DATA_PAGES,
                errors=(400, 401, 403, 408, 413, 429),
            ),
        ),
        trailing_slash=True,
    ),
    Route(
        "usage",
        f"{_TOKENS}/usage",
        (
            Operation(
                "POST",
                "agentAccessTokenUsage",
                "Agents per token: enrolled, active, last check-in (extension)",
                _token_usage,
                200,
                "Usage of each token asked for, in the order asked.",
                request=wire.TokenUsageRequest,
                response=wire.TokenUsage,
                envelope=Envelope.DATA_LIST,
                errors=(400, 401, 403, 404, 408, 413, 429),
            ),
        ),
        trailing_slash=True,
    ),
    Route(
        "token",
        f"{_TOKENS}/{{accessToken}}",
        (
            Operation(
                "GET",
                "getAgentAccessToken",
                "One token by its value",
                _get_token,
                200,
                "The token.",
                response=wire.AgentAccessToken,
                errors=(401, 403, 404, 429),
            ),
            Operation(
                "PATCH",
                "updateAgentAccessToken",
                "Update a token (rename, enable, disable, props)",
                _update_token,
                200,
                "The token.",
                request=wire.UpdateAgentTokenRequest,
                response=wire.AgentAccessToken,
                errors=(400, 401, 403, 404, 408, 409, 413, 429),
                headers=("Retire",),
            ),
        ),
        trailing_slash=True,
    ),
    Route(
        "user_profile",
        f"{API_PREFIX}/UserProfile",
        (
            Operation(
                "GET",
                "getUserProfile",
                "Whose API key this is: its account and the accounts it may act in",
                _user_profile,
                200,
                "The key's user profile, in a list of one, as Lacework answers it.",
                response=wire.UserProfile,
                envelope=Envelope.DATA_LIST,
                errors=(401, 403, 429),
            ),
        ),
        trailing_slash=True,
    ),
    Route(
        "agent_search",
        _AGENT_INFO,
        (
            Operation(
                "POST",
                "searchAgentInfo",
                "Agents alive in a time window, matching every filter, in pages",
                _search_agents,
                200,
                "The first page; paging.urls.nextPage names the next one (null on the last).",
                request=wire.AgentSearchRequest,
                response=wire.AgentPage,
                envelope=Envelope.BARE,
                errors=(400, 401, 403, 408, 413, 429),
            ),
        ),
        trailing_slash=True,
    ),
    Route(
        "agent_page",
        f"{_AGENT_INFO}/{{page}}",
        (
            Operation(
                "GET",
                "nextAgentInfoPage",
                "The next page of an AgentInfo search",
                _next_agents,
                200,
                "The page; paging.urls.nextPage names the next one (null on the last).",
                response=wire.AgentPage,
                envelope=Envelope.BARE,
                errors=(400, 401, 403, 429),
            ),
        ),
    ),
    Route(
        "enrollment",
        f"{API_PREFIX}/AgentEnrollment",
        (
            Operation(
                "POST",
                "enrollAgent",
                "An agent enrolls with its token and gets its mid (extension)",
                _enroll,
                201,
                "The enrolled agent, as AgentInfo shows it.",
                request=wire.AgentEnrollmentRequest,
                response=wire.Agent,
                errors=(400, 401, 403, 408, 413),
                access=Access.AGENT_TOKEN,
            ),
        ),
        trailing_slash=True,
    ),
    Route(
        "checkin",
        f"{API_PREFIX}/AgentCheckin",
        (
            Operation(
                "POST",
                "agentCheckin",
                "An enrolled agent checks in with its token (extension)",
                _checkin,
                200,
                "The agent, as AgentInfo shows it.",
                request=wire.AgentCheckinRequest,
                response=wire.Agent,
                errors=(400, 401, 403, 404, 408, 413),
                access=Access.AGENT_TOKEN,
            ),
        ),
        trailing_slash=True,
    ),
)

"""How ``client.agent_tokens`` reads what a server answers, including answers it should refuse.

Some deployments wrap a single token in a list; an empty body or ``data: null`` means no tokens
in a listing; anything else that is not the documented shape is a ``TransportError`` naming what
was wrong, never a silently shortened list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from sdk_fakes import SEARCH_URL, TOKEN, TOKENS_URL, add_bearer, calls_to, make_client, token_wire

from lacework_tokens import AgentAccessToken, Expression, SearchFilter, errors, wire
from lacework_tokens.agent_tokens import AgentTokens

TOKEN_URL = f"{TOKENS_URL}/{TOKEN}"
OTHER = "b" * 56


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        add_bearer(mock)
        yield mock


@pytest.fixture
def tokens() -> AgentTokens:
    return make_client().agent_tokens


def test_a_single_token_wrapped_in_a_list_is_that_token(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.GET, TOKEN_URL, json={"data": [token_wire()]})
    rsps.add(responses.PATCH, TOKEN_URL, json={"data": [token_wire(enabled=0)]})
    assert tokens.get(TOKEN) == wire.parse(token_wire(), AgentAccessToken)
    assert tokens.disable(TOKEN).enabled is False


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"data": None}, "body: must be a JSON object"),
        ({}, "body: must be a JSON object"),
        ({"data": []}, "body: must be a JSON object"),
        ({"data": [token_wire(), token_wire(token=OTHER)]}, "body: must be a JSON object"),
        ({"data": "token"}, "body: must be a JSON object"),
        ({"data": {**token_wire(), "tokenAlias": None}}, "tokenAlias: is required"),
        ([token_wire()], "body: must be a JSON object"),
    ],
)
def test_a_get_answer_without_exactly_one_token_is_a_transport_error(
    rsps: responses.RequestsMock, tokens: AgentTokens, answer: Any, problem: str
) -> None:
    rsps.add(responses.GET, TOKEN_URL, json=answer)
    with pytest.raises(errors.TransportError) as caught:
        tokens.get(TOKEN)
    shown = f"/api/v2/AgentAccessTokens/{wire.mask(TOKEN)}"
    assert str(caught.value) == f"unexpected answer from GET {shown}: {problem}"


def test_an_empty_body_to_a_get_is_a_transport_error(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.GET, TOKEN_URL, body=b"", status=200)
    with pytest.raises(errors.TransportError, match="body: must be a JSON object"):
        tokens.get(TOKEN)


Listing = Callable[[AgentTokens], list[AgentAccessToken]]
LISTINGS: list[tuple[str, str, Listing]] = [
    ("GET", TOKENS_URL, lambda t: t.list()),
    ("POST", SEARCH_URL, lambda t: t.search([SearchFilter("tokenEnabled", Expression.EQ, 1)])),
]


@pytest.fixture(params=LISTINGS, ids=["list", "search"])
def listing(request: pytest.FixtureRequest) -> tuple[str, str, Listing]:
    chosen: tuple[str, str, Listing] = request.param
    return chosen


@pytest.mark.parametrize(
    "answer", [{"data": None}, {"data": []}, None], ids=["data-null", "empty", "no-body"]
)
def test_a_listing_of_no_tokens_is_an_empty_list(
    rsps: responses.RequestsMock,
    tokens: AgentTokens,
    listing: tuple[str, str, Listing],
    answer: Any,
) -> None:
    method, url, call = listing
    if answer is None:
        rsps.add(method, url, body=b"", status=200)
    else:
        rsps.add(method, url, json=answer)
    assert call(tokens) == []


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({}, "no data"),
        ({"tokens": []}, "no data"),
        ({"data": token_wire()}, "data is no list"),
        ({"data": "tokens"}, "data is no list"),
        ([token_wire()], "no data"),
    ],
    ids=["no-data", "other-key", "object", "string", "bare-list"],
)
def test_a_listing_without_a_data_list_is_a_transport_error(
    rsps: responses.RequestsMock,
    tokens: AgentTokens,
    listing: tuple[str, str, Listing],
    answer: Any,
    problem: str,
) -> None:
    method, url, call = listing
    rsps.add(method, url, json=answer)
    with pytest.raises(errors.TransportError) as caught:
        call(tokens)
    path = url.removeprefix("https://acme.lacework.test")
    assert str(caught.value) == f"unexpected answer from {method} {path}: {problem}"


@pytest.mark.parametrize(
    ("bad_item", "problem"),
    [
        ({**token_wire(token=OTHER), "tokenEnabled": True}, "data[1].tokenEnabled"),
        ({**token_wire(token=OTHER), "createdTime": "yesterday"}, "data[1].createdTime"),
        (None, "data[1].body: must be a JSON object"),
        ("token", "data[1].body: must be a JSON object"),
    ],
)
def test_a_malformed_token_in_a_listing_is_an_error_not_dropped(
    rsps: responses.RequestsMock,
    tokens: AgentTokens,
    listing: tuple[str, str, Listing],
    bad_item: Any,
    problem: str,
) -> None:
    method, url, call = listing
    rsps.add(method, url, json={"data": [token_wire(), bad_item, token_wire(token="c" * 56)]})
    with pytest.raises(errors.TransportError, match=re.escape(problem)):
        call(tokens)


def test_find_takes_the_exact_match_among_looser_ones(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(
        responses.POST,
        SEARCH_URL,
        json={"data": [token_wire(name="Prod"), token_wire(token=OTHER, name="prod")]},
    )
    found = tokens.find("prod")
    assert found is not None and found.token == OTHER
    rsps.replace(responses.POST, SEARCH_URL, json={"data": None})
    assert tokens.find("prod") is None


def test_an_update_that_changes_nothing_returns_the_token_without_a_patch(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.GET, TOKEN_URL, json={"data": token_wire()})
    unchanged = tokens.update(TOKEN)
    assert unchanged == wire.parse(token_wire(), AgentAccessToken)
    assert calls_to(rsps, "PATCH", TOKEN_URL) == []
    assert len(calls_to(rsps, "GET", TOKEN_URL)) == 1


def test_an_update_of_only_the_description_or_only_enabled_is_sent(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.PATCH, TOKEN_URL, json={"data": token_wire()})
    tokens.update(TOKEN, description="")
    tokens.update(TOKEN, enabled=False)
    assert calls_to(rsps, "GET", TOKEN_URL) == []
    assert len(calls_to(rsps, "PATCH", TOKEN_URL)) == 2


def test_creating_a_disabled_token_the_server_already_disabled_sends_no_patch(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.POST, TOKENS_URL, json={"data": token_wire(enabled=0)}, status=201)
    created = tokens.create("prod", enabled=False)
    assert created.enabled is False
    assert calls_to(rsps, "PATCH", TOKEN_URL) == []


def test_a_create_answered_with_a_malformed_token_is_a_transport_error(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.POST, TOKENS_URL, json={"data": {"tokenAlias": "prod"}}, status=201)
    with pytest.raises(errors.TransportError) as caught:
        tokens.create("prod")
    assert str(caught.value) == (
        "unexpected answer from POST /api/v2/AgentAccessTokens: accessToken: is required"
    )


def test_a_lost_create_found_with_other_settings_is_a_conflict_naming_the_token(
    rsps: responses.RequestsMock,
) -> None:
    rsps.add(responses.POST, TOKENS_URL, json={"message": "bad gateway"}, status=502)
    rsps.add(responses.POST, SEARCH_URL, json={"data": [token_wire(os="windows")]})
    with pytest.raises(errors.ConflictError) as caught:
        make_client().agent_tokens.create("prod", description="k8s deployment")
    assert (caught.value.status, caught.value.method, caught.value.path) == (
        409,
        "POST",
        "/api/v2/AgentAccessTokens",
    )
    assert "creating agent access token 'prod' is unknown" in caught.value.message


def test_a_lost_create_is_found_by_its_exact_name_among_others(
    rsps: responses.RequestsMock,
) -> None:
    rsps.add(responses.POST, TOKENS_URL, json={"message": "bad gateway"}, status=502)
    rsps.add(
        responses.POST,
        SEARCH_URL,
        json={"data": [token_wire(token=OTHER, name="PROD"), token_wire(name="prod")]},
    )
    created = make_client().agent_tokens.create("prod", description="k8s deployment")
    assert created.token == TOKEN


def test_soft_delete_names_follow_the_providers_pattern() -> None:
    from lacework_tokens.agent_tokens import soft_delete_name

    names = {soft_delete_name("web") for _ in range(20)}
    assert len(names) > 1
    for name in names:
        assert name.startswith("web-") and name.endswith("-deleted")
        suffix = name.removeprefix("web-").removesuffix("-deleted")
        assert len(suffix) == 5 and suffix.isascii() and suffix.isalnum() and suffix.islower()


def test_a_malformed_patch_answer_names_the_masked_path(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.PATCH, TOKEN_URL, json={"data": {**token_wire(), "tokenEnabled": "0"}})
    with pytest.raises(errors.TransportError) as caught:
        tokens.disable(TOKEN)
    shown = f"/api/v2/AgentAccessTokens/{wire.mask(TOKEN)}"
    assert str(caught.value) == (
        f"unexpected answer from PATCH {shown}: tokenEnabled: must be the integer 0 or 1"
    )


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({}, "no data"),
        ({"data": [{**token_wire(), "tokenAlias": 5}]}, "data[0].tokenAlias: must be a string"),
    ],
)
def test_find_names_what_is_wrong_with_its_answer(
    rsps: responses.RequestsMock, tokens: AgentTokens, answer: Any, problem: str
) -> None:
    rsps.add(responses.POST, SEARCH_URL, json=answer)
    with pytest.raises(errors.TransportError) as caught:
        tokens.find("prod")
    assert str(caught.value) == (
        f"unexpected answer from POST /api/v2/AgentAccessTokens/search: {problem}"
    )


def test_import_refusing_another_token_is_a_not_found_error(
    rsps: responses.RequestsMock, tokens: AgentTokens
) -> None:
    rsps.add(responses.GET, f"{TOKENS_URL}/{OTHER}", json={"data": token_wire()})
    with pytest.raises(errors.NotFoundError) as caught:
        tokens.import_token(OTHER)
    error = caught.value
    assert (error.status, error.method, error.path) == (
        404,
        "GET",
        f"/api/v2/AgentAccessTokens/{wire.mask(OTHER)}",
    )


def test_an_empty_token_value_is_an_invalid_request(tokens: AgentTokens) -> None:
    with pytest.raises(errors.InvalidRequestError) as caught:
        tokens.update("", enabled=False)
    error = caught.value
    assert (error.status, error.method, error.path, error.message) == (
        400,
        "",
        "/api/v2/AgentAccessTokens",
        "an agent access token value is required",
    )


@pytest.mark.parametrize("lookup", ["search", "find"])
def test_searches_are_repeated_after_a_gateway_error(
    rsps: responses.RequestsMock, lookup: str
) -> None:
    rsps.add(responses.POST, SEARCH_URL, json={"message": "bad gateway"}, status=502)
    rsps.add(responses.POST, SEARCH_URL, json={"data": [token_wire()]})
    tokens = make_client().agent_tokens
    if lookup == "search":
        found = tokens.search([SearchFilter("tokenAlias", Expression.EQ, "prod")])
        assert [t.token for t in found] == [TOKEN]
    else:
        one = tokens.find("prod")
        assert one is not None and one.token == TOKEN
    assert len(calls_to(rsps, "POST", SEARCH_URL)) == 2

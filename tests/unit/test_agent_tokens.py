"""The agent-token lifecycle API, against recorded Lacework answers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
import responses
from sdk_fakes import (
    SEARCH_URL,
    TOKEN,
    TOKENS_URL,
    add_bearer,
    body_of,
    calls_to,
    make_client,
    token_wire,
)

from lacework_tokens import AgentAccessToken, Expression, SearchFilter, errors, wire

TOKEN_URL = f"{TOKENS_URL}/{TOKEN}"


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        add_bearer(mock)
        yield mock


def test_create_sends_what_the_official_clients_send(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, TOKENS_URL, json={"data": token_wire()}, status=201)
    created = make_client().agent_tokens.create("prod", description="k8s deployment")
    assert body_of(calls_to(rsps, "POST", TOKENS_URL)[0]) == {
        "tokenAlias": "prod",
        "tokenEnabled": 1,
        "props": {"description": "k8s deployment", "os": "linux"},
    }
    assert created.token == TOKEN
    assert created.name == "prod"
    assert created.enabled is True
    assert created.description == "k8s deployment"


def test_create_without_description_omits_it(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, TOKENS_URL, json={"data": token_wire(description="")}, status=201)
    make_client().agent_tokens.create("prod", os="windows")
    sent = body_of(calls_to(rsps, "POST", TOKENS_URL)[0])
    assert sent["props"] == {"os": "windows"}


def test_create_disabled_is_a_create_then_a_disable(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, TOKENS_URL, json={"data": token_wire()}, status=201)
    rsps.add(responses.PATCH, TOKEN_URL, json={"data": token_wire(enabled=0)})
    created = make_client().agent_tokens.create("prod", enabled=False)
    assert created.enabled is False
    assert body_of(calls_to(rsps, "PATCH", TOKEN_URL)[0]) == {"tokenEnabled": 0}


def test_create_with_a_taken_name_is_a_conflict(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, TOKENS_URL, json={"message": "alias 'prod' exists"}, status=409)
    with pytest.raises(errors.ConflictError, match="alias 'prod' exists"):
        make_client().agent_tokens.create("prod")


@pytest.mark.parametrize(
    "failure",
    [
        {"json": {"message": "bad gateway"}, "status": 502},
        {"json": {"message": "unavailable"}, "status": 503},
        {"json": {"message": "timeout"}, "status": 504},
        {"body": requests.exceptions.ConnectionError("connection reset after sending")},
        {"body": requests.exceptions.ReadTimeout("no answer")},
    ],
    ids=["502", "503", "504", "dropped", "timeout"],
)
def test_a_create_with_an_unknown_outcome_is_not_duplicated(
    rsps: responses.RequestsMock, failure: dict[str, object]
) -> None:
    # The first POST reached the server and created the token, but its answer was lost.
    rsps.add(responses.POST, TOKENS_URL, **failure)  # type: ignore[arg-type]
    rsps.add(responses.POST, SEARCH_URL, json={"data": [token_wire()]})
    created = make_client().agent_tokens.create("prod", description="k8s deployment")
    assert created.token == TOKEN
    assert len(calls_to(rsps, "POST", TOKENS_URL)) == 1
    search = calls_to(rsps, "POST", SEARCH_URL)
    assert body_of(search[0]) == {
        "filters": [{"expression": "eq", "field": "tokenAlias", "value": "prod"}]
    }


def test_a_create_that_did_not_happen_is_retried_after_looking(
    rsps: responses.RequestsMock,
) -> None:
    rsps.add(responses.POST, TOKENS_URL, json={"message": "bad gateway"}, status=502)
    rsps.add(responses.POST, TOKENS_URL, json={"data": token_wire()}, status=201)
    rsps.add(responses.POST, SEARCH_URL, json={"data": []})
    created = make_client().agent_tokens.create("prod", description="k8s deployment")
    assert created.token == TOKEN
    assert len(calls_to(rsps, "POST", TOKENS_URL)) == 2
    assert len(calls_to(rsps, "POST", SEARCH_URL)) == 1


def test_a_lookup_finding_someone_elses_token_is_a_conflict(
    rsps: responses.RequestsMock,
) -> None:
    rsps.add(responses.POST, TOKENS_URL, json={"message": "bad gateway"}, status=502)
    rsps.add(responses.POST, SEARCH_URL, json={"data": [token_wire(description="other")]})
    with pytest.raises(errors.ConflictError, match="outcome of creating"):
        make_client().agent_tokens.create("prod", description="mine")
    assert len(calls_to(rsps, "POST", TOKENS_URL)) == 1


def test_get_and_not_found(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, TOKEN_URL, json={"data": token_wire()})
    tokens = make_client().agent_tokens
    assert tokens.get(TOKEN).name == "prod"
    missing = "0" * 64
    rsps.add(responses.GET, f"{TOKENS_URL}/{missing}", json={"message": "Not found"}, status=404)
    with pytest.raises(errors.NotFoundError) as caught:
        tokens.get(missing)
    assert caught.value.status == 404
    assert missing not in str(caught.value.path)
    assert caught.value.path == f"/api/v2/AgentAccessTokens/{wire.mask(missing)}"


def test_import_token_refuses_an_answer_about_another_token(
    rsps: responses.RequestsMock,
) -> None:
    other = "f" * 64
    rsps.add(responses.GET, f"{TOKENS_URL}/{other}", json={"data": token_wire(token=TOKEN)})
    with pytest.raises(errors.NotFoundError) as caught:
        make_client().agent_tokens.import_token(other)
    assert str(caught.value.message) == f"Agent access token '{wire.mask(other)}' was not found."
    assert other not in str(caught.value)


def test_import_token_returns_the_matching_token(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, TOKEN_URL, json={"data": token_wire()})
    assert make_client().agent_tokens.import_token(TOKEN).token == TOKEN


def test_list_and_search(rsps: responses.RequestsMock) -> None:
    second = "a" * 64
    rsps.add(
        responses.GET,
        TOKENS_URL,
        json={"data": [token_wire(), token_wire(token=second, name="dev", enabled=0)]},
    )
    rsps.add(responses.POST, SEARCH_URL, json={"data": [token_wire(token=second, name="dev")]})
    tokens = make_client().agent_tokens
    listed = tokens.list()
    assert [(t.name, t.enabled) for t in listed] == [("prod", True), ("dev", False)]
    found = tokens.search([SearchFilter("tokenEnabled", Expression.EQ, 0)])
    assert [t.token for t in found] == [second]
    assert body_of(calls_to(rsps, "POST", SEARCH_URL)[0]) == {
        "filters": [{"expression": "eq", "field": "tokenEnabled", "value": 0}]
    }


def test_find_returns_only_an_exact_name_match(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.POST, SEARCH_URL, json={"data": [token_wire(name="Prod")]})
    tokens = make_client().agent_tokens
    assert tokens.find("prod") is None
    rsps.replace(responses.POST, SEARCH_URL, json={"data": [token_wire(name="prod")]})
    found = tokens.find("prod")
    assert found is not None and found.token == TOKEN


def test_update_sends_only_what_is_given(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.PATCH, TOKEN_URL, json={"data": token_wire(name="renamed")})
    tokens = make_client().agent_tokens
    tokens.update(TOKEN, name="renamed")
    tokens.update(TOKEN, description="")
    tokens.update(TOKEN, description="new", enabled=True)
    sent = [body_of(c) for c in calls_to(rsps, "PATCH", TOKEN_URL)]
    assert sent == [
        {"tokenAlias": "renamed"},
        {"props": {"description": ""}},
        {"tokenEnabled": 1, "props": {"description": "new"}},
    ]


def test_enable_and_disable(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.PATCH, TOKEN_URL, json={"data": token_wire(enabled=0)})
    tokens = make_client().agent_tokens
    assert tokens.disable(TOKEN).enabled is False
    rsps.replace(responses.PATCH, TOKEN_URL, json={"data": token_wire(enabled=1)})
    assert tokens.enable(TOKEN).enabled is True
    sent = [body_of(c) for c in calls_to(rsps, "PATCH", TOKEN_URL)]
    assert sent == [{"tokenEnabled": 0}, {"tokenEnabled": 1}]


def test_soft_delete_renames_and_disables_like_the_provider(
    rsps: responses.RequestsMock,
) -> None:
    rsps.add(responses.GET, TOKEN_URL, json={"data": token_wire()})
    rsps.add(
        responses.PATCH,
        TOKEN_URL,
        json={"data": token_wire(name="prod-ab1c2-deleted", enabled=0)},
    )
    deleted = make_client().agent_tokens.soft_delete(TOKEN)
    assert deleted.enabled is False
    sent = body_of(calls_to(rsps, "PATCH", TOKEN_URL)[0])
    assert sent["tokenEnabled"] == 0
    assert re.fullmatch(r"prod-[a-z0-9]{5}-deleted", sent["tokenAlias"])
    assert set(sent) == {"tokenEnabled", "tokenAlias"}


def test_malformed_token_from_the_server_is_a_transport_error(
    rsps: responses.RequestsMock,
) -> None:
    bad = token_wire()
    bad["tokenEnabled"] = True
    rsps.add(responses.GET, TOKEN_URL, json={"data": bad})
    with pytest.raises(errors.TransportError, match="tokenEnabled") as caught:
        make_client().agent_tokens.get(TOKEN)
    assert TOKEN not in str(caught.value)


def test_an_empty_token_value_is_refused_before_any_request(
    rsps: responses.RequestsMock,
) -> None:
    with pytest.raises(errors.InvalidRequestError):
        make_client().agent_tokens.get("")
    assert calls_to(rsps, "GET", TOKENS_URL) == []


def test_the_token_model_hides_the_value() -> None:
    token = AgentAccessToken(token=TOKEN, name="prod")
    assert TOKEN not in repr(token)
    assert TOKEN not in str(token)


def test_when_attempts_run_out_the_last_uncertain_create_is_looked_up(
    rsps: responses.RequestsMock,
) -> None:
    rsps.add(responses.POST, TOKENS_URL, json={"message": "bad gateway"}, status=502)
    # Not there after the first two failures, there after the last one.
    rsps.add(responses.POST, SEARCH_URL, json={"data": []})
    rsps.add(responses.POST, SEARCH_URL, json={"data": []})
    rsps.add(responses.POST, SEARCH_URL, json={"data": [token_wire()]})
    created = make_client(max_attempts=3).agent_tokens.create("prod", description="k8s deployment")
    assert created.token == TOKEN
    assert len(calls_to(rsps, "POST", TOKENS_URL)) == 3
    assert len(calls_to(rsps, "POST", SEARCH_URL)) == 3


def test_a_create_that_cannot_be_checked_says_its_outcome_is_unknown(
    rsps: responses.RequestsMock,
) -> None:
    rsps.add(responses.POST, TOKENS_URL, json={"message": "bad gateway"}, status=502)
    rsps.add(responses.POST, SEARCH_URL, body=requests.exceptions.ConnectionError("down"))
    with pytest.raises(errors.TransportError, match="may or may not have taken effect"):
        make_client(max_attempts=2).agent_tokens.create("prod")
    assert len(calls_to(rsps, "POST", TOKENS_URL)) == 1


def test_soft_delete_retries_a_taken_name_with_a_fresh_suffix(
    rsps: responses.RequestsMock,
) -> None:
    taken = {"message": "Agent access token with name 'prod-aaaaa-deleted' already exists."}
    rsps.add(responses.PATCH, TOKEN_URL, json=taken, status=409)
    rsps.add(
        responses.PATCH, TOKEN_URL, json={"data": token_wire(name="prod-b2c3d-deleted", enabled=0)}
    )
    deleted = make_client().agent_tokens.soft_delete(TOKEN, name="prod")
    assert deleted.name == "prod-b2c3d-deleted"
    aliases = [body_of(call)["tokenAlias"] for call in calls_to(rsps, "PATCH", TOKEN_URL)]
    assert len(aliases) == 2 and aliases[0] != aliases[1]
    assert all(re.fullmatch(r"prod-[a-z0-9]{5}-deleted", alias) for alias in aliases)
    assert calls_to(rsps, "GET", TOKEN_URL) == []  # the name was given: no lookup


def test_soft_delete_gives_up_after_five_taken_names(rsps: responses.RequestsMock) -> None:
    from lacework_tokens.agent_tokens import SOFT_DELETE_ATTEMPTS

    rsps.add(responses.GET, TOKEN_URL, json={"data": token_wire()})
    rsps.add(responses.PATCH, TOKEN_URL, json={"message": "already exists."}, status=409)
    with pytest.raises(errors.ConflictError):
        make_client().agent_tokens.soft_delete(TOKEN)
    assert len(calls_to(rsps, "PATCH", TOKEN_URL)) == SOFT_DELETE_ATTEMPTS == 5


def test_a_second_soft_delete_changes_nothing(rsps: responses.RequestsMock) -> None:
    rsps.add(
        responses.GET, TOKEN_URL, json={"data": token_wire(name="prod-x1y2z-deleted", enabled=0)}
    )
    deleted = make_client().agent_tokens.soft_delete(TOKEN)
    assert deleted.name == "prod-x1y2z-deleted"
    assert deleted.soft_deleted and deleted.state == "deleted"
    assert not calls_to(rsps, "PATCH", TOKEN_URL)


def test_a_token_s_state_tells_deleted_from_disabled() -> None:
    def state(name: str, enabled: int) -> str:
        return wire.parse(token_wire(name=name, enabled=enabled), AgentAccessToken).state

    assert state("prod", 1) == "enabled"
    assert state("prod", 0) == "disabled"
    assert state("prod-x1y2z-deleted", 0) == "deleted"
    assert state("prod-x1y2z-deleted", 1) == "enabled"  # revived: in use again
    assert state("prod-deleted", 0) == "disabled"  # not the shape a soft delete gives

"""Properties of the one wire converter: every model round-trips, malformed data is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from lacework_tokens import limits, wire
from lacework_tokens.wire import (
    AccessTokenRequest,
    AccessTokenResponse,
    AgentAccessToken,
    ApiKeyFile,
    CreateAgentTokenRequest,
    ErrorBody,
    Expression,
    SearchFilter,
    SearchRequest,
    TokenProps,
    UpdateAgentTokenRequest,
    WireError,
)

# Times survive the wire with millisecond precision, in UTC.
times = st.datetimes(
    min_value=datetime(1, 1, 1),
    max_value=datetime(9999, 12, 31, 23, 59, 59),
    timezones=st.just(UTC),
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
text = st.text(max_size=40)
names = st.text(min_size=1, max_size=40)
token_values = st.text(alphabet="0123456789abcdef", min_size=8, max_size=64)
optional_text = st.none() | text

agent_tokens = st.builds(
    AgentAccessToken,
    token=token_values,
    name=names,
    description=text,
    os=st.sampled_from(["linux", "windows"]) | text,
    enabled=st.booleans(),
    created_time=times,
    last_updated_time=times,
    version=text,
    subscription=st.none() | st.sampled_from(["standard", "professional", "enterprise"]),
)
props = st.builds(TokenProps, description=optional_text, os=optional_text, subscription=st.none())
create_requests = st.builds(
    CreateAgentTokenRequest, token_alias=names, token_enabled=st.booleans(), props=props
)
update_requests = st.builds(
    UpdateAgentTokenRequest,
    token_alias=st.none() | names,
    token_enabled=st.none() | st.booleans(),
    # An empty props object is not sent at all, so it comes back as None.
    props=st.none()
    | props.filter(lambda p: any(v is not None for v in (p.description, p.os, p.subscription))),
)
scalar_values = st.text(max_size=20) | st.integers(min_value=-(2**31), max_value=2**31)
# The wire carries any field name; which ones a server can search is the server's rule.
LIST_EXPRESSIONS = (Expression.IN, Expression.NOT_IN, Expression.BETWEEN)
search_filters = st.builds(
    SearchFilter,
    field=names,
    expression=st.sampled_from([e for e in Expression if e not in LIST_EXPRESSIONS]),
    value=scalar_values,
) | st.builds(
    SearchFilter,
    field=names,
    expression=st.sampled_from(LIST_EXPRESSIONS),
    values=st.lists(scalar_values, min_size=1, max_size=4).map(tuple),
)
search_requests = st.builds(SearchRequest, filters=st.lists(search_filters, max_size=4).map(tuple))
access_requests = st.builds(
    AccessTokenRequest,
    key_id=names,
    expiry_time=st.integers(min_value=1, max_value=limits.EXPIRY_MAX_SECONDS),
)
access_responses = st.builds(AccessTokenResponse, token=names, expires_at=times)
error_bodies = st.builds(ErrorBody, message=text)
key_files = st.builds(ApiKeyFile, key_id=names, secret=names, account=names, sub_account=text)


def through_json(model: Any) -> Any:
    """Unstructure, send through real JSON text, and parse back as the same model."""
    encoded = json.dumps(wire.converter.unstructure(model))
    return wire.parse(json.loads(encoded), type(model))


@given(agent_tokens)
def test_agent_access_token_round_trips(token: AgentAccessToken) -> None:
    assert through_json(token) == token


@given(agent_tokens)
def test_token_enabled_is_the_integer_zero_or_one(token: AgentAccessToken) -> None:
    data = wire.converter.unstructure(token)
    assert data["tokenEnabled"] in (0, 1)
    assert type(data["tokenEnabled"]) is int
    assert "enabled" not in data


@given(agent_tokens)
def test_times_carry_milliseconds_and_a_z(token: AgentAccessToken) -> None:
    data = wire.converter.unstructure(token)
    for value in (data["createdTime"], data["props"]["createdTime"]):
        assert value.endswith("Z")
        assert len(value.split(".")[1]) == 4  # three digits and the Z


@given(create_requests)
def test_create_request_round_trips(request: CreateAgentTokenRequest) -> None:
    assert through_json(request) == request


@given(update_requests)
def test_update_request_round_trips(request: UpdateAgentTokenRequest) -> None:
    assert through_json(request) == request


@given(search_requests)
def test_search_request_round_trips(request: SearchRequest) -> None:
    assert through_json(request) == request


@given(access_requests)
def test_access_token_request_round_trips(request: AccessTokenRequest) -> None:
    assert through_json(request) == request


@given(access_responses)
def test_access_token_response_round_trips(response: AccessTokenResponse) -> None:
    assert through_json(response) == response


@given(error_bodies)
def test_error_body_round_trips(body: ErrorBody) -> None:
    assert through_json(body) == body


@given(key_files)
def test_api_key_file_round_trips(key_file: ApiKeyFile) -> None:
    assert through_json(key_file) == key_file


@given(agent_tokens, token_values)
def test_reprs_never_depend_on_the_secret(token: AgentAccessToken, other: str) -> None:
    changed = attrs.evolve(token, token=other)
    assert repr(changed) == repr(token)
    assert str(changed) == str(token)
    response = AccessTokenResponse(token=token.token, expires_at=token.created_time)
    assert repr(attrs.evolve(response, token=other)) == repr(response)


# --- malformed data -------------------------------------------------------------------------

not_strings = st.integers() | st.booleans() | st.lists(st.integers(), max_size=2) | st.floats()
garbage_times = st.text(max_size=30).filter(lambda t: not wire._RFC3339.match(t)) | st.sampled_from(
    [
        "2026-13-01T00:00:00Z",
        "2026-11-25",
        "2026-11-25T25:00:00Z",
        "2026-02-30T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "yesterday",
        "",
    ]
)


def refused(data: Any, model: type[Any]) -> WireError:
    try:
        wire.parse(data, model)
    except WireError as exc:
        return exc
    raise AssertionError(f"{model.__name__} accepted {data!r}")


@given(agent_tokens, st.sampled_from(["accessToken", "tokenAlias", "createdTime"]))
def test_a_token_without_a_required_field_is_refused(token: AgentAccessToken, key: str) -> None:
    data = wire.converter.unstructure(token)
    del data[key]
    assert refused(data, AgentAccessToken).field == key


@given(agent_tokens, st.booleans())
def test_a_bool_token_enabled_is_refused(token: AgentAccessToken, flag: bool) -> None:
    data = wire.converter.unstructure(token)
    data["tokenEnabled"] = flag
    assert refused(data, AgentAccessToken).field == "tokenEnabled"


@given(agent_tokens, st.integers().filter(lambda n: n not in (0, 1)) | st.text() | st.floats())
def test_token_enabled_other_than_zero_or_one_is_refused(
    token: AgentAccessToken, value: Any
) -> None:
    data = wire.converter.unstructure(token)
    data["tokenEnabled"] = value
    assert refused(data, AgentAccessToken).field == "tokenEnabled"


@given(agent_tokens, st.sampled_from(["accessToken", "tokenAlias", "version"]), not_strings)
def test_a_wrongly_typed_token_field_is_refused(
    token: AgentAccessToken, key: str, value: Any
) -> None:
    data = wire.converter.unstructure(token)
    data[key] = value
    assert refused(data, AgentAccessToken).field == key


@given(agent_tokens, st.sampled_from(["description", "os"]), not_strings)
def test_a_wrongly_typed_prop_is_refused(token: AgentAccessToken, key: str, value: Any) -> None:
    data = wire.converter.unstructure(token)
    data["props"][key] = value
    assert refused(data, AgentAccessToken).field == f"props.{key}"


@given(agent_tokens, garbage_times, st.booleans())
def test_garbage_times_are_refused(token: AgentAccessToken, garbage: str, in_props: bool) -> None:
    data = wire.converter.unstructure(token)
    if in_props:
        data["props"]["createdTime"] = garbage
    else:
        data["createdTime"] = garbage
    if in_props and not garbage:
        return  # an empty props time falls back to the top-level time
    error = refused(data, AgentAccessToken)
    assert error.field == ("props.createdTime" if in_props else "createdTime")


@given(st.none() | st.integers() | st.text() | st.lists(st.integers(), max_size=2))
def test_a_body_that_is_no_object_is_refused(data: Any) -> None:
    for model in (AgentAccessToken, CreateAgentTokenRequest, AccessTokenResponse, ApiKeyFile):
        refused(data, model)


@given(access_responses, garbage_times)
def test_access_token_response_with_garbage_expiry_is_refused(
    response: AccessTokenResponse, garbage: str
) -> None:
    data = wire.converter.unstructure(response)
    data["expiresAt"] = garbage
    assert refused(data, AccessTokenResponse).field == "expiresAt"


@given(
    st.integers().filter(lambda n: not 1 <= n <= limits.EXPIRY_MAX_SECONDS)
    | st.booleans()
    | st.text()
)
def test_access_token_request_with_a_bad_expiry_is_refused(expiry: Any) -> None:
    assert refused({"keyId": "K", "expiryTime": expiry}, AccessTokenRequest).field == "expiryTime"


@given(create_requests, st.booleans())
def test_create_request_with_a_bool_enabled_is_refused(
    request: CreateAgentTokenRequest, flag: bool
) -> None:
    data = wire.converter.unstructure(request)
    data["tokenEnabled"] = flag
    assert refused(data, CreateAgentTokenRequest).field == "tokenEnabled"


@given(st.sampled_from(["keyId", "secret", "account"]))
def test_api_key_file_without_a_required_field_is_refused(key: str) -> None:
    data = {"keyId": "K", "secret": "S", "account": "a"}
    del data[key]
    assert refused(data, ApiKeyFile).field == key


def test_go_zero_time_from_clients_is_accepted_in_requests() -> None:
    # The Go SDK sends createdTime "0001-01-01T00:00:00Z" inside props; the server ignores it.
    data = {
        "tokenEnabled": 1,
        "tokenAlias": "prod",
        "props": {"createdTime": "0001-01-01T00:00:00Z", "description": "d", "os": "linux"},
    }
    parsed = wire.parse(data, CreateAgentTokenRequest)
    assert parsed.props == TokenProps(description="d", os="linux")


def test_any_rfc3339_time_is_read_as_utc() -> None:
    parsed = wire.parse_time("2026-11-25T14:00:00.123456789+02:00")
    assert parsed == datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
    assert wire.format_time(parsed + timedelta(microseconds=999)) == "2026-11-25T12:00:00.124Z"


any_zone_times = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)


@given(
    agent_tokens,
    st.text(max_size=40),
    st.none() | st.text(max_size=20),
    any_zone_times,
    any_zone_times,
    st.none() | any_zone_times,
    st.none() | st.integers(min_value=1, max_value=1_000_000),
    st.none() | st.text(max_size=20),
)
def test_the_fast_token_encoding_is_the_converters_byte_for_byte(
    token: AgentAccessToken,
    name: str,
    subscription: str | None,
    created: datetime,
    updated: datetime,
    expires: datetime | None,
    max_enrollments: int | None,
    scope: str | None,
) -> None:
    # Any text (quotes, controls, non-ASCII, surrogates escaped), times in any zone, and the
    # enrollment policy present or not.
    token = attrs.evolve(
        token,
        name=name,
        subscription=subscription,
        created_time=created,
        last_updated_time=updated,
        expires_at=expires,
        max_enrollments=max_enrollments,
        scope=scope,
    )
    expected = json.dumps(wire.converter.unstructure(token), separators=(",", ":"))
    assert wire.encode_token(token) == expected

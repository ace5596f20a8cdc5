"""No request makes the backend answer 500: random methods, paths, headers and bodies.

Every answer must be a JSON object with a status below 500, and the server must log no
unexpected error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wire_calls import Wire

from lacework_tokens.testing import Backend, run_backend

ROUTES = [
    "/healthz",
    "/api/v2/access/tokens",
    "/api/v2/AgentAccessTokens",
    "/api/v2/AgentAccessTokens/search",
    "/api/v2/AgentAccessTokens/{token}",
    "/api/v2/AgentAccessTokens/",
]
KEYS = [
    "tokenAlias",
    "tokenEnabled",
    "props",
    "description",
    "os",
    "subscription",
    "createdTime",
    "filters",
    "field",
    "expression",
    "value",
    "values",
    "keyId",
    "expiryTime",
]
FIELDS = ["tokenAlias", "tokenEnabled", "props.os", "props.description", "createdTime"]
EXPRESSIONS = ["eq", "ne", "in", "like", "ilike", "gt", "ge", "lt", "le"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=80),
    st.sampled_from(FIELDS + EXPRESSIONS + ["0001-01-01T00:00:00Z", "%", "\\", "_", ""]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), children, max_size=5
        ),
    ),
    max_leaves=20,
)
filters = st.fixed_dictionaries(
    {"field": st.sampled_from(FIELDS), "expression": st.sampled_from(EXPRESSIONS)},
    optional={"value": scalars, "values": st.lists(scalars, max_size=3)},
)
wire_like = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6),
    st.fixed_dictionaries({"filters": st.lists(filters, max_size=3)}),
    st.fixed_dictionaries(
        {"tokenAlias": st.text(max_size=70), "tokenEnabled": scalars},
        optional={"props": st.dictionaries(st.sampled_from(KEYS), scalars, max_size=4)},
    ),
)
bodies = st.one_of(
    st.none(),
    st.binary(max_size=200),
    st.sampled_from([b'{"tokenAlias": NaN}', b'{"keyId": "k", "expiryTime": Infinity}']),
    json_values.map(lambda v: json.dumps(v).encode()),
    wire_like.map(lambda v: json.dumps(v).encode() + b"\n"),
)
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60
).map(str.strip)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with run_backend(tmp_path_factory.mktemp("fuzz")) as running:
        yield running


@pytest.fixture(scope="module")
def api(backend: Backend) -> Wire:
    return Wire(backend)


@pytest.fixture(scope="module")
def token(api: Wire) -> str:
    value: str = api.create("fuzz-target", description="d")["accessToken"]
    return value


def check_answer(response: requests.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    if response.request.method == "HEAD":
        return
    assert response.headers["Content-Type"] == "application/json"
    body: Any = response.json()
    assert isinstance(body, dict) and body


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "HEAD", "TRACE"]),
    route=st.sampled_from(ROUTES),
    suffix=st.one_of(st.just(""), st.text(max_size=20).map(lambda t: quote(t, safe=""))),
    body=bodies,
    authorization=st.sampled_from(["bearer", "raw", "none", "random"]),
    random_header=header_text,
    account_name=st.one_of(st.none(), st.just("local"), header_text),
    content_type=st.one_of(st.none(), st.just("application/json"), header_text),
)
def test_no_input_makes_the_server_fail(
    api: Wire,
    token: str,
    method: str,
    route: str,
    suffix: str,
    body: bytes | None,
    authorization: str,
    random_header: str,
    account_name: str | None,
    content_type: str | None,
) -> None:
    path = route.replace("{token}", token) + suffix
    headers = {
        "bearer": {"Authorization": f"Bearer {api.bearer}"},
        "raw": {"Authorization": api.bearer},
        "none": {},
        "random": {"Authorization": random_header},
    }[authorization]
    headers = {**headers, "X-LW-UAKS": api.backend.api_secret, "Method": method}
    if account_name is not None:
        headers["Account-Name"] = account_name
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = requests.request(
        method, f"{api.backend.url}{path}", data=body, headers=headers, timeout=30
    )
    check_answer(response)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=wire_like)
def test_wire_shaped_patches_never_fail_and_keep_the_token_readable(
    api: Wire, token: str, body: dict[str, Any]
) -> None:
    check_answer(api.patch(token, body))
    read = api.get(token)
    assert read.status_code == 200
    assert read.json()["data"]["accessToken"] == token


def test_the_server_logged_no_unexpected_error(backend: Backend, api: Wire) -> None:
    for route in ROUTES:
        check_answer(api.call("POST", route, data=b"\x00\xff"))
    assert "unexpected" not in backend.logs()

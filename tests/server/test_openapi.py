"""``GET /openapi.json``: a valid OpenAPI 3.1 document that the server's answers conform to.

The document is checked by ``openapi-spec-validator``, compared with the wire constants it is
built from, and then schemathesis generates requests from it (valid and invalid ones) against a
real server: no answer may be a 5xx, and every answer must have a documented status, content
type, headers and body schema. Generation is derandomized so a run is repeatable.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.specs.openapi import checks
from wire_calls import TOKENS, Wire, bearer_token

from lacework_tokens import limits, wire
from lacework_tokens.server.openapi import openapi_document
from lacework_tokens.server.services.tokens import SEARCH_FIELDS
from lacework_tokens.testing import Backend, run_backend

# Every response the app can give on any route, by status: the document must name each.
ROUTES = {
    ("/api/v2/access/tokens", "post"): {201, 400, 401, 413, 429},
    (TOKENS, "get"): {200, 401, 403, 429},
    (TOKENS, "post"): {201, 400, 401, 403, 409, 413, 429},
    (f"{TOKENS}/search", "post"): {200, 400, 401, 403, 413, 429},
    (TOKENS + "/{accessToken}", "get"): {200, 401, 403, 404, 429},
    (TOKENS + "/{accessToken}", "patch"): {200, 400, 401, 403, 404, 409, 413, 429},
    (f"{TOKENS}/usage", "post"): {200, 400, 401, 403, 404, 413, 429},
    ("/api/v2/AgentInfo/search", "post"): {200, 400, 401, 403, 413, 429},
    ("/api/v2/AgentInfo/search/{page}", "get"): {200, 400, 401, 403, 429},
    ("/api/v2/AgentEnrollment", "post"): {201, 400, 401, 403, 413},
    ("/api/v2/AgentCheckin", "post"): {200, 400, 401, 403, 404, 413},
}


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    # No rate limits here: schemathesis sends hundreds of requests a second with one key, and
    # the answers must depend on the requests, not on timing. test_limits covers the 429s.
    args = ["--rate-limit", "0", "--login-rate-limit", "0"]
    with run_backend(tmp_path_factory.mktemp("openapi"), extra_args=args) as running:
        yield running


@pytest.fixture(scope="module")
def served(backend: Backend) -> dict[str, Any]:
    response = requests.get(f"{backend.url}/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    document: dict[str, Any] = response.json()
    return document


def test_the_document_is_served_without_credentials_and_is_valid_openapi(
    served: dict[str, Any],
) -> None:
    validate(served)
    assert served["openapi"].startswith("3.")
    assert served == openapi_document()


def test_every_route_documents_every_status_it_can_answer(served: dict[str, Any]) -> None:
    for (path, method), statuses in ROUTES.items():
        answers = served["paths"][path][method]["responses"]
        assert statuses <= {int(status) for status in answers}, (path, method)
        for status in statuses - {200, 201}:
            schema = answers[str(status)]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}
        if 429 in statuses:
            assert "Retry-After" in answers["429"]["headers"]


def test_security_schemes_name_the_headers_clients_send(served: dict[str, Any]) -> None:
    schemes = served["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "in": "header", "name": "Authorization"}
    assert schemes["apiSecret"] == {**schemes["apiSecret"], "in": "header", "name": "X-LW-UAKS"}
    assert served["paths"]["/api/v2/access/tokens"]["post"]["security"] == [{"apiSecret": []}]
    assert served["security"] == [{"bearer": []}]
    assert served["paths"]["/healthz"]["get"]["security"] == []


def test_limits_come_from_the_wire_constants(served: dict[str, Any]) -> None:
    schemas = served["components"]["schemas"]
    create = schemas["CreateAgentTokenRequest"]["properties"]
    assert create["tokenAlias"]["maxLength"] == limits.ALIAS_MAX_LENGTH
    assert create["tokenEnabled"]["enum"] == [0, 1]
    expiry = schemas["AccessTokenRequest"]["properties"]["expiryTime"]
    assert (expiry["minimum"], expiry["maximum"]) == (1, limits.EXPIRY_MAX_SECONDS)
    search = schemas["SearchFilter"]["properties"]
    assert set(search["field"]["enum"]) == SEARCH_FIELDS
    assert set(search["expression"]["enum"]) == {e.value for e in wire.Expression}
    props = schemas["TokenProps"]["properties"]
    assert props["description"]["maxLength"] == limits.DESCRIPTION_MAX_LENGTH
    assert props["os"]["enum"] == list(limits.OS_VALUES)


def test_real_answers_match_the_documented_schemas(
    backend: Backend, served: dict[str, Any]
) -> None:
    """One of each success, checked against the served document with a JSON Schema validator."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    dialect = Draft202012Validator.META_SCHEMA["$id"]
    registry: Registry[Any] = Registry().with_resource(
        "urn:api", Resource.from_contents({**served, "$schema": dialect})
    )

    def check(instance: Any, name: str) -> None:
        schema = {"$ref": f"urn:api#/components/schemas/{name}"}
        Draft202012Validator(schema, registry=registry).validate(instance)

    api = Wire(backend)
    created = api.create("documented", description="d", os="windows")
    check({"data": created}, "TokenAnswer")
    check({"data": api.list()}, "TokenListAnswer")
    check(api.search({"filters": []}).json(), "TokenListAnswer")
    check(api.patch(created["accessToken"], {"tokenEnabled": 0}).json(), "TokenAnswer")
    check(api.get("0" * 56).json(), "Error")
    issued = requests.post(
        f"{backend.url}/api/v2/access/tokens",
        json={"keyId": backend.api_key},
        headers={"X-LW-UAKS": backend.api_secret},
        timeout=30,
    )
    check(issued.json(), "AccessTokenResponse")


# --- schemathesis ---------------------------------------------------------------------------------

# Built from the same function the server serves (checked equal above); loaded in-process because
# schemathesis' fixture-based loading does not work with this pytest.
schema = schemathesis.openapi.from_dict(openapi_document())
# A generated body past the server's 64 KiB is refused before it is read: 413 is a rejection too.
schema.config.checks.negative_data_rejection.expected_statuses = [
    *schema.config.checks.negative_data_rejection.expected_statuses,
    "413",
]


# Real credentials, known once the module's server runs (see ``credentials``). Cases built
# while tests are collected carry a placeholder, replaced by the real value before sending.
CREDENTIALS: dict[str, str] = {}
PLACEHOLDER = "credentials-not-yet-known"
ACCESS_TOKENS = "/api/v2/access/tokens"


@schema.auth(refresh_interval=None).skip_for(path=ACCESS_TOKENS)
class BearerAuth:
    def get(self, case: Any, context: Any) -> str:
        return CREDENTIALS.get("bearer", PLACEHOLDER)

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


@schema.auth(refresh_interval=None).apply_to(path=ACCESS_TOKENS)
class SecretAuth:
    def get(self, case: Any, context: Any) -> str:
        return CREDENTIALS.get("secret", PLACEHOLDER)

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "X-LW-UAKS": data}


@pytest.fixture(scope="module")
def credentials(backend: Backend) -> Iterator[None]:
    CREDENTIALS.update(bearer=bearer_token(backend), secret=backend.api_secret)
    yield
    CREDENTIALS.clear()


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_get_documented_answers_and_never_a_5xx(
    case: Any, backend: Backend, credentials: None
) -> None:
    headers = case.headers or {}
    for name, kind in (("Authorization", "bearer"), ("X-LW-UAKS", "secret")):
        if headers.get(name) == PLACEHOLDER:
            headers[name] = CREDENTIALS[kind]
    if case.path == ACCESS_TOKENS and isinstance(case.body, dict):
        # Half of the generated logins name the real key, so successes are checked too.
        key_id = case.body.get("keyId")
        if isinstance(key_id, str) and len(key_id) % 2 == 0:
            case.body["keyId"] = backend.api_key
    # positive_data_acceptance is left out: it expects every schema-valid body to succeed, and
    # some rules cannot be said in JSON Schema (a name must be unique, a createdTime filter
    # value must be an RFC 3339 time, 80 characters only for a name ending in -deleted, no NUL
    # anywhere in a body, 277.0 is not an integer to Python's JSON reader).
    case.call_and_validate(
        base_url=backend.url, timeout=30, excluded_checks=[checks.positive_data_acceptance]
    )

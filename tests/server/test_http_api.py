"""Every route and status of the wire contract, against a real ``lacework-tokens serve``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from wire_calls import (
    ACCESS_TOKENS,
    TOKEN_VALUE,
    TOKENS,
    WIRE_TIME,
    Wire,
    assert_error,
    bearer_token,
    issue_bearer,
)

from lacework_tokens.testing import Backend, run_backend
from lacework_tokens.wire import parse_time


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with run_backend(tmp_path_factory.mktemp("http-api")) as running:
        yield running


@pytest.fixture(scope="module")
def api(backend: Backend) -> Wire:
    return Wire(backend)


@pytest.fixture(scope="module")
def raw_api(backend: Backend) -> Wire:
    return Wire(backend, raw=True)


_unique = iter(range(1_000_000))


def alias(prefix: str = "t") -> str:
    """A fresh alias: tests share one server, so each names its own tokens."""
    return f"{prefix}-{next(_unique)}"


# --- health and routing -----------------------------------------------------------------------


def test_healthz_answers_ok(backend: Backend) -> None:
    response = requests.get(f"{backend.url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "path",
    ["/", "/api/v2", "/api/v2/Nope", "/api/v1/AgentAccessTokens", f"{TOKENS}/abc/def"],
)
def test_unknown_paths_are_json_404(api: Wire, path: str) -> None:
    assert_error(api.call("GET", path), 404)


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        (TOKENS, "GET, POST"),
        (f"{TOKENS}/0123abcd", "GET, PATCH"),
        (f"{TOKENS}/search", "POST"),
        (ACCESS_TOKENS, "POST"),
        ("/healthz", "GET"),
    ],
)
@pytest.mark.parametrize("method", ["DELETE", "PUT", "OPTIONS"])
def test_methods_a_route_does_not_serve_are_405_with_allow(
    api: Wire, path: str, allow: str, method: str
) -> None:
    response = api.call(method, path)
    assert_error(response, 405)
    assert response.headers["Allow"] == allow


def test_delete_never_deletes_a_token(api: Wire) -> None:
    created = api.create(alias("keep"))
    response = api.call("DELETE", f"{TOKENS}/{created['accessToken']}")
    assert_error(response, 405)
    assert api.get(created["accessToken"]).json()["data"] == created


# --- access (bearer) tokens -------------------------------------------------------------------


def test_access_token_is_201_with_millisecond_expiry(backend: Backend) -> None:
    before = datetime.now(UTC)
    response = issue_bearer(backend, expiry_time=600)
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"token", "expiresAt"}
    assert WIRE_TIME.match(body["expiresAt"]), body["expiresAt"]
    expires_at = parse_time(body["expiresAt"])
    assert (
        before + timedelta(seconds=599) <= expires_at <= datetime.now(UTC) + timedelta(seconds=601)
    )


def test_access_token_expiry_defaults_to_one_hour(backend: Backend) -> None:
    response = requests.post(
        f"{backend.url}{ACCESS_TOKENS}",
        json={"keyId": backend.api_key},
        headers={"X-LW-UAKS": backend.api_secret},
        timeout=10,
    )
    assert response.status_code == 201
    remaining = parse_time(response.json()["expiresAt"]) - datetime.now(UTC)
    assert timedelta(minutes=58) < remaining <= timedelta(hours=1)


@pytest.mark.parametrize("case", ["missing secret", "unknown key", "wrong secret", "empty key"])
def test_access_token_refusals_share_one_401_message(backend: Backend, case: str) -> None:
    key_id = {"unknown key": "LOCAL_NOPE", "empty key": ""}.get(case, backend.api_key)
    headers = {} if case == "missing secret" else {"X-LW-UAKS": backend.api_secret}
    if case == "wrong secret":
        headers["X-LW-UAKS"] = "_not-the-secret"
    response = requests.post(
        f"{backend.url}{ACCESS_TOKENS}",
        json={"keyId": key_id, "expiryTime": 3600},
        headers=headers,
        timeout=10,
    )
    message = assert_error(response, 401)
    reference = requests.post(
        f"{backend.url}{ACCESS_TOKENS}",
        json={"keyId": "LOCAL_NOPE"},
        headers={"X-LW-UAKS": "x"},
        timeout=10,
    )
    assert message == assert_error(reference, 401)
    assert backend.api_secret not in response.text


@pytest.mark.parametrize("expiry", [0, -1, 86401, "x", "3600", True, 1.5, None, 10**30])
def test_access_token_expiry_out_of_range_or_wrong_type_is_400(
    backend: Backend, expiry: Any
) -> None:
    response = requests.post(
        f"{backend.url}{ACCESS_TOKENS}",
        data=json.dumps({"keyId": backend.api_key, "expiryTime": expiry}),
        headers={"X-LW-UAKS": backend.api_secret},
        timeout=10,
    )
    assert "expiryTime" in assert_error(response, 400)


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'"x"', b'{"expiryTime": 60}', b"\xff"])
def test_access_token_malformed_body_is_400(backend: Backend, body: bytes) -> None:
    response = requests.post(
        f"{backend.url}{ACCESS_TOKENS}",
        data=body,
        headers={"X-LW-UAKS": backend.api_secret},
        timeout=10,
    )
    assert_error(response, 400)


def test_expired_bearer_is_refused(backend: Backend) -> None:
    short = bearer_token(backend, expiry_time=1)
    url = f"{backend.url}{TOKENS}"
    assert requests.get(url, headers={"Authorization": short}, timeout=10).status_code == 200
    time.sleep(1.1)
    assert_error(requests.get(url, headers={"Authorization": short}, timeout=10), 401)


# --- authorization ----------------------------------------------------------------------------


def test_both_authorization_forms_are_accepted(api: Wire, raw_api: Wire) -> None:
    created = api.create(alias("auth"))
    assert raw_api.get(created["accessToken"]).json()["data"] == created
    assert created in raw_api.list()
    assert created in api.list()


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer nope", "nope", "Basic dXNlcjpwYXNz"]
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", TOKENS), ("POST", TOKENS), ("GET", f"{TOKENS}/abc"), ("POST", f"{TOKENS}/search")],
)
def test_missing_or_unknown_bearer_is_401(
    backend: Backend, authorization: str | None, method: str, path: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = requests.request(
        method, f"{backend.url}{path}", json={"tokenAlias": "x"}, headers=headers, timeout=10
    )
    assert_error(response, 401)


def test_api_secret_is_not_a_bearer(backend: Backend) -> None:
    response = requests.get(
        f"{backend.url}{TOKENS}", headers={"Authorization": backend.api_secret}, timeout=10
    )
    assert_error(response, 401)


# --- agent access tokens ----------------------------------------------------------------------


def test_create_answers_201_with_the_wire_shape(api: Wire) -> None:
    name = alias("shape")
    response = api.call(
        "POST",
        TOKENS,
        json={"tokenAlias": name, "tokenEnabled": 1, "props": {"description": "d"}},
    )
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    data = response.json()["data"]
    assert set(data) == {
        "accessToken",
        "createdTime",
        "props",
        "tokenAlias",
        "tokenEnabled",
        "version",
    }
    assert TOKEN_VALUE.match(data["accessToken"])
    assert data["tokenAlias"] == name
    assert data["tokenEnabled"] == 1 and type(data["tokenEnabled"]) is int
    assert isinstance(data["version"], str)
    assert data["props"]["description"] == "d"
    assert data["props"]["os"] == "linux"
    assert WIRE_TIME.match(data["createdTime"])
    assert WIRE_TIME.match(data["props"]["createdTime"])


def test_create_disabled_and_defaults(api: Wire) -> None:
    disabled = api.create(alias("off"), enabled=0)
    assert disabled["tokenEnabled"] == 0 and type(disabled["tokenEnabled"]) is int
    bare = api.call("POST", TOKENS, json={"tokenAlias": alias("bare")})
    assert bare.status_code == 201
    data = bare.json()["data"]
    assert data["tokenEnabled"] == 1
    assert data["props"]["os"] == "linux"
    assert data["props"]["description"] == ""


def test_client_sent_times_are_ignored(api: Wire) -> None:
    response = api.call(
        "POST",
        TOKENS,
        json={
            "tokenAlias": alias("times"),
            "tokenEnabled": 1,
            "createdTime": "0001-01-01T00:00:00Z",
            "props": {"createdTime": "0001-01-01T00:00:00Z", "os": "linux"},
        },
    )
    assert response.status_code == 201
    data = response.json()["data"]
    now = datetime.now(UTC)
    for text in (data["createdTime"], data["props"]["createdTime"]):
        assert abs(parse_time(text) - now) < timedelta(minutes=5)
    patched = api.patch(
        data["accessToken"],
        {"tokenEnabled": 1, "props": {"createdTime": "0001-01-01T00:00:00Z"}},
    )
    assert patched.status_code == 200
    assert patched.json()["data"]["props"]["createdTime"] == data["props"]["createdTime"]


def test_get_and_list_return_what_create_returned(api: Wire) -> None:
    created = api.create(alias("get"), description="x", os="windows")
    response = api.get(created["accessToken"])
    assert response.status_code == 200
    assert response.json() == {"data": created}
    assert created in api.list()


def test_patch_merges_props_and_keeps_what_is_not_sent(api: Wire) -> None:
    created = api.create(alias("merge"), description="first", os="windows")
    token = created["accessToken"]
    renamed = alias("merged")
    # The official provider's update: no os, client-side zero time.
    response = api.patch(
        token,
        {
            "tokenEnabled": 1,
            "tokenAlias": renamed,
            "props": {"createdTime": "0001-01-01T00:00:00Z", "description": "second"},
        },
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["tokenAlias"] == renamed
    assert data["props"]["os"] == "windows"
    assert data["props"]["description"] == "second"
    assert data["props"]["createdTime"] == created["props"]["createdTime"]
    assert parse_time(data["createdTime"]) >= parse_time(created["createdTime"])

    disabled = api.patch(token, {"tokenEnabled": 0}).json()["data"]
    assert disabled["tokenEnabled"] == 0 and type(disabled["tokenEnabled"]) is int
    assert disabled["tokenAlias"] == renamed
    assert disabled["props"]["description"] == "second"
    assert disabled["props"]["os"] == "windows"
    assert api.get(token).json()["data"] == disabled

    assert api.patch(token, {}).json()["data"]["tokenAlias"] == renamed


def test_soft_delete_frees_the_alias(api: Wire) -> None:
    name = alias("reuse")
    first = api.create(name)
    gone = api.patch(
        first["accessToken"], {"tokenEnabled": 0, "tokenAlias": f"{name}-ab1c9-deleted"}
    )
    assert gone.status_code == 200
    second = api.create(name)
    assert second["accessToken"] != first["accessToken"]
    assert api.get(first["accessToken"]).json()["data"]["tokenEnabled"] == 0


@pytest.mark.parametrize("method", ["GET", "PATCH"])
@pytest.mark.parametrize("token", ["0" * 56, "nope", "%2e%2e", "a" * 5000])
def test_unknown_token_is_404(api: Wire, method: str, token: str) -> None:
    response = api.call(method, f"{TOKENS}/{token}", json={"tokenEnabled": 0})
    assert_error(response, 404)


def test_duplicate_alias_is_409(api: Wire) -> None:
    name = alias("dup")
    api.create(name)
    assert_error(api.call("POST", TOKENS, json={"tokenAlias": name}), 409)
    other = api.create(alias("dup-other"))
    assert_error(api.patch(other["accessToken"], {"tokenAlias": name}), 409)


def test_concurrent_creates_of_one_alias_yield_exactly_one_token(backend: Backend) -> None:
    name = alias("race")
    bearer = bearer_token(backend)
    barrier = threading.Barrier(20)
    statuses: list[int] = []
    lock = threading.Lock()

    def create() -> None:
        barrier.wait()
        response = requests.post(
            f"{backend.url}{TOKENS}",
            json={"tokenAlias": name, "tokenEnabled": 1},
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=30,
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=create) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [409] * 19


def test_token_values_are_56_hex_and_distinct(api: Wire) -> None:
    values = [api.create(alias("value"))["accessToken"] for _ in range(12)]
    assert all(TOKEN_VALUE.match(value) for value in values)
    assert len(set(values)) == len(values)


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tokenAlias": 5}, "tokenAlias"),
        ({"tokenAlias": None}, "tokenAlias"),
        ({}, "tokenAlias"),
        ({"tokenAlias": "x", "tokenEnabled": True}, "tokenEnabled"),
        ({"tokenAlias": "x", "tokenEnabled": 2}, "tokenEnabled"),
        ({"tokenAlias": "x", "tokenEnabled": "1"}, "tokenEnabled"),
        ({"tokenAlias": "x", "props": "linux"}, "props"),
        ({"tokenAlias": "x", "props": {"os": 1}}, "props.os"),
        ({"tokenAlias": "x", "props": {"description": []}}, "props.description"),
        ({"tokenAlias": ""}, "tokenAlias"),
        ({"tokenAlias": "a" * 65}, "tokenAlias"),
        ({"tokenAlias": " padded "}, "tokenAlias"),
        ({"tokenAlias": "a\u0000b"}, "tokenAlias"),
        ({"tokenAlias": "tab\there"}, "tokenAlias"),
        ({"tokenAlias": "x", "props": {"description": "d" * 1025}}, "props.description"),
        ({"tokenAlias": "x", "props": {"subscription": "gold"}}, "props.subscription"),
    ],
)
def test_create_with_wrong_types_or_values_is_400_naming_the_field(
    api: Wire, body: dict[str, Any], field: str
) -> None:
    message = assert_error(api.call("POST", TOKENS, json=body), 400)
    assert field in message


def test_lone_surrogate_is_400_naming_the_field(api: Wire) -> None:
    response = api.call("POST", TOKENS, data='{"tokenAlias": "a\\ud800b"}')
    assert "tokenAlias" in assert_error(response, 400)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tokenEnabled": "0"}, "tokenEnabled"),
        ({"tokenEnabled": False}, "tokenEnabled"),
        ({"tokenAlias": 1}, "tokenAlias"),
        ({"tokenAlias": ""}, "tokenAlias"),
        ({"props": []}, "props"),
        ({"props": {"os": ""}}, "props.os"),
    ],
)
def test_patch_with_wrong_types_is_400_naming_the_field(
    api: Wire, body: dict[str, Any], field: str
) -> None:
    token = api.create(alias("badpatch"))["accessToken"]
    assert field in assert_error(api.patch(token, body), 400)


@pytest.mark.parametrize(
    "body", [b"", b"{", b"{'tokenAlias': 'x'}", b"[1]", b"null", b"\xff\xfe", b"[" * 5000]
)
@pytest.mark.parametrize("target", ["create", "patch", "search"])
def test_malformed_json_is_400(api: Wire, body: bytes, target: str) -> None:
    path = {"create": TOKENS, "search": f"{TOKENS}/search"}.get(target)
    if path is None:
        path = f"{TOKENS}/{api.create(alias('malformed'))['accessToken']}"
    method = "PATCH" if target == "patch" else "POST"
    assert_error(api.call(method, path, data=body), 400)


def test_body_over_the_limit_is_413(api: Wire) -> None:
    body = json.dumps({"tokenAlias": "big", "props": {"description": "x" * 70_000}})
    assert_error(api.call("POST", TOKENS, data=body), 413)


def test_body_without_content_type_and_with_trailing_newline_is_accepted(api: Wire) -> None:
    name = alias("newline")
    body = json.dumps({"tokenEnabled": 1, "tokenAlias": name}).encode() + b"\n"
    response = api.call("POST", TOKENS, data=body)
    assert response.request.headers.get("Content-Type") is None
    assert response.status_code == 201
    assert response.json()["data"]["tokenAlias"] == name


def test_bearer_tokens_and_token_values_are_not_stored_in_the_clear(
    backend: Backend, api: Wire
) -> None:
    created = api.create(alias("secret"))
    bearer = bearer_token(backend)
    assert api.call("GET", TOKENS, headers={"Authorization": bearer}).status_code == 200
    stored = b"".join(
        path.read_bytes()
        for path in Path(backend.db_path).parent.iterdir()
        if path.name.startswith(Path(backend.db_path).name)
    )
    assert stored  # the database file (and its WAL) exist
    for secret in (bearer, api.bearer, created["accessToken"], backend.api_secret):
        assert secret.encode() not in stored


# --- JSON as RFC 8259 has it --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"tokenAlias": "rfc8259-a", "tokenAlias": "rfc8259-b"}',
            "body: has the key 'tokenAlias' twice",
        ),
        (
            b'{"tokenAlias": "rfc8259-p", "props": {"os": "linux", "os": "windows"}}',
            "body: has the key 'os' twice",
        ),
        ('{"tokenAlias": "rfc8259-16"}'.encode("utf-16"), "body: is not UTF-8 text"),
        ('{"tokenAlias": "rfc8259-32"}'.encode("utf-32"), "body: is not UTF-8 text"),
        (b'{"tokenAlias": "rfc8259-\xe9"}', "body: is not UTF-8 text"),
        (b'\xef\xbb\xbf{"tokenAlias": "rfc8259-bom"}', "body: is not valid JSON"),
    ],
    ids=["duplicate key", "duplicate key in props", "UTF-16", "UTF-32", "Latin-1", "UTF-8 BOM"],
)
def test_json_that_is_not_rfc_8259_is_400_and_creates_nothing(
    api: Wire, body: bytes, message: str
) -> None:
    response = api.call("POST", TOKENS, data=body, headers={"Content-Type": "application/json"})
    assert assert_error(response, 400) == message
    names = [token["tokenAlias"] for token in api.list()]
    assert not [name for name in names if name.startswith("rfc8259-")]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_missing_or_wrong_content_type_is_still_tolerated(
    api: Wire, content_type: str | None
) -> None:
    # Go's client sends none on some calls; the body is JSON whatever the header says.
    headers = {} if content_type is None else {"Content-Type": content_type}
    name = f"typed-{(content_type or 'none').replace('/', '-')}"
    body = json.dumps({"tokenAlias": name, "props": {"description": "é ✓"}}).encode()
    response = api.call("POST", TOKENS, data=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["props"]["description"] == "é ✓"


# --- names that look alike ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "code", "position"),
    [
        ("prod\u200b", "200B", 5),  # zero-width space
        ("\u202eprod", "202E", 1),  # right-to-left override
        ("pr\ufeffod", "FEFF", 3),  # byte-order mark
        ("prod\u2066x\u2069", "2066", 5),  # left-to-right isolate
        ("p\u200drod", "200D", 2),  # zero-width joiner
    ],
)
def test_aliases_with_invisible_or_bidi_characters_are_400_naming_the_position(
    api: Wire, alias: str, code: str, position: int
) -> None:
    expected = (
        "tokenAlias must not contain invisible or bidirectional formatting characters "
        f"(U+{code} at position {position})."
    )
    created = api.call("POST", TOKENS, json={"tokenAlias": alias, "tokenEnabled": 1})
    assert assert_error(created, 400) == expected
    existing = api.create(f"lookalike-{position}-{code}")
    renamed = api.patch(existing["accessToken"], {"tokenAlias": alias})
    assert assert_error(renamed, 400) == expected
    assert alias not in [token["tokenAlias"] for token in api.list()]


def test_aliases_must_be_nfc_and_are_stored_as_sent(api: Wire) -> None:
    composed, decomposed = "caf\u00e9-nfc", "cafe\u0301-nfc"
    refused = api.call("POST", TOKENS, json={"tokenAlias": decomposed, "tokenEnabled": 1})
    assert "tokenAlias must be in Unicode normalization form NFC" in assert_error(refused, 400)
    created = api.create(composed)
    assert created["tokenAlias"] == composed
    assert api.get(created["accessToken"]).json()["data"]["tokenAlias"] == composed

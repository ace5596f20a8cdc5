"""Requests shaped byte for byte like Lacework's Go SDK (hence the Terraform provider) sends them.

The sequence is what the official provider sent for two resources (``prod`` with a description,
``off`` with ``enabled = false``) through apply, refresh, an in-place update and destroy. Every
answer is checked the way the Go SDK decodes it: ``tokenEnabled`` an integer (a JSON bool breaks
the decoder), times RFC 3339, errors with a top-level ``message``.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from lacework_tokens.enrollment import AgentConnection
from lacework_tokens.testing import Backend, run_backend

USER_AGENT = "Terraform/1.11.4"
ZERO_TIME = "0001-01-01T00:00:00Z"
# Go's time.Time accepts any RFC 3339 time.
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


class GoAnswer:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def go_request(
    backend: Backend,
    method: str,
    path: str,
    body: str | None = None,
    *,
    token: str | None = None,
    secret: str | None = None,
) -> GoAnswer:
    """One request exactly as Go's net/http writes it for the Lacework Go SDK.

    Go writes Host, User-Agent and Content-Length first, then the SDK's headers in sorted,
    canonical form (``X-Lw-Uaks``, a raw ``Authorization``, the literal ``Method``), and the
    transport adds ``Accept-Encoding: gzip``. Bodies come from ``json.Encoder``: a trailing
    newline.
    """
    address = urlsplit(backend.url)
    payload = body.encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {address.netloc}", f"User-Agent: {USER_AGENT}"]
    if body is not None:
        lines.append(f"Content-Length: {len(payload)}")
    lines.append("Accept: application/json")
    if token is not None:
        lines.append(f"Authorization: {token}")
    if body is not None:
        lines.append("Content-Type: application/json")
    lines.append(f"Method: {method}")
    if secret is not None:
        lines.append(f"X-Lw-Uaks: {secret}")
    lines.append("Accept-Encoding: gzip")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
    assert address.hostname is not None and address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        answer = GoAnswer(response.status, response.headers, response.read())
    assert answer.headers["Content-Type"] == "application/json"
    return answer


def go_decode_token(data: Any) -> dict[str, Any]:
    """What ``api.AgentAccessToken`` in the Go SDK needs to decode without error."""
    assert isinstance(data, dict)
    assert isinstance(data["accessToken"], str) and data["accessToken"]
    assert isinstance(data["tokenAlias"], str)
    assert type(data["tokenEnabled"]) is int and data["tokenEnabled"] in (0, 1)
    assert isinstance(data["version"], str)
    assert RFC3339.match(data["createdTime"]), data["createdTime"]
    props = data["props"]
    assert isinstance(props, dict)
    assert RFC3339.match(props["createdTime"]), props["createdTime"]
    assert isinstance(props["os"], str)
    assert isinstance(props.get("description", ""), str)
    assert data["createdTime"] != ZERO_TIME and props["createdTime"] != ZERO_TIME
    return data


def go_error_message(answer: GoAnswer) -> str:
    """The Go SDK's error text reads ``message`` (never a list under ``data``)."""
    body = answer.json()
    assert isinstance(body, dict)
    assert not isinstance(body.get("data"), list)
    message: str = body["message"]
    assert message
    return message


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    args = ["--agent-page-rows", "3"]
    with run_backend(tmp_path_factory.mktemp("interop-go"), extra_args=args) as running:
        yield running


def provider_token(backend: Backend) -> str:
    answer = go_request(
        backend,
        "POST",
        "/api/v2/access/tokens",
        f'{{"keyId":"{backend.api_key}","expiryTime":3600}}\n',
        secret=backend.api_secret,
    )
    assert 200 <= answer.status < 300
    body = answer.json()
    assert isinstance(body["token"], str) and body["token"]
    assert RFC3339.match(body["expiresAt"])
    token: str = body["token"]
    return token


def test_the_official_providers_apply_refresh_update_and_destroy(backend: Backend) -> None:
    # terraform apply: one bearer per provider start, two creates, then the disable.
    token = provider_token(backend)
    prod_body = (
        '{"tokenEnabled":1,"tokenAlias":"prod","props":{"createdTime":"0001-01-01T00:00:00Z",'
        '"description":"k8s deployment for production env","os":"linux"}}\n'
    )
    created = go_request(backend, "POST", "/api/v2/AgentAccessTokens", prod_body, token=token)
    assert created.status == 201
    prod = go_decode_token(created.json()["data"])
    assert prod["tokenAlias"] == "prod" and prod["tokenEnabled"] == 1
    assert prod["props"]["description"] == "k8s deployment for production env"

    off_body = (
        '{"tokenEnabled":1,"tokenAlias":"off","props":{"createdTime":"0001-01-01T00:00:00Z",'
        '"os":"linux"}}\n'
    )
    created = go_request(backend, "POST", "/api/v2/AgentAccessTokens", off_body, token=token)
    assert created.status == 201
    off = go_decode_token(created.json()["data"])
    off_path = f"/api/v2/AgentAccessTokens/{off['accessToken']}"
    disabled = go_request(backend, "PATCH", off_path, '{"tokenEnabled":0}\n', token=token)
    assert disabled.status == 200
    assert go_decode_token(disabled.json()["data"])["tokenEnabled"] == 0

    # terraform plan: a new provider process, a new bearer, a GET per resource.
    token = provider_token(backend)
    prod_path = f"/api/v2/AgentAccessTokens/{prod['accessToken']}"
    for path, alias, enabled in ((prod_path, "prod", 1), (off_path, "off", 0)):
        read = go_request(backend, "GET", path, token=token)
        assert read.status == 200
        data = go_decode_token(read.json()["data"])
        assert (data["tokenAlias"], data["tokenEnabled"], data["props"]["os"]) == (
            alias,
            enabled,
            "linux",
        )

    # An in-place update as the provider sends it: no os, an empty description omitted.
    update = (
        '{"tokenEnabled":1,"tokenAlias":"prod","props":{"createdTime":"0001-01-01T00:00:00Z",'
        '"description":"new text"}}\n'
    )
    updated = go_request(backend, "PATCH", prod_path, update, token=token)
    assert updated.status == 200
    data = go_decode_token(updated.json()["data"])
    assert data["props"]["os"] == "linux" and data["props"]["description"] == "new text"
    assert data["props"]["createdTime"] == prod["props"]["createdTime"]

    # terraform destroy: a soft delete per resource.
    token = provider_token(backend)
    for path, alias in ((prod_path, "prod"), (off_path, "off")):
        body = f'{{"tokenEnabled":0,"tokenAlias":"{alias}-p88g7-deleted"}}\n'
        destroyed = go_request(backend, "PATCH", path, body, token=token)
        assert destroyed.status == 200
        data = go_decode_token(destroyed.json()["data"])
        assert (data["tokenAlias"], data["tokenEnabled"]) == (f"{alias}-p88g7-deleted", 0)

    # The names are free again: a second apply creates new tokens under them.
    again = go_request(backend, "POST", "/api/v2/AgentAccessTokens", prod_body, token=token)
    assert again.status == 201
    assert go_decode_token(again.json()["data"])["accessToken"] != prod["accessToken"]

    listed = go_request(backend, "GET", "/api/v2/AgentAccessTokens", token=token)
    assert listed.status == 200
    aliases = sorted(
        alias
        for alias in (go_decode_token(t)["tokenAlias"] for t in listed.json()["data"])
        if alias.startswith(("prod", "off"))
    )
    assert aliases == ["off-p88g7-deleted", "prod", "prod-p88g7-deleted"]


def test_data_source_lookup_lists_and_matches_by_name(backend: Backend) -> None:
    token = provider_token(backend)
    body = (
        '{"tokenEnabled":1,"tokenAlias":"lookup","props":{"createdTime":"0001-01-01T00:00:00Z",'
        '"os":"linux"}}\n'
    )
    assert go_request(backend, "POST", "/api/v2/AgentAccessTokens", body, token=token).status == 201
    listed = go_request(backend, "GET", "/api/v2/AgentAccessTokens", token=token)
    matching = [t for t in listed.json()["data"] if go_decode_token(t)["tokenAlias"] == "lookup"]
    assert len(matching) == 1


def test_errors_have_the_status_and_a_top_level_message(backend: Backend) -> None:
    token = provider_token(backend)
    missing = go_request(backend, "GET", "/api/v2/AgentAccessTokens/" + "0" * 56, token=token)
    assert missing.status == 404  # the provider drops a resource from state on [404]
    go_error_message(missing)

    body = '{"tokenEnabled":1,"tokenAlias":"twice","props":{"os":"linux"}}\n'
    assert go_request(backend, "POST", "/api/v2/AgentAccessTokens", body, token=token).status == 201
    duplicate = go_request(backend, "POST", "/api/v2/AgentAccessTokens", body, token=token)
    assert duplicate.status == 409
    go_error_message(duplicate)

    refused = go_request(
        backend,
        "POST",
        "/api/v2/access/tokens",
        f'{{"keyId":"{backend.api_key}","expiryTime":3600}}\n',
        secret="_wrong",
    )
    assert refused.status == 401
    go_error_message(refused)

    stale = go_request(backend, "GET", "/api/v2/AgentAccessTokens", token="not-a-token")
    assert stale.status == 401
    go_error_message(stale)

    deleted = go_request(backend, "DELETE", "/api/v2/AgentAccessTokens/x", token=token)
    assert deleted.status == 405
    go_error_message(deleted)


def go_decode_user_profile(body: Any) -> dict[str, Any]:
    """What ``api.UserProfileResponse`` in the Go SDK needs to decode without error: a list of
    profiles whose booleans are JSON booleans and whose ``userEnabled`` is an integer."""
    assert isinstance(body, dict) and isinstance(body["data"], list)
    [profile] = body["data"]
    for name in ("username", "url"):
        assert type(profile[name]) is str
    for name in ("orgAccount", "orgAdmin", "orgUser"):
        assert type(profile[name]) is bool
    assert isinstance(profile["accounts"], list)
    for account in profile["accounts"]:
        assert type(account["admin"]) is bool
        for name in ("accountName", "custGuid", "userGuid"):
            assert type(account[name]) is str
        assert type(account["userEnabled"]) is int and account["userEnabled"] in (0, 1)
    return dict(profile)


def go_org_account_name(profile: dict[str, Any]) -> str:
    """``UserProfile.OrgAccountName``: the account label of ``url`` (``lwdomain.New``)."""
    return str(profile["url"]).split("://")[-1].split(".")[0].lower()


def go_sub_account_names(profile: dict[str, Any]) -> list[str]:
    """``UserProfile.SubAccountNames``: enabled accounts other than the org account."""
    own = go_org_account_name(profile)
    return [
        a["accountName"].lower()
        for a in profile["accounts"]
        if a["accountName"].lower() != own and a["userEnabled"] == 1
    ]


def test_user_profile_is_read_as_lacework_s_cli_reads_it(backend: Backend) -> None:
    def admin(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "lacework_tokens", *args, "--db", str(backend.db_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    admin("accounts", "create", "goprod", "--parent", backend.account)
    answer = go_request(backend, "GET", "/api/v2/UserProfile", token=provider_token(backend))
    assert answer.status == 200
    profile = go_decode_user_profile(answer.json())
    assert go_org_account_name(profile) == backend.account
    assert go_sub_account_names(profile) == ["goprod"]
    assert profile["orgAccount"] is True and profile["orgAdmin"] is True
    assert profile["username"] == "admin"

    confined = json.loads(admin("keys", "create", "--account", "goprod", "--json"))
    bearer = go_request(
        backend,
        "POST",
        "/api/v2/access/tokens",
        f'{{"keyId":"{confined["keyId"]}","expiryTime":3600}}\n',
        secret=confined["secret"],
    ).json()["token"]
    own = go_decode_user_profile(
        go_request(backend, "GET", "/api/v2/UserProfile", token=bearer).json()
    )
    # A sub-account key belongs to its parent's organization, and may act only in goprod.
    assert go_org_account_name(own) == backend.account == confined["account"]
    assert go_sub_account_names(own) == ["goprod"]
    assert own["orgUser"] is False and own["orgAdmin"] is False

    unauthenticated = go_request(backend, "GET", "/api/v2/UserProfile")
    assert unauthenticated.status == 401
    assert go_error_message(unauthenticated)


# What ``api.AgentInfo`` needs to decode without error: ``mid`` an int, times RFC 3339, and
# every tag a string (its tags struct has string fields only).
def go_decode_agent(data: Any) -> dict[str, Any]:
    assert isinstance(data, dict)
    assert type(data["mid"]) is int
    for key in ("agentVersion", "hostname", "ipAddr", "mode", "os", "status"):
        assert isinstance(data[key], str), key
    assert RFC3339.match(data["createdTime"]) and RFC3339.match(data["lastUpdate"])
    assert all(isinstance(value, str) for value in data["tags"].values())
    return data


def go_next_page_path(next_page: str) -> str:
    """client.NextPage: the URL's path, and its query re-encoded, sorted by key."""
    parts = urlsplit(next_page)
    query = urlencode(sorted(parse_qsl(parts.query)))
    return parts.path + (f"?{query}" if query else "")


def test_token_answers_with_an_enrollment_policy_still_decode(backend: Backend) -> None:
    token = provider_token(backend)
    client = backend.client()
    made = client.agent_tokens.create(
        "go-policy", max_enrollments=2, scope="go", expires_at=datetime(2099, 1, 1, tzinfo=UTC)
    )
    path = f"/api/v2/AgentAccessTokens/{made.token}"
    read = go_decode_token(go_request(backend, "GET", path, token=token).json()["data"])
    assert read["props"]["maxEnrollments"] == 2 and read["props"]["scope"] == "go"
    listed = go_request(backend, "GET", "/api/v2/AgentAccessTokens", token=token).json()["data"]
    assert [go_decode_token(t)["accessToken"] for t in listed].count(made.token) == 1
    # The provider's update leaves the policy alone: props are merged.
    update = (
        '{"tokenEnabled":1,"tokenAlias":"go-policy","props":{"createdTime":'
        '"0001-01-01T00:00:00Z","description":"now described"}}\n'
    )
    updated = go_decode_token(
        go_request(backend, "PATCH", path, update, token=token).json()["data"]
    )
    assert updated["props"]["maxEnrollments"] == 2 and updated["props"]["expiresAt"]
    searched = go_request(
        backend,
        "POST",
        "/api/v2/AgentAccessTokens/search",
        '{"filters":[{"expression":"eq","field":"tokenAlias","value":"go-policy"}]}\n',
        token=token,
    )
    (found,) = searched.json()["data"]
    go_decode_token(found)


def test_agent_info_search_and_next_page_as_the_go_sdk_sends_them(backend: Backend) -> None:
    token = provider_token(backend)
    made = backend.client().agent_tokens.create("go-fleet")
    with AgentConnection(backend.url) as agent:
        mids = [agent.enroll(made.token, f"go-{n}", tags={"Name": f"go-{n}"}).mid for n in range(7)]
    now = datetime.now(UTC)
    # json.Encoder on api.SearchFilter: timeFilter (times RFC 3339 with nanoseconds), then the
    # filters' fields in struct order (expression, field, value), a trailing newline.
    start = (now - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"
    end = (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S") + "Z"
    body = (
        f'{{"timeFilter":{{"startTime":"{start}","endTime":"{end}"}},'
        '"filters":[{"expression":"rlike","field":"hostname","value":"go-.*"},'
        f'{{"expression":"rlike","field":"tags.LwTokenShort","value":"{made.token[:30]}"}}]}}\n'
    )
    answer = go_request(backend, "POST", "/api/v2/AgentInfo/search", body, token=token)
    assert answer.status == 200, answer.body
    page = answer.json()
    paging = page["paging"]
    # NextPage divides totalRows by rows on the first page.
    assert paging["rows"] == 3 and paging["totalRows"] // paging["rows"] == 2
    seen = [go_decode_agent(row)["mid"] for row in page["data"]]
    while page["paging"]["urls"]["nextPage"]:
        following = go_next_page_path(page["paging"]["urls"]["nextPage"])
        answer = go_request(backend, "GET", following, token=token)
        assert answer.status == 200, answer.body
        page = answer.json()
        seen += [go_decode_agent(row)["mid"] for row in page["data"]]
    assert seen == mids
    assert page["paging"]["urls"]["nextPage"] is None  # Go decodes null as ""

    # An unknown field answers the message the CLI turns into its list of keys.
    bad = '{"filters":[{"expression":"rlike","field":"nope","value":"x"}]}\n'
    refused = go_request(backend, "POST", "/api/v2/AgentInfo/search", bad, token=token)
    assert refused.status == 400 and "Invalid field" in go_error_message(refused)

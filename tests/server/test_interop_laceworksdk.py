"""Lacework's own Python SDK, ``laceworksdk`` 4.1.0 unmodified, against the backend over TLS.

``laceworksdk`` only speaks https to ``{account}.{base_domain}``; ``account="127.0.0"`` and
``base_domain="1:PORT"`` make that ``https://127.0.0.1:PORT``, and ``REQUESTS_CA_BUNDLE`` trusts
the certificate ``serve --tls-self-signed`` generated.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from cryptography import x509
from laceworksdk import LaceworkClient
from laceworksdk.exceptions import ApiError

from lacework_tokens.enrollment import AgentConnection
from lacework_tokens.testing import Backend, run_backend


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    # Small AgentInfo pages, so a few agents make several of them.
    args = ["--agent-page-rows", "4"]
    with run_backend(
        tmp_path_factory.mktemp("interop-laceworksdk"), tls=True, extra_args=args
    ) as running:
        yield running


@pytest.fixture
def lacework(backend: Backend, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    for name in ("LW_ACCOUNT", "LW_SUBACCOUNT", "LW_API_TOKEN", "LW_PROFILE", "LW_BASE_DOMAIN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.lacework.toml of the machine's user
    assert backend.cert_path is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(backend.cert_path))
    port = urlsplit(backend.url).port
    return LaceworkClient(
        account="127.0.0",
        base_domain=f"1:{port}",
        api_key=backend.api_key,
        api_secret=backend.api_secret,
    )


def test_serve_prints_the_certificate_and_how_to_trust_it(backend: Backend) -> None:
    assert backend.url.startswith("https://127.0.0.1:")
    assert backend.cert_path is not None
    shown = backend.output()
    assert f"Self-signed certificate: {backend.cert_path}" in shown
    assert f"export REQUESTS_CA_BUNDLE={backend.cert_path} SSL_CERT_FILE={backend.cert_path}" in (
        shown
    )
    certificate = x509.load_pem_x509_certificate(backend.cert_path.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert ipaddress.ip_address("::1") in names.get_values_for_type(x509.IPAddress)
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    # Untrusted, the certificate is refused; trusted, the backend answers.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{backend.url}/healthz", timeout=10, verify=True)
    assert requests.get(f"{backend.url}/healthz", timeout=10, verify=str(backend.cert_path)).ok


def test_create_get_update_search_with_laceworksdk(lacework: Any) -> None:
    tokens = lacework.agent_access_tokens
    created = tokens.create(
        alias="sdk-made", enabled=True, props={"description": "d", "os": "linux"}
    )
    data = created["data"]
    assert data["tokenAlias"] == "sdk-made" and data["tokenEnabled"] == 1
    value = data["accessToken"]

    fetched = tokens.get_by_id(value)["data"]
    assert fetched == data
    assert data in tokens.get()["data"]

    updated = tokens.update(value, token_enabled=False, props={"description": "changed"})["data"]
    assert updated["tokenEnabled"] == 0
    assert updated["props"]["description"] == "changed"
    assert updated["props"]["os"] == "linux"

    found = tokens.search(
        json={"filters": [{"expression": "eq", "field": "tokenAlias", "value": "sdk-made"}]}
    )["data"]
    assert [t["accessToken"] for t in found] == [value]
    assert (
        tokens.search(
            json={"filters": [{"expression": "eq", "field": "tokenAlias", "value": "none"}]}
        )["data"]
        == []
    )


def test_errors_surface_as_laceworksdk_exceptions(lacework: Any) -> None:
    tokens = lacework.agent_access_tokens
    with pytest.raises(ApiError) as missing:
        tokens.get_by_id("0" * 56)
    assert missing.value.status_code == 404
    assert missing.value.message and "was not found" in missing.value.message

    tokens.create(alias="sdk-twice", enabled=True)
    with pytest.raises(ApiError) as duplicate:
        tokens.create(alias="sdk-twice", enabled=True)
    assert duplicate.value.status_code == 409
    assert duplicate.value.message


def test_wrong_secret_fails_at_construction(backend: Backend, lacework: Any) -> None:
    port = urlsplit(backend.url).port
    with pytest.raises(ApiError) as refused:
        LaceworkClient(
            account="127.0.0",
            base_domain=f"1:{port}",
            api_key=backend.api_key,
            api_secret="_wrong-secret",
        )
    assert refused.value.status_code == 401
    assert "_wrong-secret" not in str(refused.value)


def test_tokens_with_an_enrollment_policy_parse_as_any_other(lacework: Any) -> None:
    tokens = lacework.agent_access_tokens
    created = tokens.create(
        alias="sdk-policy",
        enabled=True,
        props={
            "description": "single use",
            "os": "linux",
            "expiresAt": "2099-01-01T00:00:00.000Z",
            "maxEnrollments": 1,
            "scope": "sdk",
        },
    )["data"]
    assert created["props"]["maxEnrollments"] == 1 and created["props"]["scope"] == "sdk"
    value = created["accessToken"]
    assert tokens.get_by_id(value)["data"] == created
    assert created in tokens.get()["data"]
    # laceworksdk drops None from a body, so it cannot clear a policy key; it can change one,
    # and the PATCH merges props.
    updated = tokens.update(value, props={"scope": "sdk-2"})["data"]
    assert updated["props"]["scope"] == "sdk-2" and updated["props"]["maxEnrollments"] == 1
    found = tokens.search(
        json={"filters": [{"expression": "eq", "field": "tokenAlias", "value": "sdk-policy"}]}
    )["data"]
    assert [t["accessToken"] for t in found] == [value]


def test_agent_info_search_pages_through_every_agent(backend: Backend, lacework: Any) -> None:
    value = lacework.agent_access_tokens.create(alias="sdk-fleet", enabled=True)["data"][
        "accessToken"
    ]
    assert backend.cert_path is not None
    with AgentConnection(backend.url, verify=str(backend.cert_path)) as agent:
        mids = [agent.enroll(value, f"sdk-{n}", tags={"Env": "ci"}).mid for n in range(10)]
    query = {
        "timeFilter": {
            "startTime": "2020-01-01T00:00:00.000Z",
            "endTime": "2099-01-01T00:00:00.000Z",
        },
        "filters": [{"field": "tags.LwTokenShort", "expression": "eq", "value": value[:30]}],
    }
    pages = list(lacework.agent_info.search(json=query))
    assert [len(page["data"]) for page in pages] == [4, 4, 2]
    assert all(page["paging"]["totalRows"] == 10 for page in pages)
    assert [row["mid"] for page in pages for row in page["data"]] == mids
    assert {row["tags"]["Env"] for page in pages for row in page["data"]} == {"ci"}
    # rlike on the hostname, as `lacework agent list --filter` sends it.
    regex = {"filters": [{"field": "hostname", "expression": "rlike", "value": "sdk-[0-2]"}]}
    found = [
        row["hostname"] for page in lacework.agent_info.search(json=regex) for row in page["data"]
    ]
    assert sorted(found) == ["sdk-0", "sdk-1", "sdk-2"]

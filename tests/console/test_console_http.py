"""The console over plain HTTP, as a browser without JavaScript uses it: sign-in and sessions,
CSRF, roles refused by the server, the token and key lifecycles through forms, and no token
value in any page, URL or log line unless a person asked to see it."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml
from console_client import ConsoleClient, create_key, parse, secrets_in

from lacework_tokens.enrollment import AgentConnection
from lacework_tokens.server.ratelimit import LOGIN_FREE_FAILURES
from lacework_tokens.testing import Backend, run_backend


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with run_backend(
        tmp_path_factory.mktemp("console"),
        extra_args=["--log-level", "debug", "--login-rate-limit", "0"],
    ) as running:
        yield running


@pytest.fixture
def admin(backend: Backend) -> ConsoleClient:
    client = ConsoleClient(backend)
    signed = client.sign_in(backend.api_key, backend.api_secret)
    assert signed.url.endswith("/console/tokens"), signed.url
    return client


def eventually(read: Callable[[], str], done: Callable[[str], bool], seconds: float = 5.0) -> str:
    """What ``read`` gives once ``done`` holds, or after ``seconds``."""
    deadline = time.monotonic() + seconds
    text = read()
    while not done(text) and time.monotonic() < deadline:
        time.sleep(0.1)
        text = read()
    return text


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns() % 10**9}"


def test_the_banner_links_the_console_and_it_starts_at_sign_in(backend: Backend) -> None:
    assert f"Console: {backend.url}/console/" in backend.output().splitlines()
    client = ConsoleClient(backend)
    for path in ("", "/", "/tokens", "/audit", "/keys"):
        page = client.get(path)
        assert page.url == f"{backend.url}/console/signin", path
        assert page.history[-1].status_code == 303
    # The API is untouched: its unknown paths are JSON 404s, its routes still JSON.
    answer = requests.get(f"{backend.url}/consoles", timeout=10)
    assert answer.status_code == 404 and answer.json()["message"]
    assert requests.get(f"{backend.url}/healthz", timeout=10).json() == {"status": "ok"}


def test_sign_in_gives_a_strict_session_cookie_and_sign_out_ends_the_session(
    backend: Backend,
) -> None:
    client = ConsoleClient(backend)
    signed = client.sign_in(backend.api_key, backend.api_secret)
    cookie = signed.history[0].headers["Set-Cookie"]
    assert re.search(
        r"lwt_session=[A-Za-z0-9_-]{43}; Path=/console; HttpOnly; SameSite=Strict", cookie
    )
    assert "Secure" not in cookie  # plain HTTP on loopback
    assert "Sign out" in signed.text and backend.api_key in signed.text
    value = client.http.cookies["lwt_session"]

    out = client.post("/signout")
    assert out.url.endswith("/console/signin?signed_out=1")
    assert "You are signed out." in out.text
    # The server forgot the session: the old cookie opens nothing.
    replay = requests.get(
        f"{backend.url}/console/tokens", cookies={"lwt_session": value}, timeout=10
    )
    assert replay.url.endswith("/console/signin")


def test_over_tls_the_session_cookie_is_secure(tmp_path: Path) -> None:
    with run_backend(tmp_path, tls=True) as backend:
        client = ConsoleClient(backend)
        signed = client.sign_in(backend.api_key, backend.api_secret)
        assert signed.url == f"{backend.url}/console/tokens"
        cookie = signed.history[0].headers["Set-Cookie"]
        assert "HttpOnly; SameSite=Strict; Secure" in cookie


def test_sign_in_with_the_downloaded_key_file(backend: Backend) -> None:
    key = create_key(backend, "read-only", "auditor")
    client = ConsoleClient(backend)
    signed = client.sign_in_with_file(json.dumps(key).encode())
    assert signed.url.endswith("/console/tokens")
    assert key["keyId"] in signed.text and "read-only" in signed.text

    refused = ConsoleClient(backend).sign_in_with_file(b'{"keyId": "x"}')
    assert refused.status_code == 400
    assert "not an API key file" in refused.text


def test_a_wrong_secret_gets_one_answer_and_is_audited(
    backend: Backend, admin: ConsoleClient
) -> None:
    client = ConsoleClient(backend)
    for key_id, secret in ((backend.api_key, "_wrong"), ("LOCAL_NOSUCHKEY", backend.api_secret)):
        page = client.sign_in(key_id, secret)
        assert page.status_code == 401
        assert "Invalid API key or secret." in page.text
        assert "_wrong" not in page.text and backend.api_secret not in page.text
    # Failed logins are written by the deferred audit writer, within a second.
    audit = eventually(lambda: admin.get("/audit").text, lambda text: "login.failed" in text)
    assert "login.failed" in audit and "console.signed-in" in audit


def test_sign_in_attempts_share_the_login_rate_limit(tmp_path: Path) -> None:
    with run_backend(
        tmp_path, extra_args=["--login-rate-limit", "0.1/s", "--login-rate-burst", "2"]
    ) as backend:
        client = ConsoleClient(backend)
        answers = [client.sign_in(backend.api_key, "_wrong").status_code for _ in range(3)]
        assert answers == [401, 401, 429]
        limited = client.sign_in(backend.api_key, backend.api_secret)
        assert limited.status_code == 429 and limited.headers["Retry-After"].isdigit()
        assert "Too many sign-in attempts" in limited.text


def test_failed_sign_ins_back_off_per_key_id_with_the_api_s_logins(tmp_path: Path) -> None:
    with run_backend(
        tmp_path, extra_args=["--login-rate-limit", "1000/s", "--login-rate-burst", "1000"]
    ) as backend:
        client = ConsoleClient(backend)
        answers = [
            client.sign_in(backend.api_key, "_wrong").status_code
            for _ in range(LOGIN_FREE_FAILURES + 1)
        ]
        assert answers == [401] * LOGIN_FREE_FAILURES + [429]
        # The right secret is not even checked now, through either door.
        held = client.sign_in(backend.api_key, backend.api_secret)
        assert held.status_code == 429 and held.headers["Retry-After"].isdigit()
        assert "Too many failed sign-ins for this API key" in held.text
        api = requests.post(
            f"{backend.url}/api/v2/access/tokens",
            headers={"X-LW-UAKS": backend.api_secret},
            json={"keyId": backend.api_key, "expiryTime": 3600},
            timeout=10,
        )
        assert api.status_code == 429
        # Another key is not held back by this one's failures, and sees them audited.
        other = create_key(backend, "admin", "second-admin")
        reader = ConsoleClient(backend)
        assert reader.sign_in(other["keyId"], other["secret"]).url.endswith("/console/tokens")
        audit = eventually(
            lambda: reader.get("/audit").text,
            lambda text: text.count("login.failed") >= LOGIN_FREE_FAILURES,
        )
        assert audit.count("login.failed") >= LOGIN_FREE_FAILURES


def test_every_form_needs_its_csrf_secret_and_this_origin(
    backend: Backend, admin: ConsoleClient
) -> None:
    name = unique("csrf")
    attempts = [
        admin.post("/tokens", {"name": name}, csrf=""),
        admin.post("/tokens", {"name": name}, csrf="not-the-secret"),
        admin.post("/tokens", {"name": name}, headers={"Origin": "http://evil.example"}),
        admin.post("/tokens", {"name": name}, headers={"Sec-Fetch-Site": "cross-site"}),
    ]
    for refused in attempts:
        assert refused.status_code == 403
        assert "refused" in refused.text or "did not come from this console" in refused.text
    assert name not in admin.get("/tokens").text
    # Sign-out is a form too: a forged one leaves the session alone.
    assert admin.post("/signout", csrf="forged").status_code == 403
    assert admin.get("/tokens").url.endswith("/console/tokens")
    # Sign-in has its own anti-forgery value: a forged sign-in form is refused.
    forged = requests.post(
        f"{backend.url}/console/signin",
        data={"csrf": "x", "key_id": backend.api_key, "secret": backend.api_secret},
        timeout=10,
    )
    assert forged.status_code == 403 and "lwt_session" not in forged.headers.get("Set-Cookie", "")
    # The real form, from this console, works.
    created = admin.post("/tokens", {"name": name, "os": "linux"})
    assert created.status_code == 200 and f"Token {name} created" in created.text


def test_a_form_body_past_the_limit_is_refused(admin: ConsoleClient) -> None:
    answer = admin.post("/tokens", {"name": "big", "description": "x" * 70_000})
    assert answer.status_code == 413


def test_read_only_sees_no_write_action_and_the_server_refuses_them(
    backend: Backend, admin: ConsoleClient
) -> None:
    name = unique("guarded")
    admin.post("/tokens", {"name": name, "os": "linux"})
    token_id = admin.token_id(name)
    key = create_key(backend, "read-only", "viewer")
    reader = ConsoleClient(backend)
    reader.sign_in(key["keyId"], key["secret"])

    listing = reader.get("/tokens")
    assert "+ Add New" not in listing.text and "/console/keys" not in listing.text
    page = reader.get(f"/tokens/{token_id}")
    forms = {form["action"] for form in parse(page.text).forms}
    # Reading a value is not a change: reveal and the install options stay (and are audited).
    assert forms == {
        "/console/signout",
        f"/console/tokens/{token_id}/reveal",
        f"/console/tokens/{token_id}/install",
    }
    assert "Disable" not in page.text and "Delete" not in page.text

    assert reader.get("/tokens/new").status_code == 403
    assert reader.get("/keys").status_code == 403
    refused = [
        reader.post("/tokens", {"name": unique("sneaky"), "os": "linux"}),
        reader.post(f"/tokens/{token_id}/edit", {"name": "renamed", "description": "x"}),
        reader.post(f"/tokens/{token_id}/disable", {"confirm": "yes"}),
        reader.post(f"/tokens/{token_id}/delete", {"confirm": "yes"}),
        reader.post("/keys", {"user": "viewer", "role": "admin"}),
        reader.post(f"/keys/{backend.api_key}/disable"),
        reader.post(f"/keys/{backend.api_key}/delete", {"confirm": "yes"}),
    ]
    for answer in refused:
        assert answer.status_code == 403, answer.url
        assert "API key role 'read-only' may not" in reader.text(answer)
    token = next(t for t in backend.client().agent_tokens.list() if t.name == name)
    assert token.enabled and "sneaky" not in admin.get("/tokens").text
    assert backend.client().agent_tokens.find("renamed") is None


def test_an_agent_installer_creates_tokens_but_changes_none(
    backend: Backend, admin: ConsoleClient
) -> None:
    key = create_key(backend, "agent-installer", "installer")
    installer = ConsoleClient(backend)
    installer.sign_in(key["keyId"], key["secret"])
    assert "+ Add New" in installer.get("/tokens").text
    name = unique("installed")
    created = installer.post("/tokens", {"name": name, "os": "windows"})
    assert f"Token {name} created" in created.text
    token_id = installer.token_id(name)
    page = installer.get(f"/tokens/{token_id}")
    assert "/disable" not in page.text and "/edit" not in page.text
    assert installer.post(f"/tokens/{token_id}/disable", {"confirm": "yes"}).status_code == 403
    assert "/console/keys" not in page.text
    assert backend.client().agent_tokens.find(name).enabled  # type: ignore[union-attr]


def test_the_token_lifecycle_through_forms(backend: Backend, admin: ConsoleClient) -> None:
    name = unique("life")
    form = admin.get("/tokens/new")
    assert {"name", "description", "os", "csrf"} <= set(parse(form.text).forms[-1]["fields"])
    created = admin.post("/tokens", {"name": name, "description": "first", "os": "windows"})
    value = re.search(r'id="token-value"[^>]*value="([0-9a-f]+)"', created.text)
    assert value, created.text
    token = backend.client().agent_tokens.get(value.group(1))
    assert (token.name, token.description, token.os, token.enabled) == (
        name,
        "first",
        "windows",
        True,
    )
    assert "Treat this token as a secret" in created.text
    # Shown once: the same page again hides it and says where to reveal it.
    again = admin.get(created.url.replace(admin.base, ""))
    assert value.group(1) not in again.text and "reveal it here" in again.text

    token_id = admin.token_id(name)
    duplicate = admin.post("/tokens", {"name": name, "os": "linux"})
    assert duplicate.status_code == 409 and "already exists" in duplicate.text

    saved = admin.post(f"/tokens/{token_id}/edit", {"name": name + "-b", "description": "second"})
    assert "Token saved." in saved.text
    token = backend.client().agent_tokens.get(value.group(1))
    assert (token.name, token.description, token.os) == (name + "-b", "second", "windows")

    confirm = admin.get(f"/tokens/{token_id}/disable")
    assert "can no longer communicate" in confirm.text
    assert admin.post(f"/tokens/{token_id}/disable").status_code == 400  # not confirmed
    assert backend.client().agent_tokens.get(value.group(1)).enabled
    disabled = admin.post(f"/tokens/{token_id}/disable", {"confirm": "yes"})
    assert f"Token {name}-b disabled." in disabled.text
    assert not backend.client().agent_tokens.get(value.group(1)).enabled
    admin.post(f"/tokens/{token_id}/enable")
    assert backend.client().agent_tokens.get(value.group(1)).enabled

    admin.get(f"/tokens/{token_id}/delete")
    deleted = admin.post(f"/tokens/{token_id}/delete", {"confirm": "yes"})
    assert "deleted (disabled and renamed)" in deleted.text
    token = backend.client().agent_tokens.get(value.group(1))
    assert re.fullmatch(re.escape(name) + r"-b-[a-z0-9]{5}-deleted", token.name)
    assert not token.enabled
    assert "deleted" in admin.get("/tokens", params={"state": "deleted"}).text
    # The name is free again, as after Terraform's destroy.
    assert admin.post("/tokens", {"name": name + "-b", "os": "linux"}).status_code == 200

    events = admin.get(f"/tokens/{token_id}").text
    for action in (
        "token.created",
        "token.renamed",
        "token.disabled",
        "token.enabled",
        "token.soft-deleted",
    ):
        assert action in events


def test_search_and_state_filter(admin: ConsoleClient) -> None:
    tag = unique("flt")
    for suffix, description in (("web", "frontends"), ("db", "databases"), ("batch", "jobs")):
        admin.post("/tokens", {"name": f"{tag}-{suffix}", "description": description})
    admin.post(f"/tokens/{admin.token_id(f'{tag}-db')}/disable", {"confirm": "yes"})

    def names(**query: str) -> list[str]:
        page = admin.get("/tokens", params=query)
        return re.findall(r">(" + re.escape(tag) + r"-[a-z]+)<", page.text)

    assert sorted(names(q=tag)) == [f"{tag}-batch", f"{tag}-db", f"{tag}-web"]
    assert names(q=tag.upper() + "-W") == [f"{tag}-web"]
    assert names(q="FRONTEND") and set(names(q="frontend")) == {f"{tag}-web"}
    assert names(q=tag, state="disabled") == [f"{tag}-db"]
    assert sorted(names(q=tag, state="enabled")) == [f"{tag}-batch", f"{tag}-web"]
    assert names(q=tag, state="bogus") != []  # an unknown state filters nothing out
    assert "No token matches the filter." in admin.get("/tokens", params={"q": "zz-none"}).text


def test_the_api_keys_page_creates_downloads_disables_and_deletes(
    backend: Backend, admin: ConsoleClient
) -> None:
    page = admin.get("/keys")
    assert backend.api_key in page.text and "(this session)" in page.text
    created = admin.post("/keys", {"user": "ci-bot", "role": "read-only"})
    key_id = re.search(r"API key (\S+) created", created.text)
    secret = re.search(r'id="key-secret"[^>]*value="([^"]+)"', created.text)
    assert key_id and secret
    key_id_text = key_id.group(1)
    download = admin.post(f"/keys/{key_id_text}/download")
    assert download.headers["Content-Disposition"] == f'attachment; filename="{key_id_text}.json"'
    key_file = download.json()
    assert key_file == {
        "keyId": key_id_text,
        "secret": secret.group(1),
        "account": backend.account,
        "subAccount": "",
    }
    bearer = requests.post(
        f"{backend.url}/api/v2/access/tokens",
        json={"keyId": key_id_text},
        headers={"X-LW-UAKS": key_file["secret"]},
        timeout=10,
    )
    assert bearer.status_code == 201
    # Leaving the page forgets the secret.
    listing = admin.get("/keys")
    assert secret.group(1) not in listing.text and "ci-bot" in listing.text
    gone = admin.get(f"/keys/{key_id_text}/created")
    assert gone.url.endswith("/console/keys") and secret.group(1) not in gone.text
    assert "can only be downloaded" in admin.post(f"/keys/{key_id_text}/download").text

    admin.post(f"/keys/{key_id_text}/disable")
    assert (
        requests.post(
            f"{backend.url}/api/v2/access/tokens",
            json={"keyId": key_id_text},
            headers={"X-LW-UAKS": key_file["secret"]},
            timeout=10,
        ).status_code
        == 401
    )
    assert "the key this session uses" in admin.post(f"/keys/{backend.api_key}/disable").text
    assert "Delete the API key" in admin.get(f"/keys/{key_id_text}/delete").text
    deleted = admin.post(f"/keys/{key_id_text}/delete", {"confirm": "yes"})
    assert f"API key {key_id_text} deleted." in deleted.text
    assert key_id_text not in admin.get("/keys").text.replace(f"API key {key_id_text} deleted.", "")
    audit = admin.get("/audit").text
    for action in ("key.created", "key.disabled", "key.deleted"):
        assert action in audit


def test_a_user_may_hold_at_most_twenty_keys(backend: Backend, admin: ConsoleClient) -> None:
    user = unique("busy")
    for _ in range(20):
        made = admin.post("/keys", {"user": user, "role": "read-only"})
        assert made.status_code == 200 and "created" in made.text
    refused = admin.post("/keys", {"user": user, "role": "read-only"})
    assert refused.status_code == 409 and "20 API keys" in refused.text


def test_disabling_a_key_ends_its_console_sessions(backend: Backend, admin: ConsoleClient) -> None:
    key = create_key(backend, "admin", "second-admin")
    other = ConsoleClient(backend)
    other.sign_in(key["keyId"], key["secret"])
    assert other.get("/tokens").url.endswith("/console/tokens")
    admin.post(f"/keys/{key['keyId']}/disable")
    ended = other.get("/tokens")
    assert ended.url.endswith("/console/signin?revoked=1")
    assert "disabled or deleted" in ended.text
    assert other.post("/tokens", {"name": "late"}).status_code == 401


def test_an_idle_session_ends(tmp_path: Path) -> None:
    with run_backend(tmp_path, extra_args=["--console-idle-timeout", "1"]) as backend:
        client = ConsoleClient(backend)
        client.sign_in(backend.api_key, backend.api_secret)
        for _ in range(3):  # activity keeps it alive
            time.sleep(0.5)
            assert client.get("/tokens").url.endswith("/console/tokens")
        time.sleep(1.5)
        ended = client.get("/tokens")
        assert ended.url.endswith("/console/signin?expired=1")
        assert "without activity" in ended.text


def test_without_the_console_only_the_api_is_served(tmp_path: Path) -> None:
    with run_backend(tmp_path, extra_args=["--no-console"]) as backend:
        assert "Console:" not in backend.output()
        answer = requests.get(f"{backend.url}/console/signin", timeout=10)
        assert answer.status_code == 404 and answer.json()["message"]


def test_static_files_and_unknown_pages(backend: Backend, admin: ConsoleClient) -> None:
    script = admin.get("/static/console.js")
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert script.headers["Cache-Control"] == "no-cache"
    assert admin.get("/static/console.css").status_code == 200
    assert admin.get("/static/../app.py").status_code == 404
    assert admin.get("/static/nothing.js").status_code == 404
    assert admin.get("/tokens/" + "0" * 64).status_code == 404
    assert admin.get("/nowhere").status_code == 404
    assert admin.http.delete(admin.url("/tokens"), timeout=10).status_code == 405


def test_no_token_value_in_any_page_url_or_log_line_unless_revealed(
    backend: Backend, admin: ConsoleClient
) -> None:
    api_made = backend.client().agent_tokens.create(unique("api"), description="made by the API")
    admin.post("/tokens", {"name": unique("console"), "os": "linux"})
    created_page = admin.pages[-1]
    values = [t.token for t in backend.client().agent_tokens.list()]
    assert api_made.token in values

    # Every page a person can reach without asking for a value.
    admin.pages.clear()
    admin.get("/tokens")
    for state in ("enabled", "disabled", "deleted"):
        admin.get("/tokens", params={"state": state, "q": "a"})
    ids = re.findall(r"/console/tokens/([0-9a-f]{64})", admin.get("/tokens").text)
    assert len(ids) == len(values)
    for token_id in ids:
        admin.get(f"/tokens/{token_id}")
        admin.get(f"/tokens/{token_id}/disable")
        admin.get(f"/tokens/{token_id}/delete")
        admin.get(f"/tokens/{token_id}/created")
    admin.get("/audit")
    admin.get("/keys")
    admin.get("/tokens/new")
    for page in admin.pages:
        assert secrets_in(page.text, values) == [], page.url
        assert secrets_in(page.url, values) == []
        assert secrets_in(page.headers.get("Location", ""), values) == []
        assert secrets_in(parse(page.text).title, values) == []

    # Asked for: the reveal shows exactly that token's value, and is audited.
    token_id = backend.client().agent_tokens.get(api_made.token)
    assert token_id.name == api_made.name
    target = admin.token_id(api_made.name)
    revealed = admin.post(f"/tokens/{target}/reveal")
    assert secrets_in(revealed.text, values) == [api_made.token]
    assert secrets_in(parse(revealed.text).title, values) == []
    assert secrets_in(revealed.url, values) == []
    assert "token.revealed" in admin.get(f"/tokens/{target}").text
    # ... as the page right after creating one showed that one value only.
    assert len(secrets_in(created_page.text, values)) == 1

    logs = backend.logs()
    assert "/console/tokens" in logs  # debug logging of console requests is on
    assert secrets_in(logs, values) == []
    assert backend.api_secret not in logs


# --- install options ---------------------------------------------------------------------


def audited(admin: ConsoleClient, token_id: str, detail: str) -> int:
    """How many of the token's audit events say ``detail``."""
    return admin.text(admin.get(f"/tokens/{token_id}")).count(f"<td>{detail}</td>")


def test_the_install_line_is_shown_after_an_audited_reveal(
    backend: Backend, admin: ConsoleClient
) -> None:
    name = unique("install")
    made = backend.client().agent_tokens.create(name)
    token_id = admin.token_id(name)
    page = admin.get(f"/tokens/{token_id}")
    assert 'id="install-line"' not in page.text and made.token not in page.text
    assert "Show install line" in page.text

    shown = admin.post(f"/tokens/{token_id}/install", {"server_url": ""})
    line = f"curl -sSL https://packages.lacework.net/install.sh | sudo sh -s -- {made.token}"
    assert f'id="install-line" class="secret mono wide" type="text" readonly value="{line}"' in (
        admin.text(shown)
    )
    regional = admin.post(
        f"/tokens/{token_id}/install", {"server_url": "https://api.fra.lacework.net"}
    )
    assert f"{line} -U https://api.fra.lacework.net" in admin.text(regional)
    assert audited(admin, token_id, "install line shown in the console") == 2
    # A reveal of a Linux token shows the install line with it.
    revealed = admin.post(f"/tokens/{token_id}/reveal")
    assert line in admin.text(revealed)

    # install.sh's -U takes only Lacework's own URLs: refused before the value is read.
    refused = admin.post(f"/tokens/{token_id}/install", {"server_url": "https://127.0.0.1:8080"})
    assert refused.status_code == 400
    assert "install.sh accepts only a server URL" in admin.text(refused)
    assert made.token not in refused.text
    assert audited(admin, token_id, "install line shown in the console") == 2
    assert secrets_in(backend.logs(), [made.token]) == []


def test_config_json_and_the_kubernetes_secret_are_posted_downloads(
    backend: Backend, admin: ConsoleClient
) -> None:
    name = unique("deliver")
    made = backend.client().agent_tokens.create(name)
    token_id = admin.token_id(name)
    fra = {"server_url": "https://api.fra.lacework.net"}

    config = admin.post(f"/tokens/{token_id}/config.json", fra)
    assert config.headers["Content-Disposition"] == 'attachment; filename="config.json"'
    assert config.headers["Content-Type"] == "application/json; charset=utf-8"
    assert config.headers["Cache-Control"] == "no-store"
    assert json.loads(config.text) == {
        "tokens": {"AccessToken": made.token},
        "serverurl": "https://api.fra.lacework.net",
    }

    secret = admin.post(f"/tokens/{token_id}/kubernetes-secret", fra)
    assert secret.headers["Content-Disposition"] == (
        'attachment; filename="lacework-agent-access-token.yaml"'
    )
    manifest = yaml.safe_load(secret.text)
    assert (manifest["kind"], manifest["metadata"]["name"]) == (
        "Secret",
        "lacework-agent-access-token",
    )
    data = {key: base64.b64decode(value).decode() for key, value in manifest["data"].items()}
    assert data == {"agent-access-token": made.token, "config.json": config.text}

    assert audited(admin, token_id, "config.json downloaded from the console") == 1
    assert audited(admin, token_id, "Kubernetes Secret downloaded from the console") == 1

    # A server URL the agent could not use is refused before the value is read.
    for path in ("config.json", "kubernetes-secret"):
        refused = admin.post(f"/tokens/{token_id}/{path}", {"server_url": "api.fra.lacework.net"})
        assert refused.status_code == 400, path
        assert "the server URL must be an absolute" in admin.text(refused)
        assert made.token not in refused.text
    assert audited(admin, token_id, "config.json downloaded from the console") == 1
    # Never by GET (a link, a URL in a history), never without the form's CSRF value.
    for path in ("config.json", "kubernetes-secret", "install"):
        assert admin.get(f"/tokens/{token_id}/{path}").status_code == 405
        forged = admin.post(f"/tokens/{token_id}/{path}", csrf="forged")
        assert forged.status_code == 403 and made.token not in forged.text
    assert "/kubernetes-secret" in backend.logs()  # debug logging of console requests is on
    assert secrets_in(backend.logs(), [made.token]) == []


def test_a_windows_token_gets_config_json_not_an_install_line(
    backend: Backend, admin: ConsoleClient
) -> None:
    name = unique("win")
    made = backend.client().agent_tokens.create(name, os="windows")
    token_id = admin.token_id(name)
    page = admin.get(f"/tokens/{token_id}")
    assert "Show install line" not in page.text
    assert "install.sh installs Linux agents" in page.text
    revealed = admin.post(f"/tokens/{token_id}/reveal")
    assert made.token in revealed.text and "install.sh |" not in revealed.text
    refused = admin.post(f"/tokens/{token_id}/install")
    assert refused.status_code == 400 and made.token not in refused.text
    config = admin.post(f"/tokens/{token_id}/config.json")
    assert json.loads(config.text) == {"tokens": {"AccessToken": made.token}}


def test_a_disabled_token_s_install_options_say_agents_cannot_enroll(
    backend: Backend, admin: ConsoleClient
) -> None:
    name = unique("off")
    backend.client().agent_tokens.create(name, enabled=False)
    page = admin.get(f"/tokens/{admin.token_id(name)}")
    assert "agents installed with it cannot enroll until it is enabled again" in page.text


# --- agents: usage, policy, impact --------------------------------------------------------


def test_add_new_sets_the_enrollment_policy(backend: Backend, admin: ConsoleClient) -> None:
    name = unique("policy")
    form = parse(admin.get("/tokens/new").text).forms[-1]["fields"]
    assert {"expires_in", "single_use", "scope"} <= set(form)
    created = admin.post(
        "/tokens",
        {"name": name, "os": "linux", "expires_in": "7d", "single_use": "yes", "scope": "prod/eu"},
    )
    value = re.search(r'id="token-value"[^>]*value="([0-9a-f]+)"', created.text)
    assert value
    token = backend.client().agent_tokens.get(value.group(1))
    assert (token.max_enrollments, token.scope) == (1, "prod/eu")
    assert token.expires_at is not None
    assert timedelta(days=6, hours=23) < token.expires_at - datetime.now(UTC) <= timedelta(days=7)
    page = admin.text(admin.get(f"/tokens/{admin.token_id(name)}"))
    assert (
        "single use" in page and "prod/eu" in page and "Never" not in page.split("Expires")[1][:80]
    )

    refused = admin.post("/tokens", {"name": unique("bad"), "expires_in": "13d"})
    assert refused.status_code == 400 and "Choose an expiry" in refused.text
    bad_scope = admin.post("/tokens", {"name": unique("bad"), "scope": "no spaces allowed"})
    assert bad_scope.status_code == 400 and "props.scope" in bad_scope.text
    assert 'value="no spaces allowed"' in bad_scope.text  # the form keeps what was typed


def test_usage_states_and_the_disable_impact_follow_the_agents(
    backend: Backend, admin: ConsoleClient
) -> None:
    client = backend.client()
    fleet = client.agent_tokens.create(unique("fleet"))
    once = client.agent_tokens.create(unique("once"), max_enrollments=1)
    soon = client.agent_tokens.create(
        unique("soon"), expires_at=datetime.now(UTC) + timedelta(seconds=2)
    )
    idle = client.agent_tokens.create(unique("idle"))
    agent = AgentConnection(backend.url)
    for index in range(3):
        agent.enroll(fleet.token, f"web-{index}", tags={"Name": f"web {index}"})
    agent.enroll(once.token, "lonely")
    time.sleep(2.2)  # ``soon`` expires

    def row(name: str) -> list[str]:
        page = admin.get("/tokens", params={"q": name})
        cells = re.search(r">" + re.escape(name) + r"</a>.*?</tr>", page.text, flags=re.S)
        assert cells, name
        return [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", cells.group(0), re.S)]

    def state(name: str) -> str:
        return re.sub(r"<[^>]+>", " ", row(name)[0]).split()[0]

    assert state(fleet.name) == "enabled" and row(fleet.name)[-2:] == ["3", "3"]
    assert state(once.name) == "used" and row(once.name)[-2:] == ["1", "1"]
    assert state(soon.name) == "expired"
    assert row(idle.name)[-2:] == ["0", "0"]
    assert [fleet.name] == re.findall(
        re.escape(fleet.name),
        admin.get("/tokens", params={"state": "enabled", "q": fleet.name}).text,
    )[:1]
    assert once.name in admin.get("/tokens", params={"state": "used up"}).text
    assert soon.name in admin.get("/tokens", params={"state": "expired"}).text
    assert fleet.name not in admin.get("/tokens", params={"state": "expired"}).text

    fleet_id = admin.token_id(fleet.name)
    page = admin.get(f"/tokens/{fleet_id}").text
    assert re.search(r'id="usage-enrolled">3<', page) and re.search(r'id="usage-active">3<', page)
    for index in range(3):
        assert f"web-{index}" in page
    assert "3 agents enrolled" in page  # the chart's words
    confirm = admin.get(f"/tokens/{fleet_id}/disable")
    assert "3 agents checked in during the last 7 days and will stop reporting." in confirm.text
    single = admin.get(f"/tokens/{admin.token_id(once.name)}/disable")
    assert "1 agent checked in during the last 7 days and will stop reporting." in single.text
    nothing = admin.get(f"/tokens/{admin.token_id(idle.name)}/delete")
    assert "No agent checked in with this token during the last 7 days." in nothing.text

    admin.post(f"/tokens/{fleet_id}/disable", {"confirm": "yes"})
    agents = admin.get("/agents", params={"token": fleet_id}).text
    assert agents.count("TOKEN_DISABLED</span>") == 3
    values = [fleet.token, once.token, soon.token, idle.token]
    for answer in admin.pages:
        assert secrets_in(answer.text, values) == [], answer.url


def test_the_agents_page_has_the_cli_columns_and_filters_by_token_and_status(
    backend: Backend, admin: ConsoleClient
) -> None:
    client = backend.client()
    red = client.agent_tokens.create(unique("red"))
    blue = client.agent_tokens.create(unique("blue"))
    agent = AgentConnection(backend.url)
    red_agent = agent.enroll(red.token, "red-1", tags={"Name": "red one", "InternalIp": "10.0.0.7"})
    agent.enroll(blue.token, "blue-1")
    page = admin.get("/agents")
    headers = re.findall(r'<th scope="col">([^<]+)</th>', page.text)
    assert headers == [
        "MID",
        "Status",
        "Agent version",
        "Hostname",
        "Name",
        "Internal IP",
        "External IP",
        "OS arch",
        "Last check-in",
        "Created time",
        "Token",
    ]
    red_id = admin.token_id(red.name)
    only_red = admin.get("/agents", params={"token": red_id}).text
    assert "red-1" in only_red and "blue-1" not in only_red
    assert "red one" in only_red and "10.0.0.7" in only_red and f">{red_agent.mid}<" in only_red
    assert "ACTIVE" in admin.get("/agents", params={"token": red_id, "status": "ACTIVE"}).text
    none = admin.get("/agents", params={"token": red_id, "status": "INACTIVE"})
    assert "No agents found with the provided filter(s)." in none.text
    # An unknown token or status filters nothing rather than failing.
    assert "red-1" in admin.get("/agents", params={"token": "0" * 64, "status": "x"}).text
    assert secrets_in(page.text, [red.token, blue.token]) == []

"""Tenancy, roles, API keys and the audit trail, against a real server, as an operator runs them.

Keys and accounts are made with ``lacework-tokens keys|accounts`` on the database of the running
server; every request goes over HTTP exactly as Lacework's clients send it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from raw_api import TIMEOUT_SECONDS, TOKENS, RawApi

from lacework_tokens import errors
from lacework_tokens.server.crypto import Sealer
from lacework_tokens.server.services import Services
from lacework_tokens.server.storage.sqlite import SqliteStore
from lacework_tokens.testing import Backend, run_backend

SEARCH = f"{TOKENS}/search"
# A guard against a hang, not a measurement: what is awaited comes far sooner.
GUARD_SECONDS = 20.0


def admin_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lacework_tokens", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("lacework-tokens "), lines
    assert ": error: " in lines[0]
    for fragment in fragments:
        assert fragment in lines[0]


def create_key(db: str, *args: str) -> dict[str, str]:
    """``keys create --json``: the new key in Lacework's download format."""
    result = admin_cli("keys", "create", "--db", db, "--json", *args)
    assert result.returncode == 0, result.stderr
    key: dict[str, str] = json.loads(result.stdout)
    return key


def audit_until(
    db: str, done: Callable[[list[dict[str, Any]]], bool], *args: str
) -> list[dict[str, Any]]:
    """``audit --json`` (newest first) once ``done`` holds for it: events that go with no change
    are written in batches, within a second. Gives up (failing the caller) after a while."""
    deadline = time.monotonic() + GUARD_SECONDS
    while True:
        result = admin_cli("audit", "--db", db, "--account", "local", "--json", *args)
        assert result.returncode == 0, result.stderr
        events: list[dict[str, Any]] = json.loads(result.stdout)
        if (events and done(events)) or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def bearer(backend: Backend, key: dict[str, str]) -> requests.Response:
    return requests.post(
        f"{backend.url}/api/v2/access/tokens",
        json={"keyId": key["keyId"], "expiryTime": 3600},
        headers={"X-LW-UAKS": key["secret"]},
        timeout=TIMEOUT_SECONDS,
    )


class Caller:
    """One bearer token and, optionally, an ``Account-Name``."""

    def __init__(self, backend: Backend, key: dict[str, str], account_name: str = "") -> None:
        issued = bearer(backend, key)
        assert issued.status_code == 201, issued.text
        self.url = backend.url
        self.headers = {"Authorization": issued.json()["token"]}  # raw, as the Go SDK sends it
        if account_name:
            self.headers["Account-Name"] = account_name

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(
            method, f"{self.url}{path}", json=body, headers=self.headers, timeout=TIMEOUT_SECONDS
        )

    def create(self, alias: str) -> requests.Response:
        return self.call("POST", TOKENS, {"tokenAlias": alias, "tokenEnabled": 1})

    def aliases(self) -> list[str]:
        listed = self.call("GET", TOKENS)
        assert listed.status_code == 200, listed.text
        return [t["tokenAlias"] for t in listed.json()["data"]]


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with run_backend(tmp_path_factory.mktemp("keys-backend")) as running:
        yield running


@pytest.fixture(scope="module")
def db(backend: Backend) -> str:
    return str(backend.db_path)


@pytest.fixture(scope="module")
def existing_token(backend: Backend) -> str:
    created = RawApi.login(backend).create("existing")
    assert created.status_code == 201, created.text
    token: str = created.json()["data"]["accessToken"]
    return token


# --- roles ----------------------------------------------------------------------------------


def test_read_only_keys_read_and_every_write_is_403(
    backend: Backend, db: str, existing_token: str
) -> None:
    reader = Caller(backend, create_key(db, "--role", "read-only", "--user", "auditor"))
    assert "existing" in reader.aliases()
    assert reader.call("GET", f"{TOKENS}/{existing_token}").status_code == 200
    found = reader.call("POST", SEARCH, {"filters": []})
    assert found.status_code == 200

    writes = [
        reader.create("mine"),
        reader.call("PATCH", f"{TOKENS}/{existing_token}", {"tokenEnabled": 0}),
    ]
    for refused in writes:
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/json"
        assert "API key role 'read-only' may not" in refused.json()["message"]
    assert RawApi.login(backend).get(existing_token).json()["data"]["tokenEnabled"] == 1


def test_agent_installer_keys_create_and_read_but_do_not_update(
    backend: Backend, db: str, existing_token: str
) -> None:
    installer = Caller(backend, create_key(db, "--role", "agent-installer", "--user", "ci"))
    created = installer.create("node-42")
    assert created.status_code == 201, created.text
    value = created.json()["data"]["accessToken"]
    assert installer.call("GET", f"{TOKENS}/{value}").status_code == 200
    assert installer.call("GET", f"{TOKENS}/{existing_token}").status_code == 200
    assert "node-42" in installer.aliases()
    for token in (value, existing_token):
        refused = installer.call("PATCH", f"{TOKENS}/{token}", {"tokenEnabled": 0})
        assert refused.status_code == 403
        assert "API key role 'agent-installer' may not update" in refused.json()["message"]


def test_admin_keys_do_everything(backend: Backend, db: str) -> None:
    admin = Caller(backend, create_key(db, "--role", "admin", "--user", "ops"))
    created = admin.create("by-admin")
    assert created.status_code == 201
    value = created.json()["data"]["accessToken"]
    soft_deleted = admin.call(
        "PATCH", f"{TOKENS}/{value}", {"tokenEnabled": 0, "tokenAlias": "by-admin-abcde-deleted"}
    )
    assert soft_deleted.status_code == 200, soft_deleted.text
    assert soft_deleted.json()["data"]["tokenEnabled"] == 0


# --- keys: created, disabled, deleted on a running server ------------------------------------


def test_disabling_or_deleting_a_key_stops_its_bearer_at_once(backend: Backend, db: str) -> None:
    key = create_key(db, "--user", "temp")
    caller = Caller(backend, key)
    assert caller.call("GET", TOKENS).status_code == 200

    disabled = admin_cli("keys", "disable", key["keyId"], "--db", db)
    assert disabled.returncode == 0, disabled.stderr
    assert caller.call("GET", TOKENS).status_code == 401
    assert bearer(backend, key).status_code == 401

    assert admin_cli("keys", "enable", key["keyId"], "--db", db).returncode == 0
    # Enabled again, the key logs in afresh: the bearers issued before stay revoked.
    assert caller.call("GET", TOKENS).status_code == 401
    caller = Caller(backend, key)
    assert caller.call("GET", TOKENS).status_code == 200

    deleted = admin_cli("keys", "delete", key["keyId"], "--db", db)
    assert deleted.returncode == 0, deleted.stderr
    assert caller.call("GET", TOKENS).status_code == 401
    assert bearer(backend, key).status_code == 401
    assert key["keyId"] not in admin_cli("keys", "list", "--db", db).stdout


def test_a_user_gets_at_most_twenty_keys(backend: Backend, db: str) -> None:
    create_key(db, "--user", "busy")
    # The other 19 in-process, on the same database file as the running server: quicker.
    store = SqliteStore(db)
    try:
        services = Services(store, Sealer.ephemeral())
        for _ in range(19):
            services.identity.create_api_key("local", user="busy")
    finally:
        store.close()
    refused = admin_cli("keys", "create", "--db", db, "--user", "busy")
    assert_one_line_error(refused, "already has 20 API keys in account 'local'")
    assert "secret" not in refused.stdout.lower()


@pytest.mark.parametrize("spelling", ["Busy-Two", "BUSY-TWO", "\uff22usy-two", " busy-two "])
def test_user_names_are_one_user_whatever_their_case_or_width(
    backend: Backend, db: str, spelling: str
) -> None:
    # A user may not get past 20 keys by spelling its name another way.
    store = SqliteStore(db)
    try:
        services = Services(store, Sealer.ephemeral())
        while (
            len([k for k in services.identity.list_api_keys("local") if k.user == "busy-two"]) < 20
        ):
            services.identity.create_api_key("local", user="busy-two")
    finally:
        store.close()
    refused = admin_cli("keys", "create", "--db", db, "--user", spelling)
    assert_one_line_error(refused, "User 'busy-two' already has 20 API keys")


@pytest.mark.parametrize(
    ("user", "code", "position"),
    [("admin\u200b", "200B", 6), ("\u202eadmin", "202E", 1), ("ad\ufeffmin", "FEFF", 3)],
)
def test_user_names_with_invisible_characters_are_refused(
    db: str, user: str, code: str, position: int
) -> None:
    refused = admin_cli("keys", "create", "--db", db, "--user", user)
    assert_one_line_error(
        refused,
        "user must not contain invisible or bidirectional formatting characters "
        f"(U+{code} at position {position})",
    )
    assert user not in admin_cli("keys", "list", "--db", db).stdout


def test_key_file_is_private_in_lacework_format_and_the_secret_is_not_printed(
    backend: Backend, db: str, tmp_path: Path
) -> None:
    path = tmp_path / "reader.json"
    made = admin_cli("keys", "create", "--db", db, "--role", "read-only", "--key-file", str(path))
    assert made.returncode == 0, made.stderr
    key = json.loads(path.read_text())
    assert set(key) == {"keyId", "secret", "account", "subAccount"}
    assert key["account"] == "local"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert key["secret"] not in made.stdout + made.stderr
    assert str(path) in made.stdout
    assert Caller(backend, key).call("GET", TOKENS).status_code == 200
    # Never over an existing file: it may hold another key's only copy of a secret.
    again = admin_cli("keys", "create", "--db", db, "--key-file", str(path))
    assert_one_line_error(again, "already exists")
    assert json.loads(path.read_text()) == key


def test_create_prints_the_secret_once_and_list_never_shows_it(backend: Backend, db: str) -> None:
    made = admin_cli("keys", "create", "--db", db, "--user", "shown", "--role", "read-only")
    assert made.returncode == 0, made.stderr
    exported = made.stdout.strip().splitlines()[-1]
    variables = dict(item.split("=", 1) for item in exported.removeprefix("export ").split())
    assert variables["LW_ACCOUNT"] == "local"
    secret = variables["LW_API_SECRET"]

    listed = admin_cli("keys", "list", "--db", db)
    assert listed.returncode == 0, listed.stderr
    assert variables["LW_API_KEY"] in listed.stdout
    assert "read-only" in listed.stdout
    as_json = admin_cli("keys", "list", "--db", db, "--json", "--account", "local")
    rows = json.loads(as_json.stdout)
    [row] = [r for r in rows if r["keyId"] == variables["LW_API_KEY"]]
    assert row == {
        "keyId": variables["LW_API_KEY"],
        "account": "local",
        "role": "read-only",
        "user": "shown",
        "enabled": 1,
        "createdTime": row["createdTime"],
    }
    for output in (listed.stdout, as_json.stdout):
        assert secret not in output


# --- accounts and sub-accounts --------------------------------------------------------------


def test_sub_accounts_over_http(backend: Backend, db: str, existing_token: str) -> None:
    made = admin_cli("accounts", "create", "prod", "--parent", "local", "--db", db)
    assert made.returncode == 0, made.stderr
    assert "Account-Name: prod" in made.stdout

    # A key of the parent acts in the sub-account with Account-Name (LW_SUBACCOUNT).
    with backend.client(subaccount="prod") as in_prod:
        web = in_prod.agent_tokens.create("web")
        assert [t.name for t in in_prod.agent_tokens.list()] == ["web"]
        with pytest.raises(errors.NotFoundError):
            in_prod.agent_tokens.get(existing_token)
    with backend.client() as in_parent:
        assert "web" not in [t.name for t in in_parent.agent_tokens.list()]
        with pytest.raises(errors.NotFoundError):
            in_parent.agent_tokens.get(web.token)

    # A key of the sub-account is confined to it.
    sub_key = create_key(db, "--account", "prod", "--role", "agent-installer")
    assert (sub_key["account"], sub_key["subAccount"]) == ("local", "prod")
    confined = Caller(backend, sub_key)
    assert confined.aliases() == ["web"]
    escaping = Caller(backend, sub_key, account_name="local")
    refused = escaping.call("GET", TOKENS)
    assert refused.status_code == 403
    assert "may not act in account 'local'" in refused.json()["message"]

    listed = admin_cli("accounts", "list", "--db", db, "--json")
    accounts = {a["name"]: a["parent"] for a in json.loads(listed.stdout)}
    assert accounts["prod"] == "local"
    assert accounts["local"] is None


def test_another_account_neither_sees_nor_changes_tokens(
    backend: Backend, db: str, existing_token: str
) -> None:
    stranger = Caller(backend, create_key(db, "--account", "other"))
    assert "existing" not in stranger.aliases()
    for method, body in (("GET", None), ("PATCH", {"tokenEnabled": 0})):
        answer = stranger.call(method, f"{TOKENS}/{existing_token}", body)
        assert answer.status_code == 404  # not 403: whether it exists does not leak
        assert existing_token not in answer.text
    assert stranger.call("POST", SEARCH, {"filters": []}).json()["data"] == []
    # Naming the other account, or one that does not exist, is one and the same 403.
    messages = []
    for name in ("local", "no-such-account"):
        answer = Caller(backend, create_key(db, "--account", "other"), name).call("GET", TOKENS)
        assert answer.status_code == 403
        messages.append(answer.json()["message"].replace(name, "NAME"))
    assert messages[0] == messages[1]
    assert RawApi.login(backend).get(existing_token).json()["data"]["tokenEnabled"] == 1


# --- the audit trail ------------------------------------------------------------------------


def test_audit_shows_who_did_what_to_which_token_without_values(backend: Backend, db: str) -> None:
    key = create_key(db, "--user", "auditee")
    caller = Caller(backend, key)
    created = caller.create("audited")
    value = created.json()["data"]["accessToken"]
    caller.call(
        "PATCH", f"{TOKENS}/{value}", {"tokenEnabled": 0, "tokenAlias": "audited-x1y2z-deleted"}
    )
    assert bearer(backend, {"keyId": key["keyId"], "secret": "_wrong"}).status_code == 401

    # The failed login is written in the next batch of deferred events: within a second.
    def mine(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in found if key["keyId"] in (e["actor"], e["keyId"])]

    listed = audit_until(db, lambda found: mine(found)[0]["action"] == "login.failed")
    events = mine(listed)[:3]
    assert events[0]["address"] == "127.0.0.1"
    assert [e["action"] for e in events] == ["login.failed", "token.soft-deleted", "token.created"]
    soft_deleted, created_event = events[1], events[2]
    assert soft_deleted["actor"] == key["keyId"]
    assert soft_deleted["actorAccount"] == "local"
    assert soft_deleted["tokenAlias"] == "audited-x1y2z-deleted"
    assert "'audited' -> 'audited-x1y2z-deleted'" in soft_deleted["detail"]
    assert soft_deleted["tokenId"] == created_event["tokenId"]
    assert len(soft_deleted["tokenId"]) == 12
    assert soft_deleted["tokenId"] not in value  # a keyed hash, not a piece of the value

    text = admin_cli("audit", "--db", db, "--limit", "1000")
    assert text.returncode == 0
    assert "token.soft-deleted" in text.stdout
    assert "key.created" in text.stdout
    for output in (json.dumps(listed), text.stdout):
        assert value not in output
        assert key["secret"] not in output
        assert "_wrong" not in output


# --- the command line -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["keys"],
        ["keys", "create"],
        ["keys", "list"],
        ["keys", "disable"],
        ["keys", "enable"],
        ["keys", "delete"],
        ["accounts"],
        ["accounts", "create"],
        ["accounts", "list"],
        ["audit"],
    ],
)
def test_every_admin_command_has_help(command: list[str]) -> None:
    result = admin_cli(*command, "--help")
    assert result.returncode == 0
    assert "usage: lacework-tokens " + " ".join(command) in result.stdout


def test_admin_command_failures_are_one_line(db: str, tmp_path: Path) -> None:
    assert_one_line_error(
        admin_cli("keys", "disable", "NOPE_1", "--db", db), "API key 'NOPE_1' was not found"
    )
    assert_one_line_error(admin_cli("keys", "delete", "NOPE_1", "--db", db), "was not found")
    missing = tmp_path / "missing.db"
    for command in (["keys", "list"], ["audit"], ["accounts", "list"]):
        assert_one_line_error(admin_cli(*command, "--db", str(missing)), "no database at")
    assert not missing.exists()
    assert_one_line_error(
        admin_cli("accounts", "create", "deep", "--parent", "prod-nope", "--db", db),
        "'prod-nope' was not found",
    )
    assert_one_line_error(
        admin_cli("keys", "create", "--account", "bad name", "--db", db), "account must be"
    )
    bad_role = admin_cli("keys", "create", "--role", "root", "--db", db)
    assert bad_role.returncode == 2
    assert "invalid choice" in bad_role.stderr
    assert admin_cli("audit", "--limit", "0", "--db", db).returncode == 2


def test_default_database_is_serve_s(tmp_path: Path) -> None:
    """Without --db, keys and audit use ./.lacework-tokens/tokens.db, as serve does; only a
    named database may be created before the first serve."""
    stray = admin_cli("keys", "create", "--account", "acme", "--json", cwd=tmp_path)
    assert_one_line_error(stray, "no database at .lacework-tokens/tokens.db", "--db")
    assert not (tmp_path / ".lacework-tokens").exists()
    made = admin_cli(
        "keys", "create", "--account", "acme", "--json", "--db", ".lacework-tokens/tokens.db",
        cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert (tmp_path / ".lacework-tokens" / "tokens.db").is_file()
    assert not (tmp_path / ".lacework-tokens" / "secrets.key").exists()
    with run_backend(tmp_path, extra_args=["--db", ".lacework-tokens/tokens.db"]) as backend:
        key = json.loads(made.stdout)
        assert Caller(backend, key).aliases() == []
    listed = admin_cli("keys", "list", cwd=tmp_path)
    assert json.loads(made.stdout)["keyId"] in listed.stdout


@pytest.mark.postgres
def test_keys_on_a_postgresql_server(tmp_path: Path, postgres_dsn: str) -> None:
    with run_backend(tmp_path, extra_args=["--db", postgres_dsn]) as backend:
        key = create_key(postgres_dsn, "--role", "read-only")
        reader = Caller(backend, key)
        assert reader.create("nope").status_code == 403
        assert reader.aliases() == []
        assert admin_cli("keys", "disable", key["keyId"], "--db", postgres_dsn).returncode == 0
        assert reader.call("GET", TOKENS).status_code == 401
        # The list was a read of token values: audited too, in the next deferred batch.
        events = audit_until(
            postgres_dsn, lambda found: any(e["action"] == "tokens.listed" for e in found)
        )
        changes = [e["action"] for e in events if e["action"] != "tokens.listed"]
        assert changes[:2] == ["key.disabled", "key.created"]
        [listed] = [e for e in events if e["action"] == "tokens.listed"]
        assert (listed["actor"], listed["detail"]) == (key["keyId"], "0 token values")

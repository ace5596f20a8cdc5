"""The backend's rules, exercised through ``TokenService`` on each store."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from lacework_tokens import wire
from lacework_tokens.server.secrets import Sealer
from lacework_tokens.server.service import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Principal,
    ServiceError,
    TokenService,
    Unauthorized,
)
from lacework_tokens.server.store import Role, Store
from lacework_tokens.wire import (
    AccessTokenRequest,
    CreateAgentTokenRequest,
    SearchRequest,
    UpdateAgentTokenRequest,
)

START = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: Store, clock: Clock) -> TokenService:
    return TokenService(store, Sealer.ephemeral(), clock=clock)


@pytest.fixture
def admin(service: TokenService) -> Principal:
    return login(service, "acme", Role.ADMIN)


def login(service: TokenService, account: str, role: Role) -> Principal:
    key = service.create_api_key(account, role=role)
    bearer = service.issue_access_token(AccessTokenRequest(key_id=key.key_id), key.secret)
    return service.authenticate(f"Bearer {bearer.token}")


def create(
    service: TokenService, principal: Principal, alias: str, **props: str
) -> wire.AgentAccessToken:
    return service.create_token(
        principal, CreateAgentTokenRequest(token_alias=alias, props=wire.TokenProps(**props))
    )


def parse_create(body: str) -> CreateAgentTokenRequest:
    import json

    return wire.parse(json.loads(body), CreateAgentTokenRequest)


def parse_update(body: str) -> UpdateAgentTokenRequest:
    import json

    return wire.parse(json.loads(body), UpdateAgentTokenRequest)


def parse_search(body: str) -> SearchRequest:
    import json

    return wire.parse(json.loads(body), SearchRequest)


# --- API keys and bearer tokens -------------------------------------------------------------


def test_api_key_file_looks_like_lacework_s(service: TokenService) -> None:
    assert not service.has_api_keys()
    key = service.create_api_key("acme")
    assert re.fullmatch(r"ACME_[0-9A-F]{32}", key.key_id)
    assert re.fullmatch(r"_[0-9a-f]{32}", key.secret)
    assert key.account == "acme"
    assert service.has_api_keys()
    assert key.secret not in repr(key)


def test_bearer_token_authenticates_raw_or_with_bearer_prefix(
    service: TokenService, clock: Clock
) -> None:
    key = service.create_api_key("acme", role=Role.READ_ONLY, user="ci")
    issued = service.issue_access_token(AccessTokenRequest(key.key_id, expiry_time=60), key.secret)
    assert issued.expires_at == datetime(2026, 11, 25, 12, 1, 0, 123000, tzinfo=UTC)
    expected = Principal(account="acme", key_id=key.key_id, role=Role.READ_ONLY)
    assert service.authenticate(issued.token) == expected
    assert service.authenticate(f"Bearer {issued.token}") == expected
    assert service.authenticate(f"bearer  {issued.token} ") == expected


def test_one_message_for_every_bad_key_or_secret(service: TokenService) -> None:
    key = service.create_api_key("acme")
    disabled = service.create_api_key("acme")
    service.set_api_key_enabled(disabled.key_id, False)
    attempts = [
        (key.key_id, key.secret + "x"),
        (key.key_id, None),
        (key.key_id, ""),
        ("ACME_UNKNOWN", key.secret),
        (disabled.key_id, disabled.secret),
    ]
    for key_id, secret in attempts:
        with pytest.raises(Unauthorized) as caught:
            service.issue_access_token(AccessTokenRequest(key_id), secret)
        assert caught.value.status == 401
        assert caught.value.message == "Invalid API key or secret."


def test_expired_or_unknown_bearer_is_refused(service: TokenService, clock: Clock) -> None:
    key = service.create_api_key("acme")
    issued = service.issue_access_token(AccessTokenRequest(key.key_id, 10), key.secret)
    clock.advance(seconds=9)
    service.authenticate(issued.token)
    clock.advance(seconds=1)
    for header in (issued.token, "Bearer nonsense", "x" * 10_000):
        with pytest.raises(Unauthorized, match=r"^Invalid or expired access token\.$"):
            service.authenticate(header)
    for missing in (None, "", "  "):
        with pytest.raises(Unauthorized, match=r"^Missing Authorization header\.$"):
            service.authenticate(missing)


def test_disabling_a_key_stops_its_bearers_at_once(service: TokenService) -> None:
    key = service.create_api_key("acme")
    issued = service.issue_access_token(AccessTokenRequest(key.key_id), key.secret)
    service.set_api_key_enabled(key.key_id, False)
    with pytest.raises(Unauthorized):
        service.authenticate(issued.token)
    service.set_api_key_enabled(key.key_id, True)
    assert service.authenticate(issued.token).key_id == key.key_id


def test_expired_bearers_are_purged_from_the_store(
    service: TokenService, store: Store, clock: Clock
) -> None:
    key = service.create_api_key("acme")
    issued = service.issue_access_token(AccessTokenRequest(key.key_id, 1), key.secret)
    from lacework_tokens.server.secrets import hash_secret

    assert store.get_bearer(hash_secret(issued.token)) is not None
    clock.advance(seconds=5)
    service._next_purge = 0.0  # the purge runs at most once a minute of real time
    service.issue_access_token(AccessTokenRequest(key.key_id), key.secret)
    assert store.get_bearer(hash_secret(issued.token)) is None


def test_a_foreign_subaccount_is_refused(service: TokenService) -> None:
    key = service.create_api_key("acme")
    issued = service.issue_access_token(AccessTokenRequest(key.key_id), key.secret)
    assert service.authenticate(issued.token, "ACME").account == "acme"
    with pytest.raises(Unauthorized, match="sub-account 'other'"):
        service.authenticate(issued.token, "other")


def test_ensure_api_key_is_idempotent_and_never_rekeys(service: TokenService) -> None:
    assert service.ensure_api_key("acme", "KEYID", "SECRET")
    assert not service.ensure_api_key("acme", "KEYID", "SECRET")
    with pytest.raises(Conflict):
        service.ensure_api_key("acme", "KEYID", "OTHER")
    with pytest.raises(Conflict):
        service.ensure_api_key("other", "KEYID", "SECRET")
    issued = service.issue_access_token(AccessTokenRequest("KEYID"), "SECRET")
    assert service.authenticate(issued.token).account == "acme"


# --- agent access tokens --------------------------------------------------------------------


def test_create_mints_a_token_with_server_owned_times(
    service: TokenService, admin: Principal, clock: Clock
) -> None:
    request = parse_create(
        '{"tokenEnabled":1,"tokenAlias":"prod","props":{"createdTime":"0001-01-01T00:00:00Z",'
        '"description":"k8s deployment for production env","os":"linux"}}'
    )
    created = service.create_token(admin, request)
    assert re.fullmatch(r"[0-9a-f]{56}", created.token)
    truncated = datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)
    assert (created.created_time, created.last_updated_time) == (truncated, truncated)
    assert (created.name, created.description, created.os, created.enabled) == (
        "prod",
        "k8s deployment for production env",
        "linux",
        True,
    )
    assert created.version == "0.1"
    assert service.get_token(admin, created.token) == created
    assert service.list_tokens(admin) == [created]


def test_create_defaults_os_to_linux_and_keeps_subscription(
    service: TokenService, admin: Principal
) -> None:
    created = service.create_token(admin, parse_create('{"tokenAlias":"a1"}'))
    assert (created.os, created.description, created.subscription) == ("linux", "", None)
    paid = create(service, admin, "a2", subscription="enterprise")
    assert service.get_token(admin, paid.token).subscription == "enterprise"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"tokenAlias":""}', "tokenAlias"),
        ('{"tokenAlias":" prod"}', "tokenAlias"),
        ('{"tokenAlias":"prod\\n"}', "tokenAlias"),
        ('{"tokenAlias":"a\\u0000b"}', "tokenAlias"),
        ('{"tokenAlias":"' + "a" * 65 + '"}', "tokenAlias"),
        ('{"tokenAlias":"' + "a" * 57 + '-deleted"}', "tokenAlias"),
        ('{"tokenAlias":"a","props":{"os":""}}', "props.os"),
        ('{"tokenAlias":"a","props":{"os":"' + "x" * 33 + '"}}', "props.os"),
        ('{"tokenAlias":"a","props":{"description":"' + "d" * 1025 + '"}}', "props.description"),
        ('{"tokenAlias":"a","props":{"subscription":"gold"}}', "props.subscription"),
    ],
)
def test_create_refuses_bad_fields_naming_them(
    service: TokenService, admin: Principal, body: str, field: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        service.create_token(admin, parse_create(body))
    assert caught.value.status == 400
    assert caught.value.field == field
    assert field in caught.value.message
    assert service.list_tokens(admin) == []


def test_longest_valid_alias_is_accepted(service: TokenService, admin: Principal) -> None:
    assert create(service, admin, "a" * 64).name == "a" * 64
    assert create(service, admin, "名前 with spaces").name == "名前 with spaces"


def test_duplicate_alias_is_a_conflict_on_create_and_rename(
    service: TokenService, admin: Principal
) -> None:
    create(service, admin, "prod")
    other = create(service, admin, "dev")
    message = "Agent access token with name 'prod' already exists."
    with pytest.raises(Conflict) as caught:
        create(service, admin, "prod")
    assert (caught.value.status, caught.value.message) == (409, message)
    with pytest.raises(Conflict, match=re.escape(message)):
        service.update_token(admin, other.token, UpdateAgentTokenRequest(token_alias="prod"))
    # The same alias in another account is fine.
    create(service, login(service, "other", Role.ADMIN), "prod")


def test_concurrent_creates_of_one_alias_give_one_token(
    service: TokenService, admin: Principal
) -> None:
    results: list[str] = []
    barrier = threading.Barrier(6)

    def attempt() -> None:
        barrier.wait()
        try:
            create(service, admin, "race")
            results.append("created")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["conflict"] * 5 + ["created"]
    assert [t.name for t in service.list_tokens(admin)] == ["race"]


def test_provider_update_keeps_os_and_omitted_description(
    service: TokenService, admin: Principal, clock: Clock
) -> None:
    created = create(service, admin, "prod", description="d", os="windows")
    clock.advance(minutes=5)
    updated = service.update_token(
        admin,
        created.token,
        parse_update(
            '{"tokenEnabled":1,"tokenAlias":"prod2","props":{"createdTime":"0001-01-01T00:00:00Z"}}'
        ),
    )
    assert (updated.name, updated.os, updated.description) == ("prod2", "windows", "d")
    assert updated.created_time == created.created_time
    assert updated.last_updated_time == created.created_time + timedelta(minutes=5)
    assert service.get_token(admin, created.token) == updated


def test_every_patch_moves_the_update_time(
    service: TokenService, admin: Principal, clock: Clock
) -> None:
    created = create(service, admin, "prod")
    clock.advance(seconds=1)
    same = service.update_token(admin, created.token, parse_update("{}"))
    assert same.last_updated_time == created.last_updated_time + timedelta(seconds=1)
    assert (same.name, same.enabled, same.os) == ("prod", True, "linux")


def test_soft_delete_disables_renames_and_frees_the_alias(
    service: TokenService, admin: Principal
) -> None:
    long_name = "n" * 64
    created = create(service, admin, long_name)
    deleted = service.update_token(
        admin,
        created.token,
        parse_update(f'{{"tokenEnabled":0,"tokenAlias":"{long_name}-p88g7-deleted"}}'),
    )
    assert (deleted.name, deleted.enabled) == (f"{long_name}-p88g7-deleted", False)
    assert create(service, admin, long_name).token != created.token
    # Only soft-delete aliases get the extra length.
    with pytest.raises(BadRequest):
        service.update_token(admin, created.token, UpdateAgentTokenRequest(token_alias="x" * 65))


def test_enable_and_disable(service: TokenService, admin: Principal) -> None:
    created = create(service, admin, "prod")
    off = service.update_token(admin, created.token, parse_update('{"tokenEnabled":0}'))
    assert not off.enabled
    on = service.update_token(admin, created.token, parse_update('{"tokenEnabled":1}'))
    assert on.enabled


def test_unknown_foreign_or_garbage_token_is_not_found_and_masked(
    service: TokenService, admin: Principal
) -> None:
    created = create(service, admin, "prod")
    stranger = login(service, "other", Role.ADMIN)
    unknown = "0123456789abcdef" * 3 + "01234567"
    operations: list[Callable[[Principal, str], object]] = [
        service.get_token,
        lambda p, t: service.update_token(p, t, parse_update('{"tokenEnabled":0}')),
    ]
    for operation in operations:
        for principal, value in ((admin, unknown), (stranger, created.token)):
            with pytest.raises(NotFound) as caught:
                operation(principal, value)
            assert caught.value.status == 404
            assert caught.value.message == f"Agent access token '{wire.mask(value)}' was not found."
            assert value not in caught.value.message
        for garbage in ("x" * 300, "abc\x00def", "", "tök€n"):
            with pytest.raises(NotFound):
                operation(admin, garbage)
    assert service.get_token(admin, created.token).enabled


def test_read_only_keys_can_read_but_not_write(service: TokenService, admin: Principal) -> None:
    created = create(service, admin, "prod")
    reader = login(service, "acme", Role.READ_ONLY)
    assert service.get_token(reader, created.token) == created
    assert service.list_tokens(reader) == [created]
    assert service.search_tokens(reader, SearchRequest()) == [created]
    with pytest.raises(Forbidden, match="read-only") as caught:
        create(service, reader, "mine")
    assert caught.value.status == 403
    with pytest.raises(Forbidden):
        service.update_token(reader, created.token, parse_update('{"tokenEnabled":0}'))
    assert service.get_token(admin, created.token).enabled


def test_agent_installers_create_and_read_but_do_not_update(
    service: TokenService, admin: Principal
) -> None:
    installer = login(service, "acme", Role.AGENT_INSTALLER)
    created = create(service, installer, "node-42")
    assert service.get_token(installer, created.token) == created
    with pytest.raises(Forbidden, match="agent-installer"):
        service.update_token(installer, created.token, parse_update('{"tokenEnabled":0}'))


def test_search_by_exact_alias_as_the_sdk_does(service: TokenService, admin: Principal) -> None:
    create(service, admin, "prod")
    staging = create(service, admin, "staging")
    found = service.search_tokens(
        admin,
        parse_search('{"filters":[{"expression":"eq","field":"tokenAlias","value":"staging"}]}'),
    )
    assert found == [staging]


def test_search_on_created_time_uses_the_last_update(
    service: TokenService, admin: Principal, clock: Clock
) -> None:
    first = create(service, admin, "first")
    clock.advance(minutes=1)
    create(service, admin, "second")
    cut = wire.format_time(clock.now)
    clock.advance(minutes=1)
    service.update_token(admin, first.token, parse_update('{"tokenEnabled":0}'))
    body = (
        '{"filters":[{"expression":"gt","field":"createdTime","value":"%s"}]}' % cut  # noqa: UP031
    )
    assert [t.name for t in service.search_tokens(admin, parse_search(body))] == ["first"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"expression":"gt","field":"createdTime","value":"yesterday"}', "filters[0].value"),
        ('{"expression":"gt","field":"createdTime","value":5}', "filters[0].value"),
        ('{"expression":"eq","field":"tokenEnabled","value":2}', "filters[0].value"),
        ('{"expression":"in","field":"tokenEnabled","values":[1,"yes"]}', "filters[0].values[1]"),
        ('{"expression":"like","field":"tokenEnabled","value":"1"}', "filters[0].expression"),
        ('{"expression":"like","field":"tokenAlias","value":"prod\\\\"}', "filters[0].value"),
    ],
)
def test_search_refuses_bad_filter_values(
    service: TokenService, admin: Principal, body: str, field: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        service.search_tokens(admin, parse_search('{"filters":[' + body + "]}"))
    assert caught.value.field == field


def test_errors_carry_status_and_message(service: TokenService) -> None:
    error: ServiceError = Conflict("taken")
    assert (error.status, error.message, str(error)) == (409, "taken", "taken")

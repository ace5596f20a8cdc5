"""The backend's rules, exercised through ``Services`` on each store."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lacework_tokens import limits, wire
from lacework_tokens.server.crypto import Sealer
from lacework_tokens.server.services import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Principal,
    ServiceError,
    Services,
    Unauthorized,
)
from lacework_tokens.server.services.tokens import SEARCH_FIELDS, search_conditions
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import (
    AuditEvent,
    Operator,
    Role,
    TokenColumn,
    TokenCondition,
)
from lacework_tokens.wire import (
    AccessTokenRequest,
    CreateAgentTokenRequest,
    SearchRequest,
    UpdateAgentTokenRequest,
)
from together import run_together

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
def services(store: Store, clock: Clock) -> Iterator[Services]:
    opened = Services(store, Sealer.ephemeral(), clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def admin(services: Services) -> Principal:
    return login(services, "acme", Role.ADMIN)


def login(services: Services, account: str, role: Role) -> Principal:
    key = services.identity.create_api_key(account, role=role)
    bearer = services.identity.issue_access_token(AccessTokenRequest(key_id=key.key_id), key.secret)
    return services.identity.authenticate(f"Bearer {bearer.token}")


def create(
    services: Services, principal: Principal, alias: str, **props: str
) -> wire.AgentAccessToken:
    return services.tokens.create_token(
        principal, CreateAgentTokenRequest(token_alias=alias, props=wire.TokenProps(**props))
    )


def parse_create(body: str) -> CreateAgentTokenRequest:
    return wire.parse(json.loads(body), CreateAgentTokenRequest)


def parse_update(body: str) -> UpdateAgentTokenRequest:
    return wire.parse(json.loads(body), UpdateAgentTokenRequest)


def parse_search(body: str) -> SearchRequest:
    return wire.parse(json.loads(body), SearchRequest)


# --- API keys and bearer tokens -------------------------------------------------------------


def test_api_key_file_looks_like_lacework_s(services: Services) -> None:
    assert not services.identity.has_api_keys()
    key = services.identity.create_api_key("acme")
    assert re.fullmatch(r"ACME_[0-9A-F]{32}", key.key_id)
    assert re.fullmatch(r"_[0-9a-f]{32}", key.secret)
    assert key.account == "acme"
    assert services.identity.has_api_keys()
    assert key.secret not in repr(key)


def test_bearer_token_authenticates_raw_or_with_bearer_prefix(
    services: Services, clock: Clock
) -> None:
    key = services.identity.create_api_key("acme", role=Role.READ_ONLY, user="ci")
    issued = services.identity.issue_access_token(
        AccessTokenRequest(key.key_id, expiry_time=60), key.secret
    )
    assert issued.expires_at == datetime(2026, 11, 25, 12, 1, 0, 123000, tzinfo=UTC)
    expected = Principal(account="acme", key_id=key.key_id, role=Role.READ_ONLY, key_account="acme")
    assert services.identity.authenticate(issued.token) == expected
    assert services.identity.authenticate(f"Bearer {issued.token}") == expected
    assert services.identity.authenticate(f"bearer  {issued.token} ") == expected


def test_one_message_for_every_bad_key_or_secret(services: Services) -> None:
    key = services.identity.create_api_key("acme")
    disabled = services.identity.create_api_key("acme")
    services.identity.set_api_key_enabled(disabled.key_id, False)
    attempts = [
        (key.key_id, key.secret + "x"),
        (key.key_id, None),
        (key.key_id, ""),
        ("ACME_UNKNOWN", key.secret),
        (disabled.key_id, disabled.secret),
    ]
    for key_id, secret in attempts:
        with pytest.raises(Unauthorized) as caught:
            services.identity.issue_access_token(AccessTokenRequest(key_id), secret)
        assert caught.value.status == 401
        assert caught.value.message == "Invalid API key or secret."


def test_expired_or_unknown_bearer_is_refused(services: Services, clock: Clock) -> None:
    key = services.identity.create_api_key("acme")
    issued = services.identity.issue_access_token(AccessTokenRequest(key.key_id, 10), key.secret)
    clock.advance(seconds=9)
    services.identity.authenticate(issued.token)
    clock.advance(seconds=1)
    for header in (issued.token, "Bearer nonsense", "x" * 10_000):
        with pytest.raises(Unauthorized, match=r"^Invalid or expired access token\.$"):
            services.identity.authenticate(header)
    for missing in (None, "", "  "):
        with pytest.raises(Unauthorized, match=r"^Missing Authorization header\.$"):
            services.identity.authenticate(missing)


def test_disabling_a_key_stops_its_bearers_at_once(services: Services) -> None:
    key = services.identity.create_api_key("acme")
    issued = services.identity.issue_access_token(AccessTokenRequest(key.key_id), key.secret)
    services.identity.set_api_key_enabled(key.key_id, False)
    with pytest.raises(Unauthorized):
        services.identity.authenticate(issued.token)
    # Enabling the key again brings back none of the bearers issued before it was disabled.
    services.identity.set_api_key_enabled(key.key_id, True)
    with pytest.raises(Unauthorized):
        services.identity.authenticate(issued.token)
    again = services.identity.issue_access_token(AccessTokenRequest(key.key_id), key.secret)
    assert services.identity.authenticate(again.token).key_id == key.key_id


def test_expired_bearers_are_purged_from_the_store(
    services: Services, store: Store, clock: Clock
) -> None:
    key = services.identity.create_api_key("acme")
    issued = services.identity.issue_access_token(AccessTokenRequest(key.key_id, 1), key.secret)
    from lacework_tokens.server.crypto import hash_secret

    assert store.get_bearer(hash_secret(issued.token)) is not None
    clock.advance(seconds=5)
    services.identity._next_purge = 0.0  # the purge runs at most once a minute of real time
    services.identity.issue_access_token(AccessTokenRequest(key.key_id), key.secret)
    assert store.get_bearer(hash_secret(issued.token)) is None


def test_a_foreign_or_unknown_account_name_is_forbidden_alike(services: Services) -> None:
    key = services.identity.create_api_key("acme")
    services.identity.create_api_key("other")
    issued = services.identity.issue_access_token(AccessTokenRequest(key.key_id), key.secret)
    assert services.identity.authenticate(issued.token, "ACME").account == "acme"
    assert services.identity.authenticate(issued.token, "  ").account == "acme"
    messages = []
    for name in ("other", "nope", "bad name!"):
        with pytest.raises(Forbidden) as caught:
            services.identity.authenticate(issued.token, name)
        assert caught.value.status == 403
        messages.append(caught.value.message.replace(name, "NAME"))
    # An existing account and a missing one get the same answer: existence does not leak.
    assert messages[0] == messages[1] == messages[2]
    assert "may not act in account 'NAME'" in messages[0]


SECRET = "_0f1e2d3c4b5a69788796a5b4c3d2e1f0"
OTHER_SECRET = "_a1b2c3d4e5f60718293a4b5c6d7e8f90"


def test_ensure_api_key_is_idempotent_and_never_rekeys(services: Services) -> None:
    assert services.identity.ensure_api_key("acme", "KEYID", SECRET)
    assert not services.identity.ensure_api_key("acme", "KEYID", SECRET)
    with pytest.raises(Conflict):
        services.identity.ensure_api_key("acme", "KEYID", OTHER_SECRET)
    with pytest.raises(Conflict):
        services.identity.ensure_api_key("other", "KEYID", SECRET)
    issued = services.identity.issue_access_token(AccessTokenRequest("KEYID"), SECRET)
    assert services.identity.authenticate(issued.token).account == "acme"


@pytest.mark.parametrize("weak", ["SECRET", "Winter2026!", "0" * 40, "_" + "ab" * 16])
def test_ensure_api_key_refuses_secrets_that_are_not_random_enough(
    services: Services, weak: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        services.identity.ensure_api_key("acme", "KEYID", weak)
    assert caught.value.field == "secret"
    assert weak not in caught.value.message
    assert not services.identity.has_api_keys()


# --- agent access tokens --------------------------------------------------------------------


def test_create_mints_a_token_with_server_owned_times(
    services: Services, admin: Principal, clock: Clock
) -> None:
    request = parse_create(
        '{"tokenEnabled":1,"tokenAlias":"prod","props":{"createdTime":"0001-01-01T00:00:00Z",'
        '"description":"k8s deployment for production env","os":"linux"}}'
    )
    created = services.tokens.create_token(admin, request)
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
    assert services.tokens.get_token(admin, created.token) == created
    assert services.tokens.list_tokens(admin) == [created]


def test_create_defaults_os_to_linux_and_keeps_subscription(
    services: Services, admin: Principal
) -> None:
    created = services.tokens.create_token(admin, parse_create('{"tokenAlias":"a1"}'))
    assert (created.os, created.description, created.subscription) == ("linux", "", None)
    paid = create(services, admin, "a2", subscription="enterprise")
    assert services.tokens.get_token(admin, paid.token).subscription == "enterprise"


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
        ('{"tokenAlias":"a","props":{"os":"macos"}}', "props.os"),
        ('{"tokenAlias":"a","props":{"os":"Linux"}}', "props.os"),
        ('{"tokenAlias":"a","props":{"description":"' + "d" * 1025 + '"}}', "props.description"),
        ('{"tokenAlias":"a","props":{"subscription":"gold"}}', "props.subscription"),
    ],
)
def test_create_refuses_bad_fields_naming_them(
    services: Services, admin: Principal, body: str, field: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        services.tokens.create_token(admin, parse_create(body))
    assert caught.value.status == 400
    assert caught.value.field == field
    assert field in caught.value.message
    assert services.tokens.list_tokens(admin) == []


def test_an_unknown_os_is_refused_naming_the_allowed_values(
    services: Services, admin: Principal
) -> None:
    with pytest.raises(BadRequest) as caught:
        services.tokens.create_token(
            admin, parse_create('{"tokenAlias":"a","props":{"os":"macos"}}')
        )
    assert caught.value.message == 'props.os must be one of "linux", "windows".'
    assert create(services, admin, "w", os="windows").os == "windows"


def test_longest_valid_alias_is_accepted(services: Services, admin: Principal) -> None:
    assert create(services, admin, "a" * 64).name == "a" * 64
    assert create(services, admin, "名前 with spaces").name == "名前 with spaces"


def test_duplicate_alias_is_a_conflict_on_create_and_rename(
    services: Services, admin: Principal
) -> None:
    create(services, admin, "prod")
    other = create(services, admin, "dev")
    message = "Agent access token with name 'prod' already exists."
    with pytest.raises(Conflict) as caught:
        create(services, admin, "prod")
    assert (caught.value.status, caught.value.message) == (409, message)
    with pytest.raises(Conflict, match=re.escape(message)):
        services.tokens.update_token(
            admin, other.token, UpdateAgentTokenRequest(token_alias="prod")
        )
    # The same alias in another account is fine.
    create(services, login(services, "other", Role.ADMIN), "prod")


def test_concurrent_creates_of_one_alias_give_one_token(
    services: Services, admin: Principal
) -> None:
    def attempt(_: int) -> str:
        try:
            create(services, admin, "race")
        except Conflict:
            return "conflict"
        return "created"

    results = run_together(6, attempt)
    assert sorted(results) == ["conflict"] * 5 + ["created"]
    assert [t.name for t in services.tokens.list_tokens(admin)] == ["race"]


def test_provider_update_keeps_os_and_omitted_description(
    services: Services, admin: Principal, clock: Clock
) -> None:
    created = create(services, admin, "prod", description="d", os="windows")
    clock.advance(minutes=5)
    updated = services.tokens.update_token(
        admin,
        created.token,
        parse_update(
            '{"tokenEnabled":1,"tokenAlias":"prod2","props":{"createdTime":"0001-01-01T00:00:00Z"}}'
        ),
    )
    assert (updated.name, updated.os, updated.description) == ("prod2", "windows", "d")
    assert updated.created_time == created.created_time
    assert updated.last_updated_time == created.created_time + timedelta(minutes=5)
    assert services.tokens.get_token(admin, created.token) == updated


def test_every_patch_moves_the_update_time(
    services: Services, admin: Principal, clock: Clock
) -> None:
    created = create(services, admin, "prod")
    clock.advance(seconds=1)
    same = services.tokens.update_token(admin, created.token, parse_update("{}"))
    assert same.last_updated_time == created.last_updated_time + timedelta(seconds=1)
    assert (same.name, same.enabled, same.os) == ("prod", True, "linux")


def test_soft_delete_disables_renames_and_frees_the_alias(
    services: Services, admin: Principal
) -> None:
    long_name = "n" * 64
    created = create(services, admin, long_name)
    deleted = services.tokens.update_token(
        admin,
        created.token,
        parse_update(f'{{"tokenEnabled":0,"tokenAlias":"{long_name}-p88g7-deleted"}}'),
    )
    assert (deleted.name, deleted.enabled) == (f"{long_name}-p88g7-deleted", False)
    assert create(services, admin, long_name).token != created.token
    # Only soft-delete aliases get the extra length.
    with pytest.raises(BadRequest):
        services.tokens.update_token(
            admin, created.token, UpdateAgentTokenRequest(token_alias="x" * 65)
        )


def test_enable_and_disable(services: Services, admin: Principal) -> None:
    created = create(services, admin, "prod")
    off = services.tokens.update_token(admin, created.token, parse_update('{"tokenEnabled":0}'))
    assert not off.enabled
    on = services.tokens.update_token(admin, created.token, parse_update('{"tokenEnabled":1}'))
    assert on.enabled


def test_unknown_foreign_or_garbage_token_is_not_found_and_masked(
    services: Services, admin: Principal
) -> None:
    created = create(services, admin, "prod")
    stranger = login(services, "other", Role.ADMIN)
    unknown = "0123456789abcdef" * 3 + "01234567"
    operations: list[Callable[[Principal, str], object]] = [
        services.tokens.get_token,
        lambda p, t: services.tokens.update_token(p, t, parse_update('{"tokenEnabled":0}')),
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
    assert services.tokens.get_token(admin, created.token).enabled


def test_read_only_keys_can_read_but_not_write(services: Services, admin: Principal) -> None:
    created = create(services, admin, "prod")
    reader = login(services, "acme", Role.READ_ONLY)
    assert services.tokens.get_token(reader, created.token) == created
    assert services.tokens.list_tokens(reader) == [created]
    assert services.tokens.search_tokens(reader, SearchRequest()) == [created]
    with pytest.raises(Forbidden, match="read-only") as caught:
        create(services, reader, "mine")
    assert caught.value.status == 403
    with pytest.raises(Forbidden):
        services.tokens.update_token(reader, created.token, parse_update('{"tokenEnabled":0}'))
    assert services.tokens.get_token(admin, created.token).enabled


def test_agent_installers_create_and_read_but_do_not_update(
    services: Services, admin: Principal
) -> None:
    installer = login(services, "acme", Role.AGENT_INSTALLER)
    created = create(services, installer, "node-42")
    assert services.tokens.get_token(installer, created.token) == created
    with pytest.raises(Forbidden, match="agent-installer"):
        services.tokens.update_token(installer, created.token, parse_update('{"tokenEnabled":0}'))


def test_search_by_exact_alias_as_the_sdk_does(services: Services, admin: Principal) -> None:
    create(services, admin, "prod")
    staging = create(services, admin, "staging")
    found = services.tokens.search_tokens(
        admin,
        parse_search('{"filters":[{"expression":"eq","field":"tokenAlias","value":"staging"}]}'),
    )
    assert found == [staging]


def test_search_on_created_time_uses_the_last_update(
    services: Services, admin: Principal, clock: Clock
) -> None:
    first = create(services, admin, "first")
    clock.advance(minutes=1)
    create(services, admin, "second")
    cut = wire.format_time(clock.now)
    clock.advance(minutes=1)
    services.tokens.update_token(admin, first.token, parse_update('{"tokenEnabled":0}'))
    body = (
        '{"filters":[{"expression":"gt","field":"createdTime","value":"%s"}]}' % cut  # noqa: UP031
    )
    assert [t.name for t in services.tokens.search_tokens(admin, parse_search(body))] == ["first"]


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
    services: Services, admin: Principal, body: str, field: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        services.tokens.search_tokens(admin, parse_search('{"filters":[' + body + "]}"))
    assert caught.value.field == field


@given(st.text(max_size=20).filter(lambda f: f not in SEARCH_FIELDS))
def test_search_on_an_unknown_field_is_refused(name: str) -> None:
    request = parse_search(
        json.dumps({"filters": [{"expression": "eq", "field": name, "value": "x"}]})
    )
    with pytest.raises(BadRequest) as caught:
        search_conditions(request.filters)
    assert caught.value.field == "filters[0].field"


def test_search_filters_become_typed_conditions() -> None:
    request = parse_search(
        '{"filters":['
        '{"field":"createdTime","expression":"gt","value":"2026-11-25T13:02:00.2+01:00"},'
        '{"field":"tokenEnabled","expression":"in","values":[0,"1"]},'
        '{"field":"props.os","expression":"eq","value":7},'
        '{"field":"tokenAlias","expression":"like","value":"prod\\\\%"}]}'
    )
    conditions = search_conditions(request.filters)
    assert conditions == (
        TokenCondition(
            TokenColumn.UPDATED_TIME,
            Operator.GT,
            (datetime(2026, 11, 25, 12, 2, 0, 200000, tzinfo=UTC),),
        ),
        TokenCondition(TokenColumn.ENABLED, Operator.IN, (False, True)),
        TokenCondition(TokenColumn.OS, Operator.EQ, ("7",)),
        TokenCondition(TokenColumn.ALIAS, Operator.LIKE, ("prod\\%",)),
    )
    assert [type(v) for v in conditions[1].values] == [bool, bool]


def test_an_in_filter_holds_one_to_a_thousand_values() -> None:
    def conditions(count: int) -> tuple[TokenCondition, ...]:
        values = [f"t{n}" for n in range(count)]
        body = {"filters": [{"field": "tokenAlias", "expression": "in", "values": values}]}
        return search_conditions(parse_search(json.dumps(body)).filters)

    assert len(conditions(limits.SEARCH_VALUES_MAX)[0].values) == limits.SEARCH_VALUES_MAX
    for count in (0, limits.SEARCH_VALUES_MAX + 1):
        with pytest.raises(BadRequest) as caught:
            conditions(count)
        assert caught.value.field == "filters[0].values"


def test_errors_carry_status_and_message(services: Services) -> None:
    error: ServiceError = Conflict("taken")
    assert (error.status, error.message, str(error)) == (409, "taken", "taken")


# --- accounts and sub-accounts --------------------------------------------------------------


def bearer_for(services: Services, key: wire.ApiKeyFile) -> str:
    return services.identity.issue_access_token(
        AccessTokenRequest(key_id=key.key_id), key.secret
    ).token


def test_a_parent_key_acts_in_its_sub_accounts_and_tokens_stay_apart(
    services: Services,
) -> None:
    parent_key = services.identity.create_api_key("acme")
    services.identity.create_account("prod", parent="ACME")
    parent = bearer_for(services, parent_key)

    in_prod = services.identity.authenticate(parent, "PROD")
    assert (in_prod.account, in_prod.key_account) == ("prod", "acme")
    in_acme = services.identity.authenticate(parent)
    prod_token = create(services, in_prod, "web")
    acme_token = create(services, in_acme, "web")  # the same alias: another account

    assert services.tokens.list_tokens(in_prod) == [prod_token]
    assert services.tokens.list_tokens(in_acme) == [acme_token]
    with pytest.raises(NotFound):
        services.tokens.get_token(in_acme, prod_token.token)
    with pytest.raises(NotFound):
        services.tokens.update_token(in_prod, acme_token.token, parse_update('{"tokenEnabled":0}'))


def test_a_sub_account_key_is_confined_to_its_sub_account(services: Services) -> None:
    services.identity.create_api_key("acme")
    services.identity.create_account("prod", parent="acme")
    services.identity.create_account("staging", parent="acme")
    key = services.identity.create_api_key("prod", role=Role.AGENT_INSTALLER)
    # Lacework's download format: the account, and the sub-account the key acts in.
    assert (key.account, key.sub_account) == ("acme", "prod")
    bearer = bearer_for(services, key)

    assert services.identity.authenticate(bearer).account == "prod"
    assert services.identity.authenticate(bearer, "prod").account == "prod"
    for elsewhere in ("acme", "staging"):
        with pytest.raises(Forbidden, match=f"may not act in account '{elsewhere}'"):
            services.identity.authenticate(bearer, elsewhere)


def test_a_key_of_another_top_level_account_cannot_enter_a_sub_account(
    services: Services,
) -> None:
    services.identity.create_api_key("acme")
    services.identity.create_account("prod", parent="acme")
    stranger = bearer_for(services, services.identity.create_api_key("other"))
    with pytest.raises(Forbidden):
        services.identity.authenticate(stranger, "prod")


def test_account_rules(services: Services) -> None:
    top = services.identity.create_account("acme")
    assert (top.name, top.parent) == ("acme", None)
    sub = services.identity.create_account("prod", parent="acme")
    assert (sub.name, sub.parent) == ("prod", "acme")
    with pytest.raises(Conflict, match="'Prod' already exists"):
        services.identity.create_account("Prod", parent="acme")
    with pytest.raises(Conflict):
        services.identity.create_account("ACME")
    with pytest.raises(BadRequest, match="sub-accounts belong to a top-level account"):
        services.identity.create_account("deep", parent="prod")
    with pytest.raises(NotFound, match="'nope' was not found"):
        services.identity.create_account("orphan", parent="nope")
    for bad in ("", "-x", "a b", "a/b", "x" * 64, "ünï"):
        with pytest.raises(BadRequest) as caught:
            services.identity.create_account(bad)
        assert caught.value.field == "account"
    assert [(a.name, a.parent) for a in services.identity.list_accounts()] == [
        ("acme", None),
        ("prod", "acme"),
    ]


def test_a_key_for_an_unknown_account_creates_a_top_level_account(
    services: Services,
) -> None:
    key = services.identity.create_api_key("newco")
    assert (key.account, key.sub_account) == ("newco", "")
    found = services.identity.find_account("NEWCO")
    assert found is not None
    assert (found.name, found.parent) == ("newco", None)
    # Case does not make another account: the key joins the existing one.
    assert services.identity.create_api_key("NewCo").account == "newco"
    assert len(services.identity.list_api_keys("newco")) == 2


# --- key limits, disabling and deleting ------------------------------------------------------


def test_a_user_has_at_most_twenty_keys_per_account(services: Services) -> None:
    keys = [services.identity.create_api_key("acme", user="alice") for _ in range(20)]
    with pytest.raises(Conflict, match="already has 20 API keys in account 'acme'"):
        services.identity.create_api_key("acme", user="alice")
    services.identity.create_api_key("acme", user="bob")
    services.identity.create_api_key("other", user="alice")
    services.identity.set_api_key_enabled(keys[0].key_id, False)  # a disabled key still counts
    with pytest.raises(Conflict):
        services.identity.create_api_key("acme", user="alice")
    services.identity.delete_api_key(keys[0].key_id)  # a deleted one does not
    services.identity.create_api_key("acme", user="alice")


def test_concurrent_key_creation_never_exceeds_the_limit(services: Services) -> None:
    for _ in range(15):
        services.identity.create_api_key("acme", user="alice")

    def add(_: int) -> str:
        try:
            services.identity.create_api_key("acme", user="alice")
        except Conflict:
            return "refused"
        return "created"

    outcomes = run_together(10, add)
    assert sorted(outcomes) == ["created"] * 5 + ["refused"] * 5
    assert len(services.identity.list_api_keys("acme")) == 20


def test_deleting_a_key_stops_its_bearers_and_its_logins(services: Services) -> None:
    key = services.identity.create_api_key("acme")
    bearer = bearer_for(services, key)
    services.identity.authenticate(bearer)
    deleted = services.identity.delete_api_key(key.key_id)
    assert deleted.key_id == key.key_id
    with pytest.raises(Unauthorized):
        services.identity.authenticate(bearer)
    with pytest.raises(Unauthorized, match="Invalid API key or secret"):
        bearer_for(services, key)
    with pytest.raises(NotFound, match="was not found"):
        services.identity.delete_api_key(key.key_id)
    with pytest.raises(NotFound):
        services.identity.set_api_key_enabled(key.key_id, False)


# --- the audit trail ------------------------------------------------------------------------


def assert_no_secret(events: list[AuditEvent], *secrets: str) -> None:
    dumped = repr(events)
    for secret in secrets:
        assert secret not in dumped


def test_the_token_lifecycle_is_audited_without_token_values(
    services: Services, admin: Principal
) -> None:
    created = create(services, admin, "prod", description="d")
    value = created.token
    steps = [
        ('{"tokenEnabled":0}', "token.disabled", "tokenEnabled 1 -> 0"),
        ('{"tokenEnabled":1}', "token.enabled", "tokenEnabled 0 -> 1"),
        ('{"tokenAlias":"web"}', "token.renamed", "tokenAlias 'prod' -> 'web'"),
        ('{"props":{"description":"e"}}', "token.updated", "props.description changed"),
        ('{"tokenEnabled":1,"tokenAlias":"web"}', "token.updated", "no change"),
        (
            '{"tokenEnabled":0,"tokenAlias":"web-p88g7-deleted"}',
            "token.soft-deleted",
            "tokenAlias 'web' -> 'web-p88g7-deleted'; tokenEnabled 1 -> 0",
        ),
    ]
    for body, _, _ in steps:
        services.tokens.update_token(admin, value, parse_update(body))

    events = list(reversed(services.audit.list_events("acme")))
    assert [e.action.value for e in events] == [
        "account.created",
        "key.created",
        "token.created",
        *(action for _, action, _ in steps),
    ]
    token_events = events[2:]
    expected_id = services.sealer.lookup(value)[:12]
    for event in token_events:
        assert (event.account, event.actor, event.actor_account) == ("acme", admin.key_id, "acme")
        assert event.token_id == expected_id
    assert [e.detail for e in token_events[1:]] == [detail for _, _, detail in steps]
    assert [e.token_alias for e in token_events] == [
        "prod",
        "prod",
        "prod",
        "web",
        "web",
        "web",
        "web-p88g7-deleted",
    ]
    assert_no_secret(events, value)


def test_a_refused_change_leaves_no_audit_event(services: Services, admin: Principal) -> None:
    create(services, admin, "prod")
    other = create(services, admin, "other")
    before = services.audit.list_events()
    with pytest.raises(Conflict):
        services.tokens.update_token(admin, other.token, parse_update('{"tokenAlias":"prod"}'))
    with pytest.raises(Conflict):
        create(services, admin, "prod")
    with pytest.raises(NotFound):
        services.tokens.update_token(admin, "f" * 56, parse_update('{"tokenEnabled":0}'))
    reader = login(services, "acme", Role.READ_ONLY)
    with pytest.raises(Forbidden):
        services.tokens.update_token(reader, other.token, parse_update('{"tokenEnabled":0}'))
    after = services.audit.list_events()
    assert [e.action for e in after[1:]] == [e.action for e in before]
    assert after[0].action.value == "key.created"  # the reader's key, nothing else


def test_key_events_and_failed_logins_are_audited(services: Services) -> None:
    key = services.identity.create_api_key(
        "acme", role=Role.READ_ONLY, user="ci", actor="cli:alice"
    )
    with pytest.raises(Unauthorized):
        services.identity.issue_access_token(AccessTokenRequest(key.key_id), "_wrong")
    with pytest.raises(Unauthorized):
        services.identity.issue_access_token(AccessTokenRequest("ACME_UNKNOWN"), "_wrong")
    # Failed logins are written in the next batch of deferred events (here: at once).
    assert services.deferred.flush() == 1  # the unknown key's is not written
    services.identity.set_api_key_enabled(key.key_id, False, actor="cli:alice")
    with pytest.raises(Unauthorized):
        services.identity.issue_access_token(AccessTokenRequest(key.key_id), key.secret)
    assert services.deferred.flush() == 1
    services.identity.set_api_key_enabled(key.key_id, True, actor="cli:bob")
    services.identity.delete_api_key(key.key_id, actor="cli:bob")

    events = list(reversed(services.audit.list_events("acme")))
    assert [(e.action.value, e.actor, e.key_id) for e in events] == [
        ("account.created", "cli:alice", None),
        ("key.created", "cli:alice", key.key_id),
        ("login.failed", key.key_id, key.key_id),
        ("key.disabled", "cli:alice", key.key_id),
        ("login.failed", key.key_id, key.key_id),
        ("key.enabled", "cli:bob", key.key_id),
        ("key.deleted", "cli:bob", key.key_id),
    ]
    assert events[1].detail == "role read-only, user 'ci'"
    assert events[2].detail == "wrong or missing secret"
    assert events[4].detail == "the key is disabled"
    assert_no_secret(events, key.secret, "_wrong")


def test_audit_is_read_per_account_newest_first_with_a_limit(services: Services) -> None:
    acme = login(services, "acme", Role.ADMIN)
    other = login(services, "other", Role.ADMIN)
    services.identity.create_account("prod", parent="acme")
    for n in range(3):
        create(services, acme, f"a{n}")
        create(services, other, f"o{n}")
    parent_key = services.identity.list_api_keys("acme")[0]
    in_prod = Principal(
        account="prod", key_id=parent_key.key_id, role=Role.ADMIN, key_account="acme"
    )
    create(services, in_prod, "p0")

    assert [e.token_alias for e in services.audit.list_events("other", limit=2)] == ["o2", "o1"]
    prod = services.audit.list_events("PROD")
    assert [(e.token_alias, e.account, e.actor_account) for e in prod] == [("p0", "prod", "acme")]
    everything = services.audit.list_events(limit=1000)
    assert [e.id for e in everything] == sorted((e.id for e in everything), reverse=True)
    assert len(everything) == 2 * (1 + 1 + 3) + 1 + 1  # accounts, keys, tokens; prod; p0
    for bad in (0, -1, 100_001):
        with pytest.raises(BadRequest):
            services.audit.list_events(limit=bad)

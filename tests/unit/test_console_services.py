"""The rules behind the console, exercised through ``Services`` on each store: sign-in, sessions
that end with their key, tokens named by id, audited reveals, and API keys managed by an admin."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from lacework_tokens import wire
from lacework_tokens.server.crypto import Sealer
from lacework_tokens.server.services import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Principal,
    Services,
    Unauthorized,
)
from lacework_tokens.server.services.identity import MAX_API_KEYS_PER_USER, may_manage_keys
from lacework_tokens.server.services.tokens import may_create, may_update
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import AuditAction, Role
from lacework_tokens.wire import (
    AgentCheckinRequest,
    AgentEnrollmentRequest,
    CreateAgentTokenRequest,
    UpdateAgentTokenRequest,
)

START = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(store: Store, clock: Clock) -> Iterator[Services]:
    opened = Services(store, Sealer.ephemeral(), clock=clock)
    yield opened
    opened.close()  # the deferred audit events are written before the store closes


def signed_in(services: Services, account: str, role: Role, user: str = "admin") -> Principal:
    key = services.identity.create_api_key(account, role=role, user=user)
    return services.identity.sign_in(key.key_id, key.secret)


def test_sign_in_checks_the_secret_like_a_bearer_request_and_audits_both_outcomes(
    services: Services,
) -> None:
    key = services.identity.create_api_key("acme", role=Role.READ_ONLY, user="ana")
    for secret in (key.secret + "x", "", None):
        with pytest.raises(Unauthorized) as caught:
            services.identity.sign_in(key.key_id, secret)
        assert caught.value.message == "Invalid API key or secret."
    with pytest.raises(Unauthorized):
        services.identity.sign_in("ACME_UNKNOWN", key.secret)
    # Failed logins are written in the next batch of deferred events (here: at once, so that
    # they come before the sign-in); the unknown key's is not written.
    assert services.deferred.flush() == 3
    principal = services.identity.sign_in(key.key_id, key.secret)
    assert principal == Principal(
        account="acme", key_id=key.key_id, role=Role.READ_ONLY, key_account="acme"
    )
    actions = [event.action for event in services.audit.list_events("acme")]
    assert actions[0] is AuditAction.CONSOLE_SIGNED_IN
    assert actions.count(AuditAction.LOGIN_FAILED) == 3
    assert key.secret not in repr(services.audit.list_events("acme"))


def test_a_session_s_key_is_read_again_so_disabling_or_deleting_it_ends_the_session(
    services: Services,
) -> None:
    admin = signed_in(services, "acme", Role.ADMIN)
    other = signed_in(services, "acme", Role.READ_ONLY, user="ro")
    assert services.identity.principal_for_key(other.key_id, "acme") == other
    ended = "The API key of this session is disabled or deleted."
    services.identity.set_api_key_enabled_as(admin, other.key_id, False)
    with pytest.raises(Unauthorized) as disabled:
        services.identity.principal_for_key(other.key_id, "acme")
    assert disabled.value.message == ended
    assert not services.identity.get_api_key(other.key_id).enabled
    services.identity.set_api_key_enabled_as(admin, other.key_id, True)
    assert services.identity.get_api_key(other.key_id).enabled
    assert services.identity.principal_for_key(other.key_id, "acme") == other
    services.identity.delete_api_key_as(admin, other.key_id)
    with pytest.raises(Unauthorized) as deleted:
        services.identity.principal_for_key(other.key_id, "acme")
    assert deleted.value.message == ended
    # A session cannot move to another account by naming it.
    with pytest.raises(Unauthorized):
        services.identity.principal_for_key(admin.key_id, "other")


def test_abilities_follow_the_roles_the_services_enforce() -> None:
    assert [may_create(role) for role in Role] == [True, False, True]
    assert [may_update(role) for role in Role] == [True, False, False]
    assert [may_manage_keys(role) for role in Role] == [True, False, False]


def test_tokens_are_found_by_id_and_the_listing_keeps_values_sealed(services: Services) -> None:
    admin = signed_in(services, "acme", Role.ADMIN)
    created = services.tokens.create_token(admin, CreateAgentTokenRequest(token_alias="prod"))
    token_id = services.tokens.id_of(created.token)
    assert token_id != created.token and len(token_id) == 64
    records = services.tokens.records(admin)
    assert [r.alias for r in records] == ["prod"]
    assert created.token not in repr(records)
    assert services.tokens.record(admin, token_id).alias == "prod"
    another = token_id[:-1] + ("1" if token_id[-1] == "0" else "0")
    for wrong in ("", "nothex", token_id.upper(), another, created.token):
        with pytest.raises(NotFound):
            services.tokens.record(admin, wrong)
    stranger = signed_in(services, "other", Role.ADMIN)
    with pytest.raises(NotFound):
        services.tokens.record(stranger, token_id)


def test_every_reveal_is_audited_without_the_value(services: Services) -> None:
    admin = signed_in(services, "acme", Role.ADMIN)
    reader = signed_in(services, "acme", Role.READ_ONLY, user="ro")
    created = services.tokens.create_token(admin, CreateAgentTokenRequest(token_alias="prod"))
    token_id = services.tokens.id_of(created.token)
    assert services.tokens.reveal(reader, token_id, why="revealed in the console") == created.token
    assert services.tokens.reveal(admin, token_id) == created.token
    events = services.audit.list_token_events("acme", token_id)
    assert [e.action for e in events] == [
        AuditAction.TOKEN_REVEALED,
        AuditAction.TOKEN_REVEALED,
        AuditAction.TOKEN_CREATED,
    ]
    assert [e.actor for e in events[:2]] == [admin.key_id, reader.key_id]
    assert events[1].detail == "revealed in the console"
    assert all(e.token_alias == "prod" for e in events)
    assert created.token not in repr(services.audit.list_events())


def test_a_token_s_events_are_its_own(services: Services) -> None:
    admin = signed_in(services, "acme", Role.ADMIN)
    first = services.tokens.create_token(admin, CreateAgentTokenRequest(token_alias="a"))
    second = services.tokens.create_token(admin, CreateAgentTokenRequest(token_alias="b"))
    first_id = services.tokens.id_of(first.token)
    services.tokens.update_token_by_id(
        admin, first_id, UpdateAgentTokenRequest(token_alias="a2", token_enabled=False)
    )
    events = services.audit.list_token_events("acme", first_id)
    assert [e.action for e in events] == [AuditAction.TOKEN_RENAMED, AuditAction.TOKEN_CREATED]
    assert [e.token_alias for e in events] == ["a2", "a"]
    assert len(services.audit.list_token_events("acme", first_id, limit=1)) == 1
    second_events = services.audit.list_token_events("acme", services.tokens.id_of(second.token))
    assert [e.token_alias for e in second_events] == ["b"]
    assert services.audit.list_token_events("other", first_id) == []


def test_updates_by_id_follow_the_role_rules(services: Services) -> None:
    admin = signed_in(services, "acme", Role.ADMIN)
    installer = signed_in(services, "acme", Role.AGENT_INSTALLER, user="installer")
    created = services.tokens.create_token(installer, CreateAgentTokenRequest(token_alias="ci"))
    token_id = services.tokens.id_of(created.token)
    with pytest.raises(Forbidden):
        services.tokens.update_token_by_id(
            installer, token_id, UpdateAgentTokenRequest(token_enabled=False)
        )
    assert services.tokens.record(admin, token_id).enabled
    updated = services.tokens.update_token_by_id(
        admin,
        token_id,
        UpdateAgentTokenRequest(props=wire.TokenProps(description="runner pool")),
    )
    assert updated.description == "runner pool" and updated.os == "linux"
    services.tokens.create_token(admin, CreateAgentTokenRequest(token_alias="taken"))
    with pytest.raises(Conflict):
        services.tokens.update_token_by_id(
            admin, token_id, UpdateAgentTokenRequest(token_alias="taken")
        )


def test_only_an_admin_manages_keys_and_only_in_its_own_account(services: Services) -> None:
    admin = signed_in(services, "acme", Role.ADMIN, user="ana")
    reader = signed_in(services, "acme", Role.READ_ONLY, user="ro")
    installer = signed_in(services, "acme", Role.AGENT_INSTALLER, user="inst")
    for caller in (reader, installer):
        role = caller.role.value
        with pytest.raises(Forbidden) as listing:
            services.identity.list_api_keys_as(caller)
        assert listing.value.message == f"API key role '{role}' may not list API keys."
        with pytest.raises(Forbidden) as creating:
            services.identity.create_api_key_as(caller, role=Role.ADMIN)
        assert creating.value.message == f"API key role '{role}' may not create API keys."
        for enabled, verb in ((False, "disable"), (True, "enable")):
            with pytest.raises(Forbidden) as switching:
                services.identity.set_api_key_enabled_as(caller, admin.key_id, enabled)
            assert switching.value.message == f"API key role '{role}' may not {verb} API keys."
        with pytest.raises(Forbidden) as deleting:
            services.identity.delete_api_key_as(caller, admin.key_id)
        assert deleting.value.message == f"API key role '{role}' may not delete API keys."
    stranger = signed_in(services, "other", Role.ADMIN)
    with pytest.raises(NotFound):
        services.identity.set_api_key_enabled_as(stranger, reader.key_id, False)
    with pytest.raises(NotFound):
        services.identity.delete_api_key_as(stranger, reader.key_id)
    assert {k.key_id for k in services.identity.list_api_keys_as(stranger)} == {stranger.key_id}
    assert services.identity.get_api_key(reader.key_id).enabled


def test_an_admin_cannot_disable_or_delete_the_key_of_its_own_session(services: Services) -> None:
    admin = signed_in(services, "acme", Role.ADMIN)
    for enabled, verb in ((False, "disable"), (True, "enable")):
        with pytest.raises(Conflict) as switching:
            services.identity.set_api_key_enabled_as(admin, admin.key_id, enabled)
        assert switching.value.message == (
            f"API key '{admin.key_id}' is the key this session uses: sign in with another "
            f"admin key to {verb} it."
        )
    with pytest.raises(Conflict) as deleting:
        services.identity.delete_api_key_as(admin, admin.key_id)
    assert deleting.value.message == (
        f"API key '{admin.key_id}' is the key this session uses: sign in with another "
        "admin key to delete it."
    )
    assert services.identity.get_api_key(admin.key_id).enabled


def test_keys_created_by_an_admin_keep_the_limit_and_name_the_admin_in_the_trail(
    services: Services,
) -> None:
    admin = signed_in(services, "acme", Role.ADMIN, user="ana")
    made = services.identity.create_api_key_as(admin, role=Role.READ_ONLY)
    assert made.account == "acme" and made.secret
    record = services.identity.get_api_key(made.key_id)
    assert (record.user, record.role) == ("ana", Role.READ_ONLY)
    created_events = [e for e in services.audit.list_events("acme") if e.key_id == made.key_id]
    assert [(e.action, e.actor) for e in created_events] == [
        (AuditAction.KEY_CREATED, admin.key_id)
    ]
    # ana already holds two keys (the one signed in with and ``made``).
    for _ in range(MAX_API_KEYS_PER_USER - 2):
        services.identity.create_api_key_as(admin)
    with pytest.raises(Conflict, match="20 API keys"):
        services.identity.create_api_key_as(admin)
    other_user = services.identity.create_api_key_as(admin, user="bo", role=Role.AGENT_INSTALLER)
    assert services.identity.get_api_key(other_user.key_id).user == "bo"
    services.identity.set_api_key_enabled_as(admin, made.key_id, False)
    deleted = services.identity.delete_api_key_as(admin, made.key_id)
    assert deleted.key_id == made.key_id
    actions = [
        (e.action, e.actor) for e in services.audit.list_events("acme") if e.key_id == made.key_id
    ]
    assert actions[:2] == [
        (AuditAction.KEY_DELETED, admin.key_id),
        (AuditAction.KEY_DISABLED, admin.key_id),
    ]


def test_usage_by_id_counts_agents_per_token_of_the_account_only(
    services: Services, clock: Clock
) -> None:
    admin = signed_in(services, "acme", Role.ADMIN)
    busy = services.tokens.create_token(admin, CreateAgentTokenRequest(token_alias="busy"))
    quiet = services.tokens.create_token(admin, CreateAgentTokenRequest(token_alias="quiet"))
    first = services.agents.enroll(busy.token, AgentEnrollmentRequest(hostname="a"))
    clock.now += timedelta(days=3)
    services.agents.enroll(busy.token, AgentEnrollmentRequest(hostname="b"))
    records = services.tokens.records(admin)
    usage = services.agents.usage_by_id(admin, records, since=clock.now - timedelta(days=1))
    busy_id, quiet_id = (services.tokens.id_of(t.token) for t in (busy, quiet))
    assert (usage[busy_id].enrolled, usage[busy_id].active) == (2, 1)
    assert (usage[quiet_id].enrolled, usage[quiet_id].active) == (0, 0)
    week = services.agents.usage_by_id(admin, records, since=clock.now - timedelta(days=7))
    assert week[busy_id].active == 2
    services.agents.checkin(busy.token, AgentCheckinRequest(mid=first.mid))
    again = services.agents.usage_by_id(admin, records, since=clock.now - timedelta(days=1))
    assert again[busy_id].active == 2
    stranger = signed_in(services, "other", Role.ADMIN)
    assert services.agents.usage_by_id(stranger, records, since=START) == {}


def test_list_agents_filters_by_token_id_and_status_within_the_window(
    services: Services, clock: Clock
) -> None:
    admin = signed_in(services, "acme", Role.ADMIN)
    red = services.tokens.create_token(admin, CreateAgentTokenRequest(token_alias="red"))
    blue = services.tokens.create_token(admin, CreateAgentTokenRequest(token_alias="blue"))
    services.agents.enroll(red.token, AgentEnrollmentRequest(hostname="old"))
    clock.now += timedelta(days=8)  # "old" falls out of the 7-day window
    for name in ("r1", "r2"):
        services.agents.enroll(red.token, AgentEnrollmentRequest(hostname=name))
        clock.now += timedelta(minutes=5)
    services.agents.enroll(blue.token, AgentEnrollmentRequest(hostname="b1"))
    red_id = services.tokens.id_of(red.token)

    everything = services.agents.list_agents(admin)
    assert [a.record.hostname for a in everything.agents] == ["b1", "r2", "r1"]
    assert everything.total == 3
    only_red = services.agents.list_agents(admin, token_lookup=red_id)
    assert [a.record.hostname for a in only_red.agents] == ["r2", "r1"]
    assert {a.record.token_lookup for a in only_red.agents} == {red_id}
    wide = services.agents.list_agents(admin, token_lookup=red_id, window=timedelta(days=30))
    assert wide.total == 3
    first = services.agents.list_agents(admin, limit=1)
    assert (len(first.agents), first.total) == (1, 3)

    clock.now += timedelta(hours=2)  # nobody checked in for two hours
    assert {a.status for a in services.agents.list_agents(admin).agents} == {"INACTIVE"}
    services.tokens.update_token_by_id(admin, red_id, UpdateAgentTokenRequest(token_enabled=False))
    disabled = services.agents.list_agents(admin, status="TOKEN_DISABLED")
    assert sorted(a.record.hostname for a in disabled.agents) == ["r1", "r2"]
    assert [
        a.record.hostname for a in services.agents.list_agents(admin, status="INACTIVE").agents
    ] == ["b1"]
    assert services.agents.list_agents(signed_in(services, "other", Role.ADMIN)).total == 0
    with pytest.raises(BadRequest):
        services.agents.list_agents(admin, status="SLEEPING")
    with pytest.raises(BadRequest):
        services.agents.list_agents(admin, limit=0)

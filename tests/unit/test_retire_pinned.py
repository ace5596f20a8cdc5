"""Retiring a token on the server (a PATCH that disables it, with ``Lacework-Tokens-Retire``):
refused while agents enrolled with it checked in within the window, unless forced; recorded as
``token.retired`` with the server's own figures. Also the enrollment policy's place in the audit
trail and an expiry that must lie ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lacework_tokens import wire
from lacework_tokens.server.crypto import Sealer
from lacework_tokens.server.services import (
    BadRequest,
    Conflict,
    NotFound,
    Principal,
    Services,
)
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import AuditAction, AuditEvent, Role
from lacework_tokens.wire import (
    AccessTokenRequest,
    AgentCheckinRequest,
    AgentEnrollmentRequest,
    CreateAgentTokenRequest,
    TokenProps,
    UpdateAgentTokenRequest,
)

START = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
DISABLE = UpdateAgentTokenRequest(token_enabled=False)
HEADER_PROBLEM = (
    "Lacework-Tokens-Retire: must be idle-for=<seconds, at least 1>, optionally '; force'"
)


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
def services(store: Store, clock: Clock) -> Services:
    return Services(store, Sealer.ephemeral(), clock=clock)


@pytest.fixture
def admin(services: Services) -> Principal:
    key = services.identity.create_api_key("acme", role=Role.ADMIN)
    bearer = services.identity.issue_access_token(AccessTokenRequest(key_id=key.key_id), key.secret)
    return services.identity.authenticate(f"Bearer {bearer.token}")


def create(services: Services, admin: Principal, alias: str, **props: Any) -> str:
    request = CreateAgentTokenRequest(token_alias=alias, props=TokenProps(**props))
    return services.tokens.create_token(admin, request).token


def enroll(services: Services, token: str, hostname: str) -> int:
    return services.agents.enroll(token, AgentEnrollmentRequest(hostname=hostname)).mid


def retire(services: Services, admin: Principal, token: str, header: str) -> wire.AgentAccessToken:
    return services.tokens.update_token(admin, token, DISABLE, retire=header)


def events(services: Services, action: AuditAction) -> list[AuditEvent]:
    return [e for e in services.audit.list_events("acme") if e.action is action]


def test_a_token_no_agent_uses_is_retired_and_the_trail_says_so(
    services: Services, admin: Principal
) -> None:
    token = create(services, admin, "web")
    assert retire(services, admin, token, "idle-for=604800").enabled is False
    (event,) = events(services, AuditAction.TOKEN_RETIRED)
    assert event.token_alias == "web"
    assert event.detail == "retired: no agent checked in within 7 days; tokenEnabled 1 -> 0"


def test_a_token_agents_still_use_is_not_retired(
    services: Services, admin: Principal, clock: Clock
) -> None:
    token = create(services, admin, "web")
    enroll(services, token, "web-1")
    clock.advance(minutes=30)
    with pytest.raises(Conflict) as refused:
        retire(services, admin, token, "idle-for=3600")
    assert refused.value.message == (
        "Agent access token 'web' is in use: 1 agent enrolled with it checked in within 1 hour, "
        "the last at 2026-11-25T12:00:00.123Z. Move them to another token, or force the retire."
    )
    assert services.tokens.get_token(admin, token).enabled is True
    assert events(services, AuditAction.TOKEN_RETIRED) == []


def test_a_forced_retire_disables_it_and_names_the_agents_it_cut_off(
    services: Services, admin: Principal, clock: Clock
) -> None:
    token = create(services, admin, "web")
    first = enroll(services, token, "web-1")
    enroll(services, token, "web-2")
    clock.advance(minutes=10)
    services.agents.checkin(token, AgentCheckinRequest(mid=first))
    with pytest.raises(Conflict, match="is in use: 2 agents enrolled with it checked in within"):
        retire(services, admin, token, "idle-for=86400")
    assert retire(services, admin, token, "idle-for=86400; force").enabled is False
    (event,) = events(services, AuditAction.TOKEN_RETIRED)
    assert event.detail == (
        "forced: 2 agents checked in within 1 day, the last at 2026-11-25T12:10:00.123Z; "
        "tokenEnabled 1 -> 0"
    )


def test_agents_silent_for_longer_than_the_window_do_not_hold_a_token(
    services: Services, admin: Principal, clock: Clock
) -> None:
    token = create(services, admin, "web")
    enroll(services, token, "web-1")
    clock.advance(hours=2)
    with pytest.raises(Conflict):
        retire(services, admin, token, "idle-for=7201")
    assert retire(services, admin, token, "idle-for=3600").enabled is False
    (event,) = events(services, AuditAction.TOKEN_RETIRED)
    assert event.detail == "retired: no agent checked in within 1 hour; tokenEnabled 1 -> 0"


def test_retiring_a_disabled_token_changes_nothing_and_records_no_retire(
    services: Services, admin: Principal
) -> None:
    token = create(services, admin, "web")
    enroll(services, token, "web-1")
    services.tokens.update_token(admin, token, DISABLE)
    # Its agent is active, but the token is disabled already: nothing to refuse.
    assert retire(services, admin, token, "idle-for=3600").enabled is False
    assert events(services, AuditAction.TOKEN_RETIRED) == []


def test_retiring_an_unknown_token_is_not_found(services: Services, admin: Principal) -> None:
    with pytest.raises(NotFound):
        retire(services, admin, "0" * 56, "idle-for=3600")


@pytest.mark.parametrize("header", ["", "idle-for=0", "idle-for=5; forced"])
def test_a_malformed_retire_header_is_refused(
    services: Services, admin: Principal, header: str
) -> None:
    token = create(services, admin, "web")
    with pytest.raises(BadRequest) as refused:
        retire(services, admin, token, header)
    assert (refused.value.message, refused.value.field) == (HEADER_PROBLEM, wire.RETIRE_HEADER)
    assert services.tokens.get_token(admin, token).enabled is True


@pytest.mark.parametrize(
    "request_body",
    [
        UpdateAgentTokenRequest(token_alias="renamed"),
        UpdateAgentTokenRequest(token_enabled=True),
        UpdateAgentTokenRequest(),
    ],
)
def test_a_retire_header_goes_only_with_a_disable(
    services: Services, admin: Principal, request_body: UpdateAgentTokenRequest
) -> None:
    token = create(services, admin, "web")
    with pytest.raises(BadRequest) as refused:
        services.tokens.update_token(admin, token, request_body, retire="idle-for=60")
    assert refused.value.message == (
        'Lacework-Tokens-Retire goes with a request that disables the token ({"tokenEnabled": 0}).'
    )
    assert refused.value.field == wire.RETIRE_HEADER
    assert services.tokens.get_token(admin, token).name == "web"


# --- the enrollment policy --------------------------------------------------------------------


def test_an_expiry_must_lie_ahead_by_a_microsecond_at_least(
    services: Services, admin: Principal, clock: Clock
) -> None:
    for past in (clock.now, clock.now - timedelta(days=1)):
        with pytest.raises(BadRequest) as refused:
            create(services, admin, "late", expires_at=past)
        assert (refused.value.message, refused.value.field) == (
            "props.expiresAt must be in the future.",
            "props.expiresAt",
        )
    ahead = clock.now + timedelta(microseconds=1)
    token = create(services, admin, "soon", expires_at=ahead)
    assert services.tokens.get_token(admin, token).expires_at == ahead


def test_policy_changes_are_audited_with_old_and_new_values(
    services: Services, admin: Principal
) -> None:
    token = create(services, admin, "web")
    ends = START + timedelta(days=1)
    services.tokens.update_token(
        admin,
        token,
        UpdateAgentTokenRequest(props=TokenProps(expires_at=ends, max_enrollments=5, scope="db")),
    )
    services.tokens.update_token(
        admin, token, UpdateAgentTokenRequest(props=TokenProps(max_enrollments=6))
    )
    changed = [e.detail for e in events(services, AuditAction.TOKEN_UPDATED)]
    assert changed == [
        "props.maxEnrollments 5 -> 6",
        "props.expiresAt None -> '2026-11-26T12:00:00.123+00:00'; "
        "props.maxEnrollments None -> 5; props.scope None -> 'db'",
    ]
    (created,) = events(services, AuditAction.TOKEN_CREATED)
    assert created.detail == "tokenEnabled 1, props.os 'linux'"


@pytest.mark.parametrize(
    ("props", "field", "message"),
    [
        (
            {"scope": "no spaces"},
            "props.scope",
            "props.scope must be 1 to 64 letters, digits, '_', '.', ':', '/' or '-', starting "
            "with a letter or digit.",
        ),
        (
            {"max_enrollments": 0},
            "props.maxEnrollments",
            "props.maxEnrollments must be a whole number from 1 to 1000000.",
        ),
    ],
)
def test_a_policy_outside_the_limits_is_refused_on_create_and_on_update(
    services: Services, admin: Principal, props: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        create(services, admin, "web", **props)
    assert (refused.value.message, refused.value.field) == (message, field)
    token = create(services, admin, "other")
    with pytest.raises(BadRequest) as refused:
        services.tokens.update_token(
            admin, token, UpdateAgentTokenRequest(props=TokenProps(**props))
        )
    assert (refused.value.message, refused.value.field) == (message, field)


def test_a_new_tokens_policy_is_in_its_created_event(services: Services, admin: Principal) -> None:
    ends = START + timedelta(days=1)
    create(services, admin, "web", os="windows", expires_at=ends, max_enrollments=5, scope="db")
    create(services, admin, "single", max_enrollments=1)
    details = [e.detail for e in events(services, AuditAction.TOKEN_CREATED)]
    assert details == [
        "tokenEnabled 1, props.os 'linux', props.maxEnrollments 1",
        "tokenEnabled 1, props.os 'windows', props.expiresAt '2026-11-26T12:00:00.123+00:00', "
        "props.maxEnrollments 5, props.scope 'db'",
    ]

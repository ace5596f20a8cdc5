"""The enrollment-policy and agent limits at their edges, and the durations the command line
and the audit trail read and write: what the backend, the SDK and the plugin all refuse."""

from __future__ import annotations

import pytest

from lacework_tokens import limits
from lacework_tokens.server.crypto import Sealer
from lacework_tokens.server.services import BadRequest, Services
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import Role
from lacework_tokens.wire import AccessTokenRequest, AgentEnrollmentRequest, CreateAgentTokenRequest

ENROLLMENTS = "must be a whole number from 1 to 1000000"
SCOPE = (
    "must be 1 to 64 letters, digits, '_', '.', ':', '/' or '-', starting with a letter or digit"
)
SURROUNDINGS = "must not contain control characters or surrounding whitespace"


@pytest.mark.parametrize("value", [1, 2, 1_000_000])
def test_max_enrollments_from_one_to_a_million(value: int) -> None:
    assert limits.max_enrollments_problem(value) is None


@pytest.mark.parametrize("value", [0, -1, 1_000_001, True, False, 1.0, "5", None])
def test_max_enrollments_anything_else_is_refused(value: object) -> None:
    assert limits.max_enrollments_problem(value) == ENROLLMENTS


@pytest.mark.parametrize("scope", ["a", "7", "payments-web", "eu/db_1.x:y", "a" * 64])
def test_a_scope_of_up_to_64_plain_characters(scope: str) -> None:
    assert limits.scope_problem(scope) is None


@pytest.mark.parametrize("scope", ["", "a" * 65, "-web", "_web", "no spaces", "web\n", "wéb"])
def test_any_other_scope_is_refused(scope: str) -> None:
    assert limits.scope_problem(scope) == SCOPE


def test_hostname_limits() -> None:
    assert limits.hostname_problem("h") is None
    assert limits.hostname_problem("h" * 255) is None
    assert limits.hostname_problem("web 1\u00a0eu") is None
    for bad in ("", "h" * 256):
        assert limits.hostname_problem(bad) == "must be 1 to 255 characters long"
    # Whitespace alone and a control character alone are each enough.
    for bad in (" web", "web ", "web\t", "we\x00b", "we\x7fb", "we\u2028b"):
        assert limits.hostname_problem(bad) == SURROUNDINGS


def test_tag_limits() -> None:
    assert limits.tag_problem("Env", "prod") is None
    assert limits.tag_problem("k" * 64, "") is None
    assert limits.tag_problem("Env", "v" * 255) is None
    # The server's own tags are case-sensitive names: another spelling is the agent's.
    assert limits.tag_problem("OS", "linux") is None
    long_key = "k" * 100
    assert limits.tag_problem(long_key, "v") == (
        f"key {'k' * 64!r} must be 1 to 64 letters, digits, '_', '.', ':', '/' or '-', "
        "starting with a letter or digit"
    )
    for bad_key in ("", "-x", "bad key"):
        assert limits.tag_problem(bad_key, "v") == (
            f"key {bad_key!r} must be 1 to 64 letters, digits, '_', '.', ':', '/' or '-', "
            "starting with a letter or digit"
        )
    for reserved in ("LwTokenShort", "Scope", "Hostname", "os", "arch"):
        assert limits.tag_problem(reserved, "x") == f"key {reserved!r} is set by the server"
    # Too long alone and a control character alone are each enough.
    for bad_value in ("v" * 256, "a\x00", "a\u2029b"):
        assert limits.tag_problem("Env", bad_value) == (
            "value of 'Env' must be at most 255 printable characters"
        )


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1_209_600, "14 days"),
        (604_800, "7 days"),
        (86_400, "1 day"),
        (129_600, "36 hours"),
        (3_600, "1 hour"),
        (5_400, "90 minutes"),
        (60, "1 minute"),
        (90, "90 seconds"),
        (1, "1 second"),
        (0, "0 seconds"),
    ],
)
def test_duration_words_use_the_largest_exact_unit(seconds: int, words: str) -> None:
    assert limits.duration_words(seconds) == words


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("24h", 86_400),
        ("7d", 604_800),
        ("2w", 1_209_600),
        (" 5m\n", 300),
        ("999999999s", 999_999_999),
    ],
)
def test_a_duration_is_a_number_and_one_unit(text: str, seconds: int) -> None:
    assert limits.duration_seconds(text) == seconds
    assert isinstance(limits.duration_seconds(text), int)


@pytest.mark.parametrize(
    "text", ["", "5", "m", "0s", "05m", "5M", "5 m", "1.5h", "5y", "1000000000s", "-5m", "5mm"]
)
def test_anything_else_is_no_duration(text: str) -> None:
    assert limits.duration_seconds(text) is None


def test_an_agent_may_send_up_to_32_tags(store: Store) -> None:
    services = Services(store, Sealer.ephemeral())
    key = services.identity.create_api_key("acme", role=Role.ADMIN)
    bearer = services.identity.issue_access_token(AccessTokenRequest(key_id=key.key_id), key.secret)
    admin = services.identity.authenticate(f"Bearer {bearer.token}")
    token = services.tokens.create_token(admin, CreateAgentTokenRequest(token_alias="t")).token
    tags = {f"k{index}": "v" for index in range(32)}
    enrolled = services.agents.enroll(token, AgentEnrollmentRequest(hostname="h", tags=tags))
    assert {key: enrolled.tags[key] for key in tags} == tags
    with pytest.raises(BadRequest) as refused:
        services.agents.enroll(
            token, AgentEnrollmentRequest(hostname="h", tags={**tags, "k32": "v"})
        )
    assert (refused.value.message, refused.value.field) == (
        "tags may hold at most 32 tags.",
        "tags",
    )

"""The server's rules at their edges, through its HTTP face in-process (``service_harness``).

Every limit is tried at its end as well as past it, and each refusal is checked for the status
and the message a client is shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from service_harness import START, MonotonicClock, Refused, Server, Session

from lacework_tokens import wire


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with Server.running(tmp_path) as running:
        yield running


@pytest.fixture
def admin(server: Server) -> Session:
    return server.login()


def created(session: Session, alias: str, **props: str) -> dict[str, Any]:
    answer = session.create(alias, **props)
    assert answer.status == 201, answer.body
    token: dict[str, Any] = answer.data
    return token


def refused(answer: Any, message: str) -> None:
    assert (answer.status, answer.message) == (400, message)


# --- props.os -------------------------------------------------------------------------------


@pytest.mark.parametrize("os_name", ["linux", "windows"])
def test_an_os_of_linux_or_windows_is_kept(admin: Session, os_name: str) -> None:
    token = created(admin, "node", os=os_name)
    assert token["props"]["os"] == os_name
    assert admin.get(token["accessToken"]).data["props"]["os"] == os_name
    other = created(admin, "other", os="linux" if os_name == "windows" else "windows")
    changed = admin.patch(other["accessToken"], {"props": {"os": os_name}})
    assert (changed.status, changed.data["props"]["os"]) == (200, os_name)


@pytest.mark.parametrize(
    "os_name",
    [
        "",
        "Linux",
        "WINDOWS",
        "macos",
        "o" * 33,
        " linux",
        "linux ",
        "linux\t",
        "\u00a0linux",
        "li\nnux",
        "li\x7fnux",
        "li\u2028nux",
    ],
)
def test_any_other_os_is_refused_on_create_and_on_update(admin: Session, os_name: str) -> None:
    # Near-misses (case, whitespace, separators) are refused, never stored as something else.
    message = 'props.os must be one of "linux", "windows".'
    refused(admin.create("node", os=os_name), message)
    assert admin.call("GET", "/api/v2/AgentAccessTokens").data == []
    token = created(admin, "other")
    refused(admin.patch(token["accessToken"], {"props": {"os": os_name}}), message)
    assert admin.get(token["accessToken"]).data["props"]["os"] == "linux"


# --- tokenAlias -----------------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["a\u2028b", "a\u2029b", "a\x85b", "a\x1fb", "a\x7fb"])
def test_line_and_paragraph_separators_in_an_alias_are_refused(admin: Session, alias: str) -> None:
    refused(admin.create(alias), "tokenAlias must not contain control characters.")
    token = created(admin, "prod")
    refused(
        admin.patch(token["accessToken"], {"tokenAlias": alias}),
        "tokenAlias must not contain control characters.",
    )


@pytest.mark.parametrize("alias", ["a\u00a0b", "a\u3000b", "a b", "caf\u00e9"])
def test_other_separators_inside_an_alias_are_kept(admin: Session, alias: str) -> None:
    assert created(admin, alias)["tokenAlias"] == alias


# A zero-width space was kept until names that look alike were refused: an alias with one shows
# as "prodblue", a second token's "prodblue" beside it.
@pytest.mark.parametrize(
    ("alias", "shown"),
    [
        ("prod\u200bblue", "U+200B at position 5"),
        ("\u200bprod", "U+200B at position 1"),
        ("prod\u200d", "U+200D at position 5"),
        ("prod\u202eeulb", "U+202E at position 5"),
        ("prod\ufeff", "U+FEFF at position 5"),
        ("pro\u00add", "U+00AD at position 4"),
        ("prod\u3164", "U+3164 at position 5"),
    ],
)
def test_an_alias_with_an_invisible_character_is_refused_and_named(
    admin: Session, alias: str, shown: str
) -> None:
    message = (
        f"tokenAlias must not contain invisible or bidirectional formatting characters ({shown})."
    )
    refused(admin.create(alias), message)
    token = created(admin, "prod")
    refused(admin.patch(token["accessToken"], {"tokenAlias": alias}), message)
    assert admin.get(token["accessToken"]).data["tokenAlias"] == "prod"


def test_an_alias_must_be_sent_composed_and_is_stored_as_sent(admin: Session) -> None:
    message = (
        "tokenAlias must be in Unicode normalization form NFC (composed characters, as typed)."
    )
    refused(admin.create("cafe\u0301"), message)
    token = created(admin, "caf\u00e9")
    refused(admin.patch(token["accessToken"], {"tokenAlias": "re\u0301sume\u0301"}), message)
    # NFC and nothing more: a full-width or ligature spelling is another name, kept as sent.
    assert created(admin, "\uff50rod")["tokenAlias"] == "\uff50rod"
    assert created(admin, "\ufb01le")["tokenAlias"] == "\ufb01le"


@pytest.mark.parametrize("alias", ["\u00a0prod", "prod\u3000", " prod", "prod\n"])
def test_an_alias_with_surrounding_whitespace_is_refused(admin: Session, alias: str) -> None:
    refused(admin.create(alias), "tokenAlias must not start or end with whitespace.")


def test_a_soft_deleted_alias_may_have_eighty_characters_and_no_more(admin: Session) -> None:
    token = created(admin, "n" * 64)["accessToken"]
    longest = "n" * 72 + "-deleted"
    assert len(longest) == 80
    refused(
        admin.patch(token, {"tokenAlias": "n" + longest, "tokenEnabled": 0}),
        "tokenAlias must be 1 to 80 characters long.",
    )
    deleted = admin.patch(token, {"tokenAlias": longest, "tokenEnabled": 0}).data
    assert (deleted["tokenAlias"], deleted["tokenEnabled"]) == (longest, 0)
    # Only a rename gets the extra length: a new token's alias stops at 64.
    refused(admin.create(longest), "tokenAlias must be 1 to 64 characters long.")
    refused(
        admin.patch(token, {"tokenAlias": "n" * 65}), "tokenAlias must be 1 to 64 characters long."
    )


# --- props.description ----------------------------------------------------------------------


def test_a_description_of_1024_characters_is_kept(admin: Session) -> None:
    token = created(admin, "prod", description="d" * 1024)
    assert token["props"]["description"] == "d" * 1024
    refused(
        admin.patch(token["accessToken"], {"props": {"description": "d" * 1025}}),
        "props.description must be at most 1024 characters long.",
    )


# --- token values in paths ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("x" * 256, "xxxx…xxxx"),
        ("x" * 257, "****"),
        ("abcdefgh", "****"),
        ("abcdefghi", "abcd…fghi"),
        ("tökentökentöken", "****"),
        ("token\x7fvalue!", "****"),
    ],
)
def test_an_unknown_token_is_named_masked_and_only_if_it_could_be_a_token(
    admin: Session, value: str, shown: str
) -> None:
    for answer in (admin.get(value), admin.patch(value, {"tokenEnabled": 0})):
        assert (answer.status, answer.message) == (
            404,
            f"Agent access token '{shown}' was not found.",
        )


# --- search ---------------------------------------------------------------------------------


def test_an_in_filter_takes_up_to_a_thousand_values(admin: Session) -> None:
    for alias in ("a7", "a999", "b1"):
        created(admin, alias)
    values = [f"a{n}" for n in range(1000)]
    in_filter = {"field": "tokenAlias", "expression": "in", "values": values}
    assert admin.aliases(in_filter) == ["a7", "a999"]
    answer = admin.search({**in_filter, "values": [*values, "b1"]})
    refused(answer, "filters[0].values may hold at most 1000 values.")


def test_every_read_of_token_values_is_audited_with_what_it_returned(admin: Session) -> None:
    server = admin.server
    prod = created(admin, "prod")
    created(admin, "stage")
    created(admin, "dev")

    def newest() -> tuple[str, str | None, str]:
        event = server.audit(limit=1)[0]
        assert (event.actor_account, event.address) == ("acme", "127.0.0.1")
        return event.action, event.token_alias, event.detail

    assert len(admin.call("GET", "/api/v2/AgentAccessTokens").data) == 3
    assert newest() == ("tokens.listed", None, "3 token values")
    assert admin.get(prod["accessToken"]).data["tokenAlias"] == "prod"
    assert newest() == ("token.read", "prod", "1 token value")
    assert admin.aliases({"field": "tokenAlias", "expression": "eq", "value": "prod"}) == ["prod"]
    assert newest() == ("tokens.searched", None, "1 token value; filters tokenAlias eq")
    found = admin.aliases(
        {"field": "tokenAlias", "expression": "ilike", "value": "%"},
        {"field": "tokenEnabled", "expression": "eq", "value": "1"},
    )
    assert found == ["dev", "prod", "stage"]
    assert newest() == (
        "tokens.searched",
        None,
        "3 token values; filters tokenAlias ilike, tokenEnabled eq",
    )
    assert admin.aliases({"field": "tokenAlias", "expression": "eq", "value": "none"}) == []
    assert newest() == ("tokens.searched", None, "0 token values; filters tokenAlias eq")
    assert len(admin.search().data) == 3
    assert newest() == ("tokens.searched", None, "3 token values")


def test_a_search_holds_up_to_32_filters_and_a_thousand_values_in_all(admin: Session) -> None:
    for alias in ("a7", "a999", "b1"):
        created(admin, alias)
    same = {"field": "tokenAlias", "expression": "eq", "value": "a7"}
    assert admin.aliases(*[same] * 32) == ["a7"]
    refused(admin.search(*[same] * 33), "filters may hold at most 32 filters (got 33).")
    low = {"field": "tokenAlias", "expression": "in", "values": [f"a{n}" for n in range(500)]}
    high = {"field": "tokenAlias", "expression": "in", "values": [f"a{n}" for n in range(500)]}
    assert admin.aliases(low, high) == ["a7"]
    wider = {**high, "values": [*high["values"], "a999"]}
    refused(admin.search(low, wider), "filters may hold at most 1000 values in all (got 1001).")
    refused(
        admin.search(*[same] * 31, {**low, "values": [f"a{n}" for n in range(970)]}),
        "filters may hold at most 1000 values in all (got 1001).",
    )


@pytest.mark.parametrize("expression", ["like", "ilike"])
@pytest.mark.parametrize("field", ["createdTime", "tokenEnabled"])
def test_like_applies_to_text_fields_only(admin: Session, field: str, expression: str) -> None:
    created(admin, "prod")
    value = wire.format_time(START) if field == "createdTime" else "1"
    refused(
        admin.search({"field": field, "expression": expression, "value": value}),
        f"filters[0].expression: {expression!r} applies to text fields only.",
    )


@pytest.mark.parametrize(
    "item",
    [
        {"expression": "not_in", "values": ["prod"]},
        {"expression": "between", "values": ["a", "z"]},
        {"expression": "not_like", "value": "p%"},
        {"expression": "not_ilike", "value": "p%"},
        {"expression": "rlike", "value": "p.*"},
        {"expression": "not_rlike", "value": "p.*"},
    ],
)
def test_a_token_search_refuses_the_expressions_it_does_not_take(
    admin: Session, item: dict[str, Any]
) -> None:
    # The wire knows every expression Lacework documents; a token search takes nine of them.
    created(admin, "prod")
    refused(
        admin.search({"field": "tokenAlias", **item}),
        f"filters[0].expression: {item['expression']!r} is not supported here; one of eq, ne, "
        "gt, ge, lt, le, in, like, ilike",
    )


def test_an_in_filter_written_with_value_finds_each_value(admin: Session) -> None:
    for alias in ("prod", "dev", "test"):
        created(admin, alias)
    as_value = {"field": "tokenAlias", "expression": "in", "value": ["prod", "dev"]}
    assert admin.aliases(as_value) == ["dev", "prod"]
    # ``values`` wins when both are given.
    both = {**as_value, "values": ["test"]}
    assert admin.aliases(both) == ["test"]


def test_an_in_filter_of_one_string_is_refused_not_split_into_characters(
    admin: Session,
) -> None:
    for alias in ("p", "r", "o", "d", "prod"):
        created(admin, alias)
    answer = admin.search({"field": "tokenAlias", "expression": "in", "values": "prod"})
    refused(answer, "filters[0].values: must be a list for 'in'")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            {"field": "tokenAlias", "expression": "in", "values": []},
            "filters[0].values: must be a non-empty list for 'in'",
        ),
        (
            {"field": "token", "expression": "eq", "value": "a"},
            "filters[0].field: unknown field 'token'; one of createdTime, props.description, "
            "props.os, tokenAlias, tokenEnabled",
        ),
        (
            {"field": "t" * 100, "expression": "eq", "value": "a"},
            f"filters[0].field: unknown field {'t' * 64!r}; one of createdTime, "
            "props.description, props.os, tokenAlias, tokenEnabled",
        ),
    ],
)
def test_a_filter_without_values_or_on_an_unknown_field_is_refused(
    admin: Session, item: dict[str, Any], message: str
) -> None:
    refused(admin.search(item), message)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            {"field": "tokenEnabled", "expression": "in", "values": [1, 2]},
            "filters[0].values[1]: tokenEnabled is 0 or 1.",
        ),
        (
            {"field": "createdTime", "expression": "in", "values": ["2026-11-25T12:00:00Z", "x"]},
            "filters[0].values[1]: createdTime must be an RFC 3339 time.",
        ),
        (
            {"field": "props.os", "expression": "in", "values": ["linux", "d" * 1025]},
            "filters[0].values[1] is too long.",
        ),
        (
            {"field": "props.os", "expression": "eq", "value": "d" * 1025},
            "filters[0].value is too long.",
        ),
        (
            {"field": "tokenAlias", "expression": "ilike", "value": "prod\\"},
            "filters[0].value: a pattern must not end with an unescaped backslash.",
        ),
    ],
)
def test_filter_values_are_checked_per_field(
    admin: Session, item: dict[str, Any], message: str
) -> None:
    refused(admin.search(item), message)


def test_a_filter_value_of_1024_characters_and_an_escaped_backslash_are_searched(
    admin: Session,
) -> None:
    created(admin, "back\\slash", description="d" * 1024)
    longest = {"field": "props.description", "expression": "eq", "value": "d" * 1024}
    assert admin.aliases(longest) == ["back\\slash"]
    escaped = {"field": "tokenAlias", "expression": "like", "value": "back\\\\%"}
    assert admin.aliases(escaped) == ["back\\slash"]


def test_tokens_enabled_can_be_found_with_text_or_integer_values(admin: Session) -> None:
    created(admin, "on")
    off = created(admin, "off")
    admin.patch(off["accessToken"], {"tokenEnabled": 0})
    for value, found in ((0, ["off"]), ("0", ["off"]), (1, ["on"]), ("1", ["on"])):
        item = {"field": "tokenEnabled", "expression": "eq", "value": value}
        assert admin.aliases(item) == found
    assert admin.aliases({"field": "tokenEnabled", "expression": "in", "values": ["0", 1]}) == [
        "off",
        "on",
    ]


# --- bearer tokens --------------------------------------------------------------------------


@pytest.mark.parametrize("expiry", [1, 86400])
def test_a_bearer_may_live_from_one_second_to_one_day(server: Server, expiry: int) -> None:
    key = server.new_key()
    answer = server.call(
        "POST",
        "/api/v2/access/tokens",
        {"keyId": key.key_id, "expiryTime": expiry},
        headers={"X-LW-UAKS": key.secret},
    )
    assert answer.status == 201
    expected = START.replace(microsecond=123000) + timedelta(seconds=expiry)
    assert wire.parse_time(answer.body["expiresAt"]) == expected


@pytest.mark.parametrize("expiry", [0, 86401])
def test_a_bearer_lifetime_past_a_day_or_under_a_second_is_refused(
    server: Server, expiry: int
) -> None:
    key = server.new_key()
    answer = server.call(
        "POST",
        "/api/v2/access/tokens",
        {"keyId": key.key_id, "expiryTime": expiry},
        headers={"X-LW-UAKS": key.secret},
    )
    refused(answer, "expiryTime: must be an integer from 1 to 86400")


def test_a_bearer_works_until_the_millisecond_it_expires(server: Server) -> None:
    session = server.login(expiry_time=60)
    server.clock.advance(seconds=59, microseconds=999_543)  # 1 µs before expiresAt
    assert session.call("GET", "/api/v2/AgentAccessTokens").status == 200
    server.clock.advance(microseconds=1)
    answer = session.call("GET", "/api/v2/AgentAccessTokens")
    assert (answer.status, answer.message) == (401, "Invalid or expired access token.")


def test_expired_bearers_are_purged_by_the_first_login_after_a_start(server: Server) -> None:
    short = server.login(expiry_time=1)
    long = server.login(expiry_time=3600)
    server.clock.advance(seconds=2)
    server.restart()
    server.login()
    assert not server.bearer_is_stored(short.bearer)
    assert server.bearer_is_stored(long.bearer)


def test_expired_bearers_are_purged_at_most_once_a_minute(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monotonic = MonotonicClock(monkeypatch)
    start = monotonic.now
    server.login()  # the first login purges; the next purge is due a minute later
    for minute in (1, 2):
        short = server.login(expiry_time=1)
        server.clock.advance(seconds=2)
        monotonic.advance_to(60.0 * minute - 0.5, since=start)
        server.login()
        assert server.bearer_is_stored(short.bearer)
        monotonic.advance_to(60.0 * minute, since=start)
        server.login()
        assert not server.bearer_is_stored(short.bearer)


def test_a_bearer_of_an_unknown_key_is_refused_without_an_audit_event(server: Server) -> None:
    key = server.new_key()
    before = server.audit()
    answer = server.call(
        "POST",
        "/api/v2/access/tokens",
        {"keyId": "ACME_UNKNOWN"},
        headers={"X-LW-UAKS": key.secret},
    )
    assert (answer.status, answer.message) == (401, "Invalid API key or secret.")
    assert server.audit() == before


def test_a_wrong_secret_on_a_disabled_key_is_audited_as_a_wrong_secret(server: Server) -> None:
    key = server.new_key()
    server.set_key_enabled(key.key_id, False)
    for secret, reason in (
        (key.secret + "x", "wrong or missing secret"),
        (key.secret, "the key is disabled"),
        ("", "wrong or missing secret"),
    ):
        answer = server.issue_bearer(key, secret=secret)
        assert (answer.status, answer.message) == (401, "Invalid API key or secret.")
        newest = server.audit(limit=1)[0]
        assert (newest.action, newest.key_id, newest.detail) == ("login.failed", key.key_id, reason)
        assert (newest.actor, newest.address) == (key.key_id, "127.0.0.1")


def test_revoking_bearers_stops_all_of_a_key_or_one_and_keeps_the_key(server: Server) -> None:
    key = server.new_key()
    other_key = server.new_key(user="other")
    first, second, third = (server.issue_bearer(key).body["token"] for _ in range(3))
    bystander = server.issue_bearer(other_key).body["token"]

    def works(bearer: str) -> bool:
        return Session(server, bearer).call("GET", "/api/v2/AgentAccessTokens").status == 200

    def revocations() -> list[tuple[str | None, str]]:
        return [
            (event.key_id, event.detail)
            for event in server.audit()
            if event.action == "key.bearers-revoked"
        ]

    # One bearer, as read from a file or a pipe (surrounding whitespace is not part of it).
    assert server.revoke_bearers(key.key_id, f" {first}\n") == 1
    assert [works(b) for b in (first, second, third, bystander)] == [False, True, True, True]
    one = (key.key_id, "one bearer token; role admin, user 'admin'")
    assert revocations() == [one]
    # Another key's bearer, or one revoked already, is not this key's: nothing is revoked.
    assert server.revoke_bearers(key.key_id, bystander) == 0
    assert server.revoke_bearers(key.key_id, first) == 0
    assert works(bystander)
    assert server.revoke_bearers(key.key_id) == 2
    assert [works(b) for b in (second, third, bystander)] == [False, False, True]
    assert revocations()[0] == (key.key_id, "all bearer tokens; role admin, user 'admin'")
    assert server.revoke_bearers(key.key_id) == 0
    assert works(server.issue_bearer(key).body["token"])  # the key itself logs in again
    with pytest.raises(Refused) as caught:
        server.revoke_bearers("ACME_UNKNOWN")
    assert (caught.value.status, caught.value.message) == (
        404,
        "API key 'ACME_UNKNOWN' was not found.",
    )


def test_a_login_without_a_secret_header_is_refused_and_audited(server: Server) -> None:
    key = server.new_key()
    answer = server.call("POST", "/api/v2/access/tokens", {"keyId": key.key_id})
    assert (answer.status, answer.message) == (401, "Invalid API key or secret.")
    assert server.audit(limit=1)[0].detail == "wrong or missing secret"


# --- API key users and the audit trail ------------------------------------------------------


# A user name is kept in its one spelling (NFKC, case-folded), so keys are counted per person:
# before, "Bob" and "bob" were two users with 20 keys each.
@pytest.mark.parametrize(
    ("user", "kept"),
    [
        ("u", "u"),
        ("u" * 255, "u" * 255),
        (" bob ", "bob"),
        ("Bob", "bob"),
        ("\uff22\uff2f\uff22", "bob"),  # full-width
        ("Stra\u00dfe", "strasse"),
        ("\u00df" * 127, "ss" * 127),  # 254 characters once folded
        ("cafe\u0301", "caf\u00e9"),
    ],
)
def test_a_user_name_of_one_to_255_characters_is_kept(server: Server, user: str, kept: str) -> None:
    key = server.new_key(user=user)
    assert server.key_user(key.key_id) == kept


def test_spellings_of_one_user_name_share_its_twenty_keys(server: Server) -> None:
    for number in range(20):
        server.new_key(user=("bob", "Bob", "BOB", " \uff42\uff4f\uff42")[number % 4])
    with pytest.raises(Refused) as caught:
        server.new_key(user="bOb")
    assert (caught.value.status, caught.value.message) == (
        409,
        "User 'bob' already has 20 API keys in account 'acme', the most allowed: delete one first.",
    )
    assert server.new_key(user="bobby").key_id


@pytest.mark.parametrize(
    "user", ["", "  ", "u" * 256, "a\tb", "a\u2028b", "a\u2029b", "\u00df" * 128, "\u3000"]
)
def test_a_user_name_that_is_empty_too_long_or_has_control_characters_is_refused(
    server: Server, user: str
) -> None:
    with pytest.raises(Refused) as caught:
        server.new_key(user=user)
    assert (caught.value.status, caught.value.message) == (
        400,
        "user must be 1 to 255 printable characters.",
    )


@pytest.mark.parametrize(
    ("user", "shown"),
    [("ad\u200bmin", "U+200B at position 3"), ("\u2066admin", "U+2066 at position 1")],
)
def test_a_user_name_with_an_invisible_character_is_refused(
    server: Server, user: str, shown: str
) -> None:
    with pytest.raises(Refused) as caught:
        server.new_key(user=user)
    assert (caught.value.status, caught.value.message) == (
        400,
        f"user must not contain invisible or bidirectional formatting characters ({shown}).",
    )


def test_the_audit_trail_is_read_from_one_to_100000_events(server: Server) -> None:
    server.new_key("acme")
    server.new_key("other")
    everything = server.audit()
    assert [e.action for e in everything] == [
        "key.created",
        "account.created",
        "key.created",
        "account.created",
    ]
    assert server.audit(limit=1) == everything[:1]
    assert server.audit(limit=100_000) == everything
    assert server.audit("other", limit=1) == everything[:1]
    for limit in (0, 100_001):
        with pytest.raises(Refused) as caught:
            server.audit(limit=limit)
        assert (caught.value.status, caught.value.message) == (
            400,
            "limit must be from 1 to 100000.",
        )


# --- the server's clock ---------------------------------------------------------------------


def test_a_clock_without_a_time_zone_is_read_as_utc(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        server.clock.now = datetime(2026, 11, 25, 12, 0, 0, 123456)
        session = server.login(expiry_time=60)
        token = created(session, "prod")
        assert token["createdTime"] == "2026-11-25T12:00:00.123Z"
        assert token["props"]["createdTime"] == "2026-11-25T12:00:00.123Z"
        server.clock.advance(seconds=59)
        assert session.get(token["accessToken"]).status == 200
        server.clock.advance(seconds=1)
        assert session.get(token["accessToken"]).status == 401
    finally:
        monkeypatch.undo()
        time.tzset()


def test_times_are_kept_to_the_millisecond(admin: Session, server: Server) -> None:
    token = created(admin, "prod")
    assert token["createdTime"] == "2026-11-25T12:00:00.123Z"
    server.clock.advance(microseconds=999)
    patched = admin.patch(token["accessToken"], {"tokenEnabled": 0}).data
    assert patched["createdTime"] == "2026-11-25T12:00:00.124Z"
    assert re.fullmatch(r"[0-9a-f]{56}", token["accessToken"])
    for micro, shown in ((5_999, "005"), (1_000, "001"), (999, "000"), (999_999, "999")):
        server.clock.now = START.replace(microsecond=micro)
        later = admin.patch(token["accessToken"], {"tokenEnabled": 1}).data
        assert later["createdTime"] == f"2026-11-25T12:00:00.{shown}Z"
        assert admin.get(token["accessToken"]).data["createdTime"] == later["createdTime"]


# --- more of what a client is told ----------------------------------------------------------


@pytest.mark.parametrize("subscription", ["standard", "professional", "enterprise"])
def test_each_documented_subscription_is_kept(admin: Session, subscription: str) -> None:
    token = created(admin, "prod", subscription=subscription)
    assert token["props"]["subscription"] == subscription


def test_an_unknown_subscription_is_refused_naming_the_known_ones(admin: Session) -> None:
    refused(
        admin.create("prod", subscription="gold"),
        "props.subscription must be one of enterprise, professional, standard.",
    )


@pytest.mark.parametrize(
    ("role", "method", "message"),
    [
        ("read-only", "create", "API key role 'read-only' may not create agent access tokens."),
        ("read-only", "patch", "API key role 'read-only' may not update agent access tokens."),
        (
            "agent-installer",
            "patch",
            "API key role 'agent-installer' may not update agent access tokens.",
        ),
    ],
)
def test_a_role_that_may_not_write_is_told_so(
    server: Server, admin: Session, role: str, method: str, message: str
) -> None:
    token = created(admin, "prod")["accessToken"]
    session = server.login(role=role)
    answer = session.create("mine") if method == "create" else session.patch(token, {})
    assert (answer.status, answer.message) == (403, message)


@pytest.mark.parametrize("scheme", ["Token", "Basic", "bearer", "BEARER"])
def test_only_the_bearer_scheme_or_no_scheme_is_accepted(admin: Session, scheme: str) -> None:
    answer = admin.server.call(
        "GET", "/api/v2/AgentAccessTokens", headers={"Authorization": f"{scheme} {admin.bearer}"}
    )
    if scheme.lower() == "bearer":
        assert answer.status == 200
    else:
        assert (answer.status, answer.message) == (401, "Invalid or expired access token.")
    raw = admin.server.call(
        "GET", "/api/v2/AgentAccessTokens", headers={"Authorization": admin.bearer}
    )
    assert raw.status == 200


def test_a_token_is_found_by_its_own_created_time(admin: Session, server: Server) -> None:
    first = created(admin, "first")
    server.clock.advance(microseconds=700)
    second = created(admin, "second")
    assert first["createdTime"] == "2026-11-25T12:00:00.123Z"
    assert second["createdTime"] == "2026-11-25T12:00:00.124Z"
    for token in (first, second):
        same = {"field": "createdTime", "expression": "eq", "value": token["createdTime"]}
        assert admin.aliases(same) == [token["tokenAlias"]]
    after = {"field": "createdTime", "expression": "gt", "value": first["createdTime"]}
    assert admin.aliases(after) == ["second"]


def test_a_value_ending_in_a_backslash_is_refused_only_as_a_pattern(admin: Session) -> None:
    created(admin, "back\\")
    for expression in ("eq", "ge", "le"):
        item = {"field": "tokenAlias", "expression": expression, "value": "back\\"}
        assert admin.aliases(item) == ["back\\"]
    in_filter = {"field": "tokenAlias", "expression": "in", "values": ["back\\"]}
    assert admin.aliases(in_filter) == ["back\\"]


def test_changes_of_os_and_subscription_are_audited(admin: Session, server: Server) -> None:
    token = created(admin, "prod")["accessToken"]
    admin.patch(token, {"props": {"os": "windows", "subscription": "enterprise"}})
    newest = server.audit(limit=1)[0]
    assert (newest.action, newest.detail) == (
        "token.updated",
        "props.os 'linux' -> 'windows'; props.subscription None -> 'enterprise'",
    )


def test_keys_and_accounts_made_without_an_actor_or_user_are_the_systems(server: Server) -> None:
    key = server.new_key("acme")
    assert server.key_user(key.key_id) == "admin"
    server.create_account("prod", parent="acme")
    events = server.audit()
    assert [(e.action, e.actor, e.detail) for e in events] == [
        ("account.created", "system", "account 'prod': sub-account of 'acme'"),
        ("key.created", "system", "role admin, user 'admin'"),
        ("account.created", "system", "account 'acme': top-level account"),
    ]


def test_account_names_are_checked_as_account_or_parent(server: Server) -> None:
    message = "must be 1 to 63 letters, digits, '-' or '_', starting with a letter or digit"
    for name, parent, field in (("bad name", None, "account"), ("prod", "bad name", "parent")):
        with pytest.raises(Refused) as caught:
            server.create_account(name, parent=parent)
        assert (caught.value.status, caught.value.message) == (
            400,
            f"{field} {message} (got 'bad name').",
        )


def test_the_audit_trail_shows_the_newest_hundred_by_default(server: Server) -> None:
    for number in range(101):
        server.new_key("acme", user=f"user{number}")
    shown = server.audit()
    assert len(shown) == 100
    assert shown[0].detail == "role admin, user 'user100'"
    assert shown[-1].detail == "role admin, user 'user1'"


def test_keys_are_listed_per_account(server: Server) -> None:
    acme = server.new_key("acme")
    other = server.new_key("other")
    assert server.key_ids("acme") == [acme.key_id]
    assert server.key_ids(" ACME ") == [acme.key_id]
    assert sorted(server.key_ids()) == sorted([acme.key_id, other.key_id])
    assert server.key_ids("nobody") == []


# Secrets an operator may choose: 128 random bits at least (32 hex digits of one case, 22
# characters of base64url), 8 different characters, no run of 6 twice.
SECRET = "3f9c1a7e5b2d4086c9e1f7a3b5d20468"
OTHER_SECRET = "8d2e6b0a4c1f9357e8a2d6c0b4f19735"
WEAK = "The API secret is too easy to guess: " + (
    "use at least 128 random bits, such as 32 hex characters from 'openssl rand -hex 16', "
    "or let the server generate the key."
)
REPEATING = WEAK.replace("is too easy to guess", "repeats itself")


def test_a_key_given_at_startup_is_checked_and_never_rekeyed(server: Server) -> None:
    assert server.ensure_key("acme", "ACME_FROM_ENVIRONMENT", SECRET)
    assert not server.ensure_key("acme", "ACME_FROM_ENVIRONMENT", SECRET)
    assert server.key_user("ACME_FROM_ENVIRONMENT") == "admin"
    for key_id, secret, message in (
        ("", SECRET, "keyId must be printable ASCII."),
        ("KEY ID\n", SECRET, "keyId must be printable ASCII."),
        ("KÉY", SECRET, "keyId must be printable ASCII."),
        ("ACME_OTHER", "", "The API secret must not be empty."),
    ):
        with pytest.raises(Refused) as caught:
            server.ensure_key("acme", key_id, secret)
        assert (caught.value.status, caught.value.message) == (400, message)
    with pytest.raises(Refused) as conflict:
        server.ensure_key("acme", "ACME_FROM_ENVIRONMENT", OTHER_SECRET)
    assert conflict.value.status == 409
    assert server.key_ids() == ["ACME_FROM_ENVIRONMENT"]


# Until operator secrets had to be random, "_secret" was taken; a copy of the database now
# cannot be used to guess one offline.
@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("_secret", WEAK),
        (SECRET[:31], WEAK),  # 124 bits
        (SECRET.upper()[:31], WEAK),
        ("0123456789abcdef" * 2, REPEATING),  # 128 bits, 16 characters, the same run twice
        ("a1b2c3d" * 6, WEAK),  # 7 different characters, however long
        ("Winter2026!Winter2026!Winter2026!", REPEATING),
        (
            "3f9c1a7e 5b2d4086c9e1f7a3b5d20468",
            "The API secret must be printable ASCII without spaces.",
        ),
        (SECRET + "\u00e9", "The API secret must be printable ASCII without spaces."),
        (SECRET + "\t", "The API secret must be printable ASCII without spaces."),
    ],
)
def test_a_guessable_secret_is_refused_for_a_new_key_and_an_existing_one(
    server: Server, secret: str, message: str
) -> None:
    assert server.ensure_key("acme", "ACME_EXISTING", SECRET)
    for key_id in ("ACME_NEW", "ACME_EXISTING"):
        with pytest.raises(Refused) as caught:
            server.ensure_key("acme", key_id, secret)
        assert (caught.value.status, caught.value.message) == (400, message)
    assert server.key_ids() == ["ACME_EXISTING"]


@pytest.mark.parametrize(
    "secret",
    [
        SECRET,  # 32 hex digits: 128 bits
        SECRET.upper(),
        "Zk4Qp9Xv2Lm7Rt1Wb8Nc5e",  # 22 letters and digits: 131 bits
        "k3v9q2x7m1p8r4t6w0z5b1n7c3",  # 26 lower-case letters and digits: 134 bits
        "Gq#8v!Lr2^pZ@x7&Wm5$",  # 20 of printable ASCII: 131 bits
    ],
)
def test_a_random_secret_of_128_bits_is_taken(server: Server, secret: str) -> None:
    assert server.ensure_key("acme", "ACME_CHOSEN", secret)
    chosen = wire.ApiKeyFile(key_id="ACME_CHOSEN", secret=secret, account="acme")
    assert server.issue_bearer(chosen).status == 201


@pytest.mark.parametrize("expression", ["like", "ilike"])
def test_a_pattern_may_end_in_an_escaped_backslash_but_not_a_lone_one(
    admin: Session, expression: str
) -> None:
    created(admin, "back\\")
    created(admin, "back")
    escaped = {"field": "tokenAlias", "expression": expression, "value": "back\\\\"}
    assert admin.aliases(escaped) == ["back\\"]
    # Only backslashes count: a pattern ending in any other character is searched.
    assert admin.aliases({**escaped, "value": "%X"}) == []
    for lone in ("back\\", "back\\\\\\"):
        refused(
            admin.search({**escaped, "value": lone}),
            "filters[0].value: a pattern must not end with an unescaped backslash.",
        )


# --- who am I -------------------------------------------------------------------------------

ACME_GUID = "FA1254C29970514B1F16C3705FAABEB7"
PROD_GUID = "D7B2D82370254AF3ABA2413A477FBC3C"
ACME_ADMIN_GUID = "E01E34AFC53A4C03CCF2090D49B0624B"


def profile(session: Session) -> dict[str, Any]:
    answer = session.call("GET", "/api/v2/UserProfile")
    assert answer.status == 200, answer.body
    (only,) = answer.data
    found: dict[str, Any] = only
    return found


def test_a_top_level_admin_key_is_an_organization_admin_of_its_sub_accounts(
    server: Server,
) -> None:
    session = server.login("Acme")
    alone = profile(session)
    assert (alone["orgAccount"], alone["url"]) == (False, "acme.lacework.net")
    server.create_account("prod", parent="acme")
    server.create_account("other")
    assert profile(session) == {
        "username": "admin",
        "orgAccount": True,
        "url": "acme.lacework.net",
        "orgAdmin": True,
        "orgUser": True,
        "accounts": [
            {
                "admin": True,
                "accountName": "Acme",
                "custGuid": ACME_GUID,
                "userGuid": ACME_ADMIN_GUID,
                "userEnabled": 1,
            },
            {
                "admin": True,
                "accountName": "prod",
                "custGuid": PROD_GUID,
                "userGuid": ACME_ADMIN_GUID,
                "userEnabled": 1,
            },
        ],
    }


def test_other_roles_and_sub_account_keys_are_no_organization_admins(server: Server) -> None:
    server.new_key("acme")
    server.create_account("prod", parent="acme")
    reader = profile(server.login("acme", role="read-only"))
    assert (reader["orgAdmin"], reader["orgUser"]) == (False, True)
    assert [(a["accountName"], a["admin"]) for a in reader["accounts"]] == [
        ("acme", False),
        ("prod", False),
    ]
    installer = profile(server.login("prod", role="agent-installer"))
    assert installer == {
        "username": "admin",
        "orgAccount": True,
        "url": "acme.lacework.net",
        "orgAdmin": False,
        "orgUser": False,
        "accounts": [
            {
                "admin": False,
                "accountName": "prod",
                "custGuid": PROD_GUID,
                "userGuid": "5C397A74469B21DDA01F240CB175FFFA",
                "userEnabled": 1,
            }
        ],
    }
    sub_admin = profile(server.login("prod"))
    assert (sub_admin["orgAdmin"], sub_admin["accounts"][0]["admin"]) == (False, True)

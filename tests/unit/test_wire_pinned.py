"""``lacework_tokens.wire`` and ``lacework_tokens.limits`` at their edges.

Times are checked under several local time zones: the wire is UTC whatever the machine says.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from attrs import frozen

from lacework_tokens import limits, wire
from lacework_tokens.wire import (
    AccessTokenRequest,
    AgentAccessToken,
    ApiKeyFile,
    Expression,
    SearchFilter,
    SearchRequest,
    UpdateAgentTokenRequest,
    WireError,
)

ZONES = ["UTC", "Asia/Kolkata", "America/St_Johns", "Pacific/Kiritimati", "Etc/GMT+12"]


@pytest.fixture(params=ZONES)
def local_zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    zone: str = request.param
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    yield zone
    monkeypatch.undo()
    time.tzset()


# --- times ----------------------------------------------------------------------------------


def test_a_time_without_a_zone_is_formatted_as_utc(local_zone: str) -> None:
    assert wire.format_time(datetime(2026, 11, 25, 12, 0, 0, 123999)) == "2026-11-25T12:00:00.123Z"


def test_a_time_in_another_zone_is_formatted_in_utc(local_zone: str) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    value = datetime(2026, 11, 25, 12, 0, 0, 5000, tzinfo=india)
    assert wire.format_time(value) == "2026-11-25T06:30:00.005Z"
    assert wire.format_time(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02T03:04:05.000Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T12:00:00Z", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
        ("2026-11-25t12:00:00z", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
        ("2026-11-25 12:00:00.5Z", datetime(2026, 11, 25, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-25T12:00:00.123456789Z", datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-25T12:00:00.000001Z", datetime(2026, 11, 25, 12, 0, 0, 1, tzinfo=UTC)),
        ("2026-11-25T12:00:00+05:30", datetime(2026, 11, 25, 6, 30, tzinfo=UTC)),
        ("2026-11-25T12:00:00.25-03:30", datetime(2026, 11, 25, 15, 30, 0, 250000, tzinfo=UTC)),
        ("2026-11-25T00:30:00+01:00", datetime(2026, 11, 24, 23, 30, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_any_rfc3339_time_reads_as_the_same_utc_instant(
    local_zone: str, text: str, expected: datetime
) -> None:
    parsed = wire.parse_time(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-11-25", "not an RFC 3339 time: '2026-11-25'"),
        ("2026-11-25T12:00:00", "not an RFC 3339 time: '2026-11-25T12:00:00'"),
        ("2026-11-25T12:00:00.Z", "not an RFC 3339 time: '2026-11-25T12:00:00.Z'"),
        ("x" * 50, f"not an RFC 3339 time: {'x' * 40!r}"),
        ("2026-13-25T12:00:00Z", "month must be in 1..12"),
        ("0001-01-01T00:00:00+01:00", "time out of range: '0001-01-01T00:00:00+01:00'"),
        ("9999-12-31T23:59:59-01:00", "time out of range: '9999-12-31T23:59:59-01:00'"),
    ],
)
def test_what_is_not_a_time_is_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        wire.parse_time(text)
    assert str(caught.value) == message


# --- masking --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        ("", "****"),
        ("abc", "****"),
        ("abcdefgh", "****"),
        ("abcdefghi", "abcd…fghi"),
        ("6f3a9c1e8b7d4f2a0c5e1b3d7f9a2c4e", "6f3a…2c4e"),
    ],
)
def test_a_secret_is_shown_by_its_ends_only_when_long_enough(secret: str, shown: str) -> None:
    assert wire.mask(secret) == shown


def test_models_never_show_a_secret() -> None:
    token = AgentAccessToken(token="6f3a9c1e8b7d4f2a", name="prod", enabled=False, os="windows")
    assert "token='****'" in repr(token)
    assert str(token) == "agent access token 'prod' (windows, disabled)"
    assert str(AgentAccessToken(token="t", name="x")) == "agent access token 'x' (linux, enabled)"
    assert "secret='****'" in repr(ApiKeyFile(key_id="K", secret="_s3cr3t", account="acme"))
    response = wire.AccessTokenResponse(token="b3arer", expires_at=datetime.now(UTC))
    assert "b3arer" not in repr(response)


# --- a token as the server answers it -------------------------------------------------------


def test_a_token_answer_with_only_the_required_fields() -> None:
    token = wire.parse(
        {"accessToken": "t", "tokenAlias": "prod", "createdTime": "2026-11-25T12:05:00Z"},
        AgentAccessToken,
    )
    updated = datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
    assert token == AgentAccessToken(
        token="t",
        name="prod",
        description="",
        os="",
        enabled=True,
        created_time=updated,
        last_updated_time=updated,
        version="",
        subscription=None,
    )


def test_a_token_answer_with_every_field() -> None:
    data = {
        "accessToken": "t",
        "createdTime": "2026-11-25T12:05:00.000Z",
        "props": {
            "createdTime": "2026-11-25T12:00:00.000Z",
            "description": "d",
            "os": "windows",
            "subscription": "enterprise",
        },
        "tokenAlias": "prod",
        "tokenEnabled": 0,
        "version": "0.1",
    }
    token = wire.parse(data, AgentAccessToken)
    assert (token.description, token.os, token.enabled, token.version, token.subscription) == (
        "d",
        "windows",
        False,
        "0.1",
        "enterprise",
    )
    assert token.created_time == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert token.last_updated_time == datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
    assert wire.converter.unstructure(token) == data
    without = wire.converter.unstructure(AgentAccessToken(token="t", name="prod"))
    assert "subscription" not in without["props"]
    assert without["tokenEnabled"] == 1
    assert without["version"] == wire.TOKEN_VERSION == "0.1"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"accessToken": None}, "accessToken", "is required"),
        ({"tokenAlias": 7}, "tokenAlias", "must be a string"),
        ({"tokenEnabled": 2}, "tokenEnabled", "must be the integer 0 or 1"),
        ({"tokenEnabled": False}, "tokenEnabled", "must be the integer 0 or 1"),
        ({"props": "linux"}, "props", "must be a JSON object"),
        ({"props": {"os": 1}}, "props.os", "must be a string"),
        ({"props": {"createdTime": "soon"}}, "props.createdTime", "not an RFC 3339 time: 'soon'"),
        ({"createdTime": None}, "createdTime", "is required"),
    ],
)
def test_a_malformed_token_answer_names_its_field(
    change: dict[str, Any], field: str, message: str
) -> None:
    data = {"accessToken": "t", "tokenAlias": "prod", "createdTime": "2026-11-25T12:05:00Z"}
    with pytest.raises(WireError) as caught:
        wire.parse({**data, **change}, AgentAccessToken)
    assert (caught.value.field, caught.value.message) == (field, message)
    assert str(caught.value) == f"{field}: {message}"


def test_a_wire_error_without_a_field_is_its_message() -> None:
    assert str(WireError("", "is broken")) == "is broken"
    with pytest.raises(WireError) as caught:
        wire.parse([], AgentAccessToken)
    assert str(caught.value) == "body: must be a JSON object"


# --- requests -------------------------------------------------------------------------------


def test_a_create_request_as_clients_send_it() -> None:
    minimal = wire.parse({"tokenAlias": "a"}, wire.CreateAgentTokenRequest)
    assert minimal == wire.CreateAgentTokenRequest(token_alias="a")
    assert minimal.token_enabled is True and minimal.props == wire.TokenProps()
    disabled = wire.parse(
        {"tokenAlias": "a", "tokenEnabled": 0, "props": {"os": "windows"}},
        wire.CreateAgentTokenRequest,
    )
    assert (disabled.token_enabled, disabled.props.os) == (False, "windows")
    assert wire.converter.unstructure(disabled) == {
        "tokenAlias": "a",
        "tokenEnabled": 0,
        "props": {"os": "windows"},
    }
    with pytest.raises(WireError) as caught:
        wire.parse({"tokenEnabled": 1}, wire.CreateAgentTokenRequest)
    assert str(caught.value) == "tokenAlias: is required"


def test_an_update_request_keeps_what_is_absent_absent() -> None:
    assert wire.parse({}, UpdateAgentTokenRequest) == UpdateAgentTokenRequest()
    assert wire.converter.unstructure(UpdateAgentTokenRequest()) == {}
    request = UpdateAgentTokenRequest(
        token_alias="a", token_enabled=False, props=wire.TokenProps(description="")
    )
    assert wire.converter.unstructure(request) == {
        "tokenEnabled": 0,
        "tokenAlias": "a",
        "props": {"description": ""},
    }
    empty_props = UpdateAgentTokenRequest(token_enabled=True, props=wire.TokenProps())
    assert wire.converter.unstructure(empty_props) == {"tokenEnabled": 1}
    parsed = wire.parse({"props": {"description": "d"}}, UpdateAgentTokenRequest)
    assert parsed.props == wire.TokenProps(description="d")


def test_an_access_token_request_defaults_to_an_hour() -> None:
    assert wire.parse({"keyId": "K"}, AccessTokenRequest) == AccessTokenRequest("K", 3600)
    assert wire.parse({"keyId": "K", "expiryTime": 86400}, AccessTokenRequest).expiry_time == 86400
    for bad in (0, 86401, True, "60", 1.5):
        with pytest.raises(WireError) as caught:
            wire.parse({"keyId": "K", "expiryTime": bad}, AccessTokenRequest)
        assert str(caught.value) == "expiryTime: must be an integer from 1 to 86400"
    assert wire.converter.unstructure(AccessTokenRequest("K", 60)) == {
        "keyId": "K",
        "expiryTime": 60,
    }


def test_an_access_token_answer_and_an_error_body() -> None:
    expires = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
    answer = {"token": "b", "expiresAt": "2026-11-25T13:00:00.000Z"}
    parsed = wire.parse(answer, wire.AccessTokenResponse)
    assert parsed == wire.AccessTokenResponse(token="b", expires_at=expires)
    assert wire.converter.unstructure(parsed) == answer
    assert wire.parse({"message": "no"}, wire.ErrorBody) == wire.ErrorBody("no")
    with pytest.raises(WireError, match=r"^message: is required$"):
        wire.parse({}, wire.ErrorBody)


def test_an_api_key_file_as_the_console_downloads_it() -> None:
    data = {"keyId": "K", "secret": "_s", "account": "acme"}
    assert wire.parse(data, ApiKeyFile) == ApiKeyFile("K", "_s", "acme", "")
    sub = wire.parse({**data, "subAccount": "prod"}, ApiKeyFile)
    assert sub.sub_account == "prod"
    assert wire.converter.unstructure(sub) == {**data, "subAccount": "prod"}


# --- search filters -------------------------------------------------------------------------


def parse_filter(item: Any) -> SearchFilter:
    request = wire.parse({"filters": [item]}, SearchRequest)
    (parsed,) = request.filters
    return parsed


def filter_error(item: Any) -> tuple[str, str]:
    with pytest.raises(WireError) as caught:
        wire.parse({"filters": [{"field": "tokenAlias", **item}]}, SearchRequest)
    return caught.value.field, caught.value.message


def test_an_in_filter_takes_values_or_a_list_as_value() -> None:
    expected = SearchFilter("tokenAlias", Expression.IN, values=("prod", "dev"))
    base = {"field": "tokenAlias", "expression": "in"}
    assert parse_filter({**base, "values": ["prod", "dev"]}) == expected
    assert parse_filter({**base, "value": ["prod", "dev"]}) == expected
    assert parse_filter({**base, "values": ["prod", "dev"], "value": ["x"]}) == expected
    assert parse_filter({**base, "values": [0, "1"]}).values == (0, "1")


@pytest.mark.parametrize("expression", [Expression.NOT_IN, Expression.BETWEEN])
def test_not_in_and_between_take_a_list_as_in_does(expression: Expression) -> None:
    expected = SearchFilter("createdTime", expression, values=("a", "b"))
    base = {"field": "createdTime", "expression": expression.value}
    assert parse_filter({**base, "values": ["a", "b"]}) == expected
    assert parse_filter({**base, "value": ["a", "b"]}) == expected
    with pytest.raises(WireError) as caught:
        parse_filter({**base, "value": "a"})
    assert str(caught.value) == f"filters[0].values: must be a list for {expression.value!r}"


@pytest.mark.parametrize("expression", ["not_like", "not_ilike", "rlike", "not_rlike"])
def test_the_other_expressions_take_one_value(expression: str) -> None:
    item = {"field": "tokenAlias", "expression": expression, "value": "a"}
    assert parse_filter(item) == SearchFilter("tokenAlias", Expression(expression), "a")
    assert filter_error({"expression": expression, "values": ["a"]}) == (
        "filters[0].value",
        f"is required for {expression!r}",
    )


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        ({"expression": "in", "values": "prod"}, "filters[0].values", "must be a list"),
        ({"expression": "in"}, "filters[0].values", "must be a list"),
        ({"expression": "in", "value": "prod"}, "filters[0].values", "must be a list"),
        ({"expression": "in", "values": {"a": 1}}, "filters[0].values", "must be a list"),
        ({"expression": "in", "values": ["a", None]}, "filters[0].values[1]", "must be a string"),
        ({"expression": "in", "values": [{"a": 1}]}, "filters[0].values[0]", "must be a string"),
        ({"expression": "in", "values": [["a"]]}, "filters[0].values[0]", "must be a string"),
        ({"expression": "in", "values": [True]}, "filters[0].values[0]", "must be a string"),
        ({"expression": "in", "values": [1.5]}, "filters[0].values[0]", "must be a string"),
    ],
)
def test_an_in_filter_refuses_anything_but_a_list_of_strings_or_integers(
    item: dict[str, Any], field: str, message: str
) -> None:
    found_field, found_message = filter_error(item)
    assert found_field == field
    expected = {
        "must be a list": "must be a list for 'in'",
        "must be a string": "must be a string or integer",
    }[message]
    assert found_message == expected


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        ({"expression": "eq"}, "filters[0].value", "is required for 'eq'"),
        ({"expression": "eq", "values": ["a"]}, "filters[0].value", "is required for 'eq'"),
        ({"expression": "like", "value": None}, "filters[0].value", "is required for 'like'"),
        ({"expression": "eq", "value": True}, "filters[0].value", "must be a string or integer"),
        ({"expression": "eq", "value": ["a"]}, "filters[0].value", "must be a string or integer"),
        ({"expression": "eq", "value": 1.5}, "filters[0].value", "must be a string or integer"),
        ({"expression": "EQ", "value": "a"}, "filters[0].expression", "unknown expression 'EQ'"),
        ({"expression": None, "value": "a"}, "filters[0].expression", "is required"),
        ({"expression": 3, "value": "a"}, "filters[0].expression", "must be a string"),
    ],
)
def test_other_filters_take_one_string_or_integer(
    item: dict[str, Any], field: str, message: str
) -> None:
    found_field, found_message = filter_error(item)
    assert found_field == field
    assert found_message.startswith(message)


def test_the_wire_checks_a_filters_shape_and_leaves_its_meaning_to_the_server() -> None:
    # The server owns which fields exist and that an 'in' names at least one value.
    unknown = parse_filter({"field": "token", "expression": "eq", "value": "a"})
    assert unknown == SearchFilter("token", Expression.EQ, "a")
    empty = parse_filter({"field": "tokenAlias", "expression": "in", "values": []})
    assert empty == SearchFilter("tokenAlias", Expression.IN, values=())
    with pytest.raises(WireError) as missing:
        wire.parse({"filters": [{"expression": "eq", "value": "a"}]}, SearchRequest)
    assert str(missing.value) == "filters[0].field: is required"


def test_an_unknown_expression_names_the_known_ones() -> None:
    _, message = filter_error({"expression": "regex", "value": "a"})
    assert message == (
        "unknown expression 'regex'; one of eq, ne, in, not_in, like, ilike, not_like, "
        "not_ilike, rlike, not_rlike, gt, ge, lt, le, between"
    )


def test_the_filters_of_a_search() -> None:
    assert wire.parse({}, SearchRequest) == SearchRequest()
    with pytest.raises(WireError) as caught:
        wire.parse({"filters": {"field": "tokenAlias"}}, SearchRequest)
    assert str(caught.value) == "filters: must be a list"
    with pytest.raises(WireError) as item:
        wire.parse({"filters": ["tokenAlias"]}, SearchRequest)
    assert str(item.value) == "filters[0]: must be a JSON object"
    second = {"field": "tokenEnabled", "expression": "ne", "value": 0}
    request = SearchRequest(
        filters=(
            SearchFilter("tokenAlias", Expression.IN, values=("a",)),
            wire.parse({"filters": [second]}, SearchRequest).filters[0],
        )
    )
    assert wire.converter.unstructure(request) == {
        "filters": [
            {"expression": "in", "field": "tokenAlias", "values": ["a"]},
            {"expression": "ne", "field": "tokenEnabled", "value": 0},
        ]
    }
    assert " ".join(Expression) == (
        "eq ne in not_in like ilike not_like not_ilike rlike not_rlike gt ge lt le between"
    )


# --- limits ---------------------------------------------------------------------------------


def test_alias_limits() -> None:
    assert limits.alias_problem("a") is None
    assert limits.alias_problem("a" * 64) is None
    assert limits.alias_problem("") == "must be 1 to 64 characters long"
    assert limits.alias_problem("a" * 65) == "must be 1 to 64 characters long"
    soft = "a" * 72 + "-deleted"
    # A soft-deleted name is only allowed where asked for (a rename), and up to 80 characters.
    assert limits.alias_problem(soft) == "must be 1 to 64 characters long"
    assert limits.alias_problem(soft, allow_soft_deleted=True) is None
    assert limits.alias_problem("a" + soft, allow_soft_deleted=True) == (
        "must be 1 to 80 characters long"
    )
    assert limits.alias_problem("a" * 65, allow_soft_deleted=True) == (
        "must be 1 to 64 characters long"
    )
    assert limits.alias_problem(" a") == "must not start or end with whitespace"
    for control in ("\x00", "\x1f", "\x7f", "\x85", "\u2028", "\u2029", "\ud800"):
        assert limits.alias_problem(f"a{control}b") == "must not contain control characters"
    for fine in ("X", "\u00a0", "\u3000", "\U0001f600", "\u00e9", "\uff41", "\ufb01"):
        assert limits.alias_problem(f"a{fine}b") is None
    # Characters that show as nothing or reorder the text were kept until names that look
    # alike were refused; the first one is named with its position, counted from 1.
    for invisible in ("\u200b", "\u00ad", "\u202e", "\u2066", "\ufeff", "\u034f", "\uffa0"):
        assert limits.alias_problem(f"a{invisible}b") == (
            "must not contain invisible or bidirectional formatting characters "
            f"(U+{ord(invisible):04X} at position 2)"
        )
    assert limits.alias_problem("\u200ba\u200d") == (
        "must not contain invisible or bidirectional formatting characters (U+200B at position 1)"
    )
    assert limits.alias_problem("a" * 63 + "\u200b") == (
        "must not contain invisible or bidirectional formatting characters (U+200B at position 64)"
    )
    # Control characters are named first, the length before either.
    assert limits.alias_problem("a\u200b\x00") == "must not contain control characters"
    assert limits.alias_problem("\u200b" * 65) == "must be 1 to 64 characters long"
    # Decomposed text is refused, not rewritten (the name is stored as sent).
    nfc = "must be in Unicode normalization form NFC (composed characters, as typed)"
    assert limits.alias_problem("cafe\u0301") == nfc
    assert limits.alias_problem("\u212b") == nfc  # the Angstrom sign: NFC makes it U+00C5
    assert limits.alias_problem("e\u0301\u200b") == (
        "must not contain invisible or bidirectional formatting characters (U+200B at position 3)"
    )


def test_os_limits() -> None:
    # An os is one of two spellings; anything near them (case, whitespace, other systems) is
    # refused rather than stored.
    assert limits.os_problem("linux") is None
    assert limits.os_problem("windows") is None
    for bad in ("", "Linux", "WINDOWS", "macos", " linux", "linux ", "linux\x00", "x" * 33):
        assert limits.os_problem(bad) == 'must be one of "linux", "windows"'
    assert limits.DEFAULT_OS == "linux"


def test_label_limits() -> None:
    # What an agent reports as its arch or mode: 1 to 32 characters, no surrounding whitespace,
    # no control characters or separators.
    assert limits.label_problem("x") is None
    assert limits.label_problem("x" * 32) is None
    assert limits.label_problem("x86 64\u00a0v2") is None
    for bad in ("", "x" * 33):
        assert limits.label_problem(bad) == "must be 1 to 32 characters long"
    for bad in (" x", "x ", "x\t", "\u00a0x", "a\x00b", "a\x7fb", "a\u2028b", "a\ud800b"):
        assert limits.label_problem(bad) == (
            "must not contain control characters or surrounding whitespace"
        )


def test_user_and_account_name_limits() -> None:
    assert limits.user_name_problem("u") is None
    assert limits.user_name_problem("u" * 255) is None
    for bad in ("", "u" * 256, "a\tb", "a\ud800b", "\u200b\t"):
        assert limits.user_name_problem(bad) == "must be 1 to 255 printable characters"
    assert limits.user_name_problem("a\u200db") == (
        "must not contain invisible or bidirectional formatting characters (U+200D at position 2)"
    )
    # User names are not held to NFC: they are stored normalized (NFKC, case-folded) instead.
    assert limits.user_name_problem("cafe\u0301") is None
    for spelling, one in (
        ("\tAdmin\u3000", "admin"),
        ("\ufb01le", "file"),
        ("\u2167", "viii"),  # the Roman numeral eight
        ("\u1e9e", "ss"),  # the capital sharp s
        ("\u212b", "\u00e5"),  # the Angstrom sign
        ("cafe\u0301", "caf\u00e9"),
        ("\u0130", "i\u0307"),  # capital I with a dot: folded, kept apart from "i"
    ):
        assert limits.normalized_user_name(spelling) == one, spelling


def test_api_secret_limits() -> None:
    # The bits a secret can hold: its length times those of the smallest usual alphabet that
    # has all its characters.
    for secret, bits in (
        ("0" * 32, 128.0),
        ("A" * 32, 128.0),
        ("aA" * 16, 32 * math.log2(62)),  # hex digits of two cases: letters and digits
        ("g" * 10, 10 * math.log2(36)),
        ("-" * 10, 10 * math.log2(64)),
        ("=" * 10, 10 * math.log2(65)),
        ("+-" * 5, 10 * math.log2(94)),
        ("~" * 10, 10 * math.log2(94)),
        ("X0" * 5, 10 * math.log2(62)),  # neither hex alphabet nor lower-case
        ("x0" * 5, 10 * math.log2(36)),
        ("~\x7f", 0.0),  # DEL is no printable ASCII
        ("", 0.0),
        ("a b", 0.0),
        ("\u00e9" * 40, 0.0),
    ):
        assert limits.secret_bits(secret) == pytest.approx(bits), secret
    assert limits.API_SECRET_MIN_BITS == 128
    advice = (
        "use at least 128 random bits, such as 32 hex characters from 'openssl rand -hex 16', "
        "or let the server generate the key"
    )
    random_hex = "3f9c1a7e5b2d4086c9e1f7a3b5d20468"
    assert limits.api_secret_problem(random_hex) is None
    assert limits.api_secret_problem(random_hex[:31]) == f"is too easy to guess: {advice}"
    # Eight different characters are enough, seven are not, however long the secret.
    assert limits.api_secret_problem("45073021573613036426212722003322") is None
    assert limits.api_secret_problem("0123456" * 6) == f"is too easy to guess: {advice}"
    # A run of six seen twice is a pattern (overlapping runs too); five twice is not.
    assert limits.api_secret_problem(random_hex + random_hex[:6]) == f"repeats itself: {advice}"
    assert limits.api_secret_problem(random_hex + random_hex[:5]) is None
    assert limits.api_secret_problem("a" * 7 + random_hex) == f"repeats itself: {advice}"
    for unfit in (random_hex + " ", random_hex + "\x7f", random_hex + "\u00e9", ""):
        assert limits.api_secret_problem(unfit) == (
            "must be printable ASCII without spaces" if unfit else f"is too easy to guess: {advice}"
        )
    assert limits.account_name_problem("a") is None
    assert limits.account_name_problem("a" * 63) is None
    assert limits.account_name_problem("0-a_b") is None
    for bad in ("", "a" * 64, "_a", "a.b", "ä"):
        assert limits.account_name_problem(bad) == (
            "must be 1 to 63 letters, digits, '-' or '_', starting with a letter or digit"
        )


def test_description_and_expiry_limits() -> None:
    assert limits.description_problem("d" * 1024) is None
    assert limits.description_problem("d" * 1025) == "must be at most 1024 characters long"
    assert limits.expiry_problem(1) is None
    assert limits.expiry_problem(86400) is None
    assert limits.EXPIRY_DEFAULT_SECONDS == 3600
    for bad in (0, 86401, -1, True, 1.0, "1", None):
        assert limits.expiry_problem(bad) == "must be an integer from 1 to 86400"


def test_what_could_be_a_token_value() -> None:
    assert limits.is_printable_token_value("x")
    assert limits.is_printable_token_value("~" * 256)
    for bad in ("", "x" * 257, "tök", "a b\n", "a\x7f"):
        assert not limits.is_printable_token_value(bad)
    assert limits.SEARCH_VALUES_MAX == 1000
    assert limits.SOFT_DELETE_SUFFIX == "-deleted"


# --- every model through the one converter --------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        wire.CreateAgentTokenRequest,
        UpdateAgentTokenRequest,
        SearchRequest,
        AccessTokenRequest,
        wire.AccessTokenResponse,
        wire.ErrorBody,
        ApiKeyFile,
        AgentAccessToken,
    ],
)
@pytest.mark.parametrize("body", [None, [], "{}", 1])
def test_a_body_that_is_no_object_is_refused_as_the_body(model: type[Any], body: Any) -> None:
    with pytest.raises(WireError) as caught:
        wire.parse(body, model)
    assert str(caught.value) == "body: must be a JSON object"


@pytest.mark.parametrize(
    ("model", "body", "problem"),
    [
        (wire.CreateAgentTokenRequest, {"tokenAlias": 1}, "tokenAlias: must be a string"),
        (
            wire.CreateAgentTokenRequest,
            {"tokenAlias": "a", "tokenEnabled": True},
            "tokenEnabled: must be the integer 0 or 1",
        ),
        (UpdateAgentTokenRequest, {"tokenAlias": 1}, "tokenAlias: must be a string"),
        (UpdateAgentTokenRequest, {"tokenEnabled": 2}, "tokenEnabled: must be the integer 0 or 1"),
        (UpdateAgentTokenRequest, {"props": {"os": 1}}, "props.os: must be a string"),
        (AccessTokenRequest, {}, "keyId: is required"),
        (AccessTokenRequest, {"keyId": 5}, "keyId: must be a string"),
        (wire.AccessTokenResponse, {"expiresAt": "2026-11-25T13:00:00Z"}, "token: is required"),
        (wire.AccessTokenResponse, {"token": "b"}, "expiresAt: is required"),
        (wire.ErrorBody, {"message": 1}, "message: must be a string"),
        (ApiKeyFile, {"secret": "s", "account": "a"}, "keyId: is required"),
        (ApiKeyFile, {"keyId": "k", "account": "a"}, "secret: is required"),
        (ApiKeyFile, {"keyId": "k", "secret": "s"}, "account: is required"),
        (
            ApiKeyFile,
            {"keyId": "k", "secret": "s", "account": "a", "subAccount": 1},
            "subAccount: must be a string",
        ),
        (
            AgentAccessToken,
            {
                "accessToken": "t",
                "tokenAlias": "a",
                "createdTime": "2026-11-25T12:00:00Z",
                "props": {"subscription": 1},
            },
            "props.subscription: must be a string",
        ),
    ],
)
def test_a_wrong_field_is_named_with_its_path(model: type[Any], body: Any, problem: str) -> None:
    with pytest.raises(WireError) as caught:
        wire.parse(body, model)
    assert str(caught.value) == problem


def test_props_alone_through_the_converter() -> None:
    props = wire.parse({"os": "linux", "subscription": "standard"}, wire.TokenProps)
    assert props == wire.TokenProps(os="linux", subscription="standard")
    with pytest.raises(WireError) as caught:
        wire.parse({"os": 1}, wire.TokenProps)
    assert str(caught.value) == "props.os: must be a string"
    assert wire.converter.unstructure(wire.TokenProps(description="", subscription="x")) == {
        "description": "",
        "subscription": "x",
    }
    create = wire.CreateAgentTokenRequest("a", props=wire.TokenProps(subscription="enterprise"))
    assert wire.converter.unstructure(create)["props"] == {"subscription": "enterprise"}


def test_one_filter_and_an_error_body_through_the_converter() -> None:
    item = wire.parse({"field": "props.os", "expression": "ne", "value": "linux"}, SearchFilter)
    assert item == SearchFilter("props.os", Expression.NE, "linux")
    assert wire.converter.unstructure(item) == {
        "expression": "ne",
        "field": "props.os",
        "value": "linux",
    }
    with pytest.raises(WireError) as caught:
        wire.parse({"field": "props.os", "expression": "in"}, SearchFilter)
    assert str(caught.value) == "filter.values: must be a list for 'in'"
    assert wire.converter.unstructure(wire.ErrorBody("no")) == {"message": "no"}
    assert wire.converter.unstructure(SearchRequest()) == {"filters": []}


def test_a_model_without_a_hook_is_refused_as_the_body() -> None:
    @frozen
    class Thing:
        count: int

    with pytest.raises(WireError) as caught:
        wire.parse({"count": "many"}, Thing)
    assert (caught.value.field, caught.value.message) == (
        "body",
        "does not match Thing: ClassValidationError",
    )


def test_a_token_built_in_code_has_the_documented_defaults() -> None:
    token = AgentAccessToken(token="t", name="prod")
    assert (token.description, token.os, token.enabled, token.version, token.subscription) == (
        "",
        "linux",
        True,
        "0.1",
        None,
    )
    assert wire.CreateAgentTokenRequest("a").token_enabled is True
    assert ApiKeyFile("k", "s", "a").sub_account == ""


# --- who am I, as a client reads it ---------------------------------------------------------

PROFILE = {
    "username": "alice",
    "orgAccount": True,
    "url": "https://ACME.lacework.net/",
    "orgAdmin": True,
    "orgUser": True,
    "accounts": [
        {
            "admin": True,
            "accountName": "ACME",
            "custGuid": "C1",
            "userGuid": "U1",
            "userEnabled": 1,
        },
        {
            "admin": False,
            "accountName": "Prod",
            "custGuid": "C2",
            "userGuid": "U1",
            "userEnabled": 1,
        },
        {"accountName": "old", "userEnabled": 0},
    ],
}


def test_a_user_profile_reads_as_lacework_writes_it() -> None:
    parsed = wire.parse(PROFILE, wire.UserProfile)
    assert (parsed.username, parsed.org_account, parsed.org_admin, parsed.org_user) == (
        "alice",
        True,
        True,
        True,
    )
    assert parsed.accounts[0] == wire.UserProfileAccount("ACME", True, "C1", "U1", True)
    assert parsed.accounts[2] == wire.UserProfileAccount("old", user_enabled=False)
    assert parsed.account_name == "acme"
    assert parsed.sub_account_names == ("prod",)
    again = wire.converter.unstructure(parsed)
    assert again["accounts"][2] == {
        "admin": False,
        "accountName": "old",
        "custGuid": "",
        "userGuid": "",
        "userEnabled": 0,
    }
    assert wire.parse(again, wire.UserProfile) == parsed


def test_a_minimal_user_profile_has_the_documented_defaults() -> None:
    parsed = wire.parse({"url": "acme.lacework.net"}, wire.UserProfile)
    assert parsed == wire.UserProfile(username="", url="acme.lacework.net")
    assert (parsed.org_account, parsed.org_admin, parsed.org_user, parsed.accounts) == (
        False,
        False,
        False,
        (),
    )
    account = wire.parse({"accountName": "a"}, wire.UserProfileAccount)
    assert account == wire.UserProfileAccount("a", False, "", "", True)
    assert wire.UserProfileAccount("a") == account
    assert wire.converter.unstructure(account) == {
        "admin": False,
        "accountName": "a",
        "custGuid": "",
        "userGuid": "",
        "userEnabled": 1,
    }


@pytest.mark.parametrize(
    ("url", "account"),
    [
        ("acme.lacework.net", "acme"),
        ("https://Acme.lacework.net/api/v2", "acme"),
        ("https://localhost/v2.api", "localhost"),
        ("https://acme.lacework.net/?next=https://other.lacework.net", "acme"),
    ],
)
def test_a_user_profile_names_its_account_by_the_url_host(url: str, account: str) -> None:
    assert wire.UserProfile(username="u", url=url).account_name == account


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"url": None}, "url: is required"),
        ({"username": 1}, "username: must be a string"),
        ({"orgAdmin": 1}, "orgAdmin: must be true or false"),
        ({"orgAccount": "yes"}, "orgAccount: must be true or false"),
        ({"orgUser": 0}, "orgUser: must be true or false"),
        ({"accounts": {"accountName": "a"}}, "accounts: must be a list"),
        ({"accounts": ["a"]}, "accounts[0]: must be a JSON object"),
        ({"accounts": [{}]}, "accounts[0].accountName: is required"),
        (
            {"accounts": [{"accountName": "a", "admin": 1}]},
            "accounts[0].admin: must be true or false",
        ),
        (
            {"accounts": [{"accountName": "a", "custGuid": 1}]},
            "accounts[0].custGuid: must be a string",
        ),
        (
            {"accounts": [{"accountName": "a", "userGuid": 1}]},
            "accounts[0].userGuid: must be a string",
        ),
        (
            {"accounts": [{"accountName": "a", "userEnabled": True}]},
            "accounts[0].userEnabled: must be the integer 0 or 1",
        ),
    ],
)
def test_a_malformed_user_profile_names_its_field(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(WireError) as caught:
        wire.parse({**PROFILE, **change}, wire.UserProfile)
    assert str(caught.value) == problem


def test_a_profile_account_alone_is_named_account() -> None:
    with pytest.raises(WireError) as caught:
        wire.parse({}, wire.UserProfileAccount)
    assert str(caught.value) == "account.accountName: is required"
    with pytest.raises(WireError, match=r"^body: must be a JSON object$"):
        wire.parse([], wire.UserProfile)


def test_soft_deleted_names() -> None:
    assert limits.name_before_soft_delete("prod-x1y2z-deleted") == "prod"
    assert limits.name_before_soft_delete("web-eu-1-0a9zz-deleted") == "web-eu-1"
    for other in ("prod", "prod-X1Y2Z-deleted", "prod-x1y2-deleted", "-x1y2z-deleted"):
        assert limits.name_before_soft_delete(other) is None
        assert not limits.is_soft_deleted_name(other)
    assert limits.is_soft_deleted_name("prod-x1y2z-deleted")

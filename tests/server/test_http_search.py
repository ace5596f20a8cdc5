"""``POST /api/v2/AgentAccessTokens/search``: every expression on every field, over HTTP.

The expected answer of each search is computed in the test from the listed tokens, so the
server's filtering is checked against an independent reading of the filter.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wire_calls import WIRE_TIME, Wire, assert_error

from lacework_tokens.limits import SEARCH_FILTERS_MAX, SEARCH_VALUES_MAX
from lacework_tokens.testing import run_backend
from lacework_tokens.wire import parse_time

# (alias, enabled, os, description): ASCII only, with LIKE wildcards among the literals.
TOKENS = [
    ("prod-linux", 1, "linux", "Production fleet"),
    ("prod-windows", 1, "windows", "production desktops"),
    ("Staging", 0, "linux", ""),
    ("dev_1", 1, "windows", "100% laptops"),
    ("devx1", 0, "linux", "dev_boxes"),
    ("zeta", 1, "windows", "Zeta team"),
]
TEXT_FIELDS = ("tokenAlias", "props.os", "props.description")
ORDERED = ("eq", "ne", "gt", "ge", "lt", "le")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wire]:
    with run_backend(tmp_path_factory.mktemp("search")) as backend:
        wire = Wire(backend)
        for alias, enabled, os_name, description in TOKENS:
            wire.create(alias, enabled=enabled, os=os_name, description=description)
            time.sleep(0.003)  # distinct millisecond times, so time comparisons split the set
        yield wire


@pytest.fixture(scope="module")
def listed(api: Wire) -> list[dict[str, Any]]:
    return api.list()


def field_value(token: dict[str, Any], field: str) -> Any:
    if field == "tokenAlias":
        return token["tokenAlias"]
    if field == "tokenEnabled":
        return token["tokenEnabled"]
    if field == "createdTime":
        return parse_time(token["createdTime"])
    return token["props"][field.removeprefix("props.")]


def comparable(field: str, value: Any) -> Any:
    if field == "tokenEnabled":
        return int(value)
    if field == "createdTime":
        return parse_time(value)
    return value


def like_regex(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    parts: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def matches(token: dict[str, Any], item: dict[str, Any]) -> bool:
    field, expression = item["field"], item["expression"]
    actual = field_value(token, field)
    if expression == "in":
        return actual in {comparable(field, v) for v in item["values"]}
    if expression in ("like", "ilike"):
        regex = like_regex(item["value"], ignore_case=expression == "ilike")
        return regex.fullmatch(actual) is not None
    expected = comparable(field, item["value"])
    result: bool = {
        "eq": actual == expected,
        "ne": actual != expected,
        "gt": actual > expected,
        "ge": actual >= expected,
        "lt": actual < expected,
        "le": actual <= expected,
    }[expression]
    return result


def search_aliases(api: Wire, filters: list[dict[str, Any]]) -> list[str]:
    response = api.search({"filters": filters})
    assert response.status_code == 200, response.text
    return sorted(token["tokenAlias"] for token in response.json()["data"])


def expected_aliases(listed: list[dict[str, Any]], filters: list[dict[str, Any]]) -> list[str]:
    return sorted(t["tokenAlias"] for t in listed if all(matches(t, f) for f in filters))


def middle_value(listed: list[dict[str, Any]], field: str, expression: str) -> Any:
    """A value from the data itself, in the middle, so comparisons split the tokens."""
    if field == "createdTime":
        return listed[len(listed) // 2]["createdTime"]
    if field == "tokenEnabled":
        return 0 if expression == "gt" else 1
    values = sorted({field_value(t, field) for t in listed})
    if expression in ("gt", "ge"):
        # A value with larger ones above it, even where the field holds only two (props.os).
        return values[(len(values) - 1) // 2]
    return values[len(values) // 2]


def cases() -> Iterator[tuple[str, str]]:
    for field in (*TEXT_FIELDS, "tokenEnabled", "createdTime"):
        for expression in ORDERED:
            yield field, expression


@pytest.mark.parametrize(("field", "expression"), list(cases()))
def test_ordered_expressions_on_every_field(
    api: Wire, listed: list[dict[str, Any]], field: str, expression: str
) -> None:
    filters = [
        {"field": field, "expression": expression, "value": middle_value(listed, field, expression)}
    ]
    expected = expected_aliases(listed, filters)
    assert search_aliases(api, filters) == expected
    if expression in ("gt", "lt", "ne"):
        assert 0 < len(expected) < len(listed)  # the case really tells matches apart


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("tokenAlias", ["prod-linux", "zeta", "absent"]),
        ("props.os", ["darwin", "windows"]),
        ("props.description", ["", "Zeta team"]),
        ("tokenEnabled", [0]),
        ("tokenEnabled", ["1"]),
        ("createdTime", None),
    ],
)
def test_in_on_every_field(
    api: Wire, listed: list[dict[str, Any]], field: str, values: list[Any] | None
) -> None:
    if values is None:
        values = [listed[0]["createdTime"], listed[-1]["createdTime"]]
    filters = [{"field": field, "expression": "in", "values": values}]
    expected = expected_aliases(listed, filters)
    assert expected
    assert search_aliases(api, filters) == expected


@pytest.mark.parametrize(
    ("field", "expression", "pattern"),
    [
        ("tokenAlias", "like", "prod%"),
        ("tokenAlias", "like", "PROD%"),
        ("tokenAlias", "ilike", "PROD%"),
        ("tokenAlias", "like", "dev_1"),
        ("tokenAlias", "like", "dev\\_1"),
        ("tokenAlias", "ilike", "s%G"),
        ("props.os", "like", "%in%"),
        ("props.os", "ilike", "LINUX"),
        ("props.description", "like", "%\\%%"),
        ("props.description", "ilike", "%PRODUCTION%"),
        ("props.description", "like", "dev\\_%"),
    ],
)
def test_like_and_ilike_on_text_fields(
    api: Wire, listed: list[dict[str, Any]], field: str, expression: str, pattern: str
) -> None:
    filters = [{"field": field, "expression": expression, "value": pattern}]
    assert search_aliases(api, filters) == expected_aliases(listed, filters)


@pytest.mark.parametrize("field", ["tokenEnabled", "createdTime"])
@pytest.mark.parametrize("expression", ["like", "ilike"])
def test_like_on_non_text_fields_is_400(api: Wire, field: str, expression: str) -> None:
    response = api.search({"filters": [{"field": field, "expression": expression, "value": "1"}]})
    assert "filters[0]" in assert_error(response, 400)


def test_filters_combine_with_and(api: Wire, listed: list[dict[str, Any]]) -> None:
    filters = [
        {"field": "props.os", "expression": "eq", "value": "linux"},
        {"field": "tokenEnabled", "expression": "eq", "value": 1},
    ]
    assert search_aliases(api, filters) == ["prod-linux"]
    assert expected_aliases(listed, filters) == ["prod-linux"]


def test_empty_filters_return_every_token(api: Wire, listed: list[dict[str, Any]]) -> None:
    assert search_aliases(api, []) == sorted(t["tokenAlias"] for t in listed)


def test_search_answers_the_wire_shape(api: Wire, listed: list[dict[str, Any]]) -> None:
    response = api.search(
        {"filters": [{"expression": "eq", "field": "tokenAlias", "value": "zeta"}]}
    )
    assert response.status_code == 200
    [token] = response.json()["data"]
    assert token["tokenEnabled"] == 1 and type(token["tokenEnabled"]) is int
    # Times as laceworksdk parses them (UTC, milliseconds, Z), and the very token a list shows.
    assert WIRE_TIME.match(token["createdTime"]), token["createdTime"]
    assert WIRE_TIME.match(token["props"]["createdTime"]), token["props"]["createdTime"]
    assert token == next(t for t in listed if t["tokenAlias"] == "zeta")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"filters": [{"field": "tokenAlias", "expression": "matches", "value": "x"}]},
            "expression",
        ),
        ({"filters": [{"field": "accessToken", "expression": "eq", "value": "x"}]}, "field"),
        ({"filters": [{"field": "tokenAlias", "expression": "eq"}]}, "value"),
        ({"filters": [{"field": "tokenAlias", "expression": "in", "values": []}]}, "values"),
        ({"filters": [{"field": "tokenAlias", "expression": "eq", "value": True}]}, "value"),
        ({"filters": [{"field": "tokenEnabled", "expression": "eq", "value": 2}]}, "value"),
        (
            {"filters": [{"field": "createdTime", "expression": "gt", "value": "yesterday"}]},
            "value",
        ),
        ({"filters": "tokenAlias"}, "filters"),
        ({"filters": ["x"]}, "filters[0]"),
    ],
)
def test_bad_search_is_400_naming_the_field(api: Wire, body: dict[str, Any], field: str) -> None:
    assert field in assert_error(api.search(body), 400)


# --- how much one search may ask ----------------------------------------------------------------


def alias_filters(count: int) -> list[dict[str, Any]]:
    return [{"field": "tokenAlias", "expression": "ne", "value": f"x{n}"} for n in range(count)]


def assert_search_limits(api: Wire) -> None:
    """The same answers on every store: at most 32 filters, 1,000 values in all."""
    within = api.search({"filters": alias_filters(SEARCH_FILTERS_MAX)})
    assert within.status_code == 200, within.text
    for count in (SEARCH_FILTERS_MAX + 1, 999):
        message = assert_error(api.search({"filters": alias_filters(count)}), 400)
        assert message == f"filters may hold at most {SEARCH_FILTERS_MAX} filters (got {count})."
    values = [f"v{n}" for n in range(600)]
    two_ins = [{"field": "tokenAlias", "expression": "in", "values": values}] * 2
    message = assert_error(api.search({"filters": two_ins}), 400)
    assert message == f"filters may hold at most {SEARCH_VALUES_MAX} values in all (got 1200)."
    one_in = [{"field": "tokenAlias", "expression": "in", "values": values + values[:400]}]
    assert api.search({"filters": one_in}).status_code == 200


def test_search_limits_on_sqlite(api: Wire) -> None:
    assert_search_limits(api)


@pytest.mark.postgres
def test_search_limits_on_postgresql(tmp_path: Path, postgres_dsn: str) -> None:
    with run_backend(tmp_path, extra_args=["--db", postgres_dsn]) as backend:
        assert_search_limits(Wire(backend))

"""What the console shows: token states, the usage chart, agent rows without token values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import attrs

from lacework_tokens.server.console.present import (
    CHART_DAYS,
    AgentRow,
    TokenState,
    agent_rows,
    filter_tokens,
    token_state,
    usage_chart,
)
from lacework_tokens.server.services.agents import ListedAgent
from lacework_tokens.server.storage.records import AgentRecord, TokenRecord, TokenUsageRecord

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def record(alias: str = "prod", **changes: object) -> TokenRecord:
    made = TokenRecord(
        account="acme",
        lookup="a" * 64,
        sealed="sealed",
        alias=alias,
        enabled=True,
        description="",
        os="linux",
        subscription=None,
        created_time=NOW - timedelta(days=1),
        updated_time=NOW - timedelta(days=1),
        version="0.1",
    )
    return attrs.evolve(made, **changes)


def usage(enrolled: int) -> TokenUsageRecord:
    return TokenUsageRecord(enrolled=enrolled, active=enrolled, last_checkin=None)


def test_token_states_in_the_order_the_cli_gives_them() -> None:
    assert token_state(record(), None, NOW) is TokenState.ENABLED
    assert token_state(record(enabled=False), None, NOW) is TokenState.DISABLED
    deleted = record("prod-x1y2z-deleted", enabled=False)
    assert token_state(deleted, None, NOW) is TokenState.DELETED
    # A soft-delete-shaped name of an enabled token is just a name.
    assert token_state(record("prod-x1y2z-deleted"), None, NOW) is TokenState.ENABLED
    expired = record(expires_at=NOW)
    assert token_state(expired, None, NOW) is TokenState.EXPIRED
    assert token_state(record(expires_at=NOW + timedelta(seconds=1)), None, NOW).value == "enabled"
    assert token_state(attrs.evolve(expired, enabled=False), None, NOW) is TokenState.DISABLED
    single = record(max_enrollments=1)
    assert token_state(single, usage(0), NOW) is TokenState.ENABLED
    assert token_state(single, usage(1), NOW) is TokenState.USED_UP
    assert token_state(record(max_enrollments=1, enrolled=1), None, NOW) is TokenState.USED_UP
    assert TokenState.USED_UP.slug == "used-up"


def test_the_filter_matches_name_or_description_and_state_newest_first() -> None:
    records = [
        record("web", lookup="1" * 64, description="Frontends", created_time=NOW),
        record("db", lookup="2" * 64, enabled=False, created_time=NOW - timedelta(hours=1)),
        record("batch", lookup="3" * 64, created_time=NOW + timedelta(hours=1)),
    ]
    names = [row.name for row in filter_tokens(records, {}, now=NOW)]
    assert names == ["batch", "web", "db"]
    assert [r.name for r in filter_tokens(records, {}, now=NOW, search="FRONT")] == ["web"]
    assert [r.name for r in filter_tokens(records, {}, now=NOW, state="disabled")] == ["db"]
    counted = filter_tokens(records, {"1" * 64: usage(4)}, now=NOW, search="web")[0]
    assert (counted.enrolled, counted.active) == (4, 4)
    assert filter_tokens(records, {}, now=NOW, search="db")[0].enrolled is None


def agent(mid: int, created: datetime, seen: datetime, **tags: str) -> ListedAgent:
    return ListedAgent(
        AgentRecord(
            account="acme",
            mid=mid,
            token_lookup="a" * 64,
            hostname=f"host-{mid}",
            os="Linux",
            arch="arm64",
            agent_version="7.0",
            mode="normal",
            ip_addr="10.0.0.1",
            tags=dict(tags),
            scope=None,
            created_time=created,
            last_update=seen,
        ),
        "ACTIVE",
    )


def test_agent_rows_have_the_cli_columns_and_the_token_name_only() -> None:
    rows = agent_rows(
        [agent(7, NOW, NOW, Name="web seven", ExternalIp="1.2.3.4")], {"a" * 64: "prod"}
    )
    assert rows == [
        AgentRow(
            mid=7,
            status="ACTIVE",
            agent_version="7.0",
            hostname="host-7",
            name="web seven",
            internal_ip="10.0.0.1",
            external_ip="1.2.3.4",
            os_arch="Linux/arm64",
            last_checkin=NOW,
            created=NOW,
            token_id="a" * 64,
            token_name="prod",
        )
    ]


def test_the_chart_counts_enrollments_and_last_check_ins_per_day() -> None:
    rows = agent_rows(
        [
            agent(1, NOW - timedelta(days=2), NOW),
            agent(2, NOW - timedelta(days=2), NOW - timedelta(days=1)),
            agent(3, NOW, NOW),
            agent(4, NOW - timedelta(days=CHART_DAYS + 3), NOW),  # enrolled before the chart
        ],
        {},
    )
    chart = usage_chart(rows, NOW)
    assert [bar.count for bar in chart.enrolled][-3:] == [2, 0, 1]
    assert sum(bar.count for bar in chart.enrolled) == 3
    assert [bar.count for bar in chart.checked_in][-3:] == [0, 1, 3]
    assert chart.top == 3
    tallest = max(chart.checked_in, key=lambda bar: bar.height)
    assert tallest.y == chart.baseline - tallest.height and tallest.count == 3
    assert all(bar.height == 0 for bar in chart.enrolled if bar.count == 0)
    assert len(chart.enrolled) == len(chart.checked_in) == CHART_DAYS
    assert chart.enrolled[-1].label == "2026-11-25: 1 enrolled"
    assert chart.summary == (
        f"Over the last {CHART_DAYS} days, 3 agents enrolled and 4 last checked in."
    )
    # Bars stay inside the drawing and never overlap their neighbours.
    xs = sorted((bar.x, bar.x + bar.width) for bar in (*chart.enrolled, *chart.checked_in))
    assert all(right <= next_left + 1e-6 for (_, right), (next_left, _) in pairwise(xs))
    assert xs[0][0] >= chart.left and xs[-1][1] <= chart.width
    assert usage_chart([], NOW).top == 1  # an empty chart still has a scale

"""Two backend replicas on one PostgreSQL database behave as one service."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from raw_api import RawApi, bearer_token

from lacework_tokens.testing import Backend, run_backend

pytestmark = pytest.mark.postgres


@contextlib.contextmanager
def two_replicas(tmp_path: Path, dsn: str) -> Iterator[tuple[Backend, Backend]]:
    """Two ``serve`` processes on one database, sharing the key that seals token values.

    Each replica ensures its own admin API key in the same account, as two deployments of one
    configuration would.
    """
    args = ["--db", dsn, "--secrets-key", str(tmp_path / "secrets.key")]
    # One after the other: the first creates the shared sealing key.
    with (
        run_backend(tmp_path / "replica-a", extra_args=args) as first,
        run_backend(tmp_path / "replica-b", extra_args=args) as second,
    ):
        yield first, second


def test_a_token_created_on_one_replica_is_read_updated_and_soft_deleted_on_the_other(
    tmp_path: Path, postgres_dsn: str
) -> None:
    with two_replicas(tmp_path, postgres_dsn) as (first, second):
        on_first, on_second = RawApi.login(first), RawApi.login(second)

        created = on_first.create("prod", description="k8s production", os="linux")
        assert created.status_code == 201, created.text
        token = created.json()["data"]["accessToken"]

        read = on_second.get(token)
        assert read.status_code == 200, read.text
        assert read.json()["data"]["tokenAlias"] == "prod"
        assert read.json()["data"]["props"]["description"] == "k8s production"

        updated = on_second.patch(token, {"props": {"description": "moved"}})
        assert updated.status_code == 200, updated.text
        assert on_first.get(token).json()["data"]["props"]["description"] == "moved"

        # The provider's destroy: disable and rename; the old name is free again everywhere.
        deleted = on_second.patch(token, {"tokenEnabled": 0, "tokenAlias": "prod-x7k2p-deleted"})
        assert deleted.status_code == 200, deleted.text
        seen_on_first = on_first.get(token).json()["data"]
        assert seen_on_first["tokenEnabled"] == 0
        assert seen_on_first["tokenAlias"] == "prod-x7k2p-deleted"
        assert on_first.create("prod").status_code == 201

        # A replica refuses an alias the other replica holds.
        assert on_second.create("prod").status_code == 409


def test_a_bearer_token_from_one_replica_works_on_the_other(
    tmp_path: Path, postgres_dsn: str
) -> None:
    with two_replicas(tmp_path, postgres_dsn) as (first, second):
        bearer = bearer_token(first)
        created = RawApi(second.url, bearer).create("behind-a-load-balancer")
        assert created.status_code == 201, created.text
        token = created.json()["data"]["accessToken"]
        assert RawApi(first.url, bearer).get(token).status_code == 200


def test_concurrent_creates_across_replicas_leave_one_token_per_alias(
    tmp_path: Path, postgres_dsn: str
) -> None:
    aliases = [f"fleet-{n:02d}" for n in range(20)]
    attempts = [(aliases[n % len(aliases)], n % 2) for n in range(200)]

    with two_replicas(tmp_path, postgres_dsn) as (first, second):
        apis = (RawApi.login(first), RawApi.login(second))

        def create(attempt: tuple[str, int]) -> tuple[str, int, str | None]:
            alias, replica = attempt
            response = apis[replica].create(alias)
            token = response.json()["data"]["accessToken"] if response.status_code == 201 else None
            return alias, response.status_code, token

        with ThreadPoolExecutor(max_workers=32) as pool:
            results = list(pool.map(create, attempts))

        statuses = Counter(status for _, status, _ in results)
        assert statuses == {201: 20, 409: 180}, statuses
        winners = {alias: token for alias, status, token in results if status == 201}
        assert sorted(winners) == aliases

        for api in apis:
            listed = {item["tokenAlias"]: item["accessToken"] for item in api.list()}
            assert listed == winners


def test_a_stopped_replica_does_not_take_the_data_with_it(
    tmp_path: Path, postgres_dsn: str
) -> None:
    args = ["--db", postgres_dsn, "--secrets-key", str(tmp_path / "secrets.key")]
    with run_backend(tmp_path / "replica-a", extra_args=args) as first:
        created = RawApi.login(first).create("survivor")
        assert created.status_code == 201, created.text
        token = created.json()["data"]["accessToken"]
    with run_backend(tmp_path / "replica-b", extra_args=args) as second:
        read = RawApi.login(second).get(token)
        assert read.status_code == 200, read.text
        assert read.json()["data"]["tokenAlias"] == "survivor"

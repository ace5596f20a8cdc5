"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from postgres_cluster import ClusterError, PostgresCluster


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throw-away PostgreSQL cluster for the whole session, started on first use."""
    problem = ""
    try:
        cluster = PostgresCluster()
        cluster.__enter__()
    except ClusterError as exc:
        problem = str(exc)
    if problem:  # outside the except block: one clear line, no chained traceback
        pytest.fail(f"cannot start the test PostgreSQL cluster: {problem}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_dsn(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A DSN for a fresh, empty database of the session's cluster."""
    with postgres_cluster.fresh_database() as dsn:
        yield dsn

"""Fixtures shared by the unit tests.

``store`` runs a test once per store implementation. To add one, write a factory
``(request, tmp_path) -> Store`` and add a ``pytest.param`` for it to ``STORE_PARAMS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.sqlite import SqliteStore

StoreFactory = Callable[[pytest.FixtureRequest, Path], Store]


def _sqlite_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return SqliteStore(tmp_path / "tokens.db")


def _postgres_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    from lacework_tokens.server.storage.postgres import PostgresStore

    # A fresh database of the session's throw-away cluster (tests/conftest.py).
    return PostgresStore(request.getfixturevalue("postgres_dsn"))


STORE_PARAMS = [
    pytest.param(_sqlite_store, id="sqlite"),
    pytest.param(_postgres_store, id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=STORE_PARAMS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    factory: StoreFactory = request.param
    opened = factory(request, tmp_path)
    yield opened
    opened.close()

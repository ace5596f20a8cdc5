"""Fixtures for the Terraform tests: one backend and one plugin installation per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tf_harness import Workbench

from lacework_tokens.testing import run_backend


@pytest.fixture(scope="module")
def workbench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    root = tmp_path_factory.mktemp("terraform")
    with run_backend(root / "backend") as backend:
        bench = Workbench(backend, root)
        try:
            yield bench
        finally:
            bench.client.close()

"""Fixtures of the console tests: a backend, and headless Chromium driven by Playwright.

The browser is Debian's ``chromium`` (``make test`` installs it when it is missing and the run is
root's); Playwright's own browser downloads are not used. A missing piece fails the tests with
what to install: they are never skipped.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM: Final = Path(os.environ.get("LWT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
# Screenshots of every page the browser tests visit, kept as test artefacts (git-ignored).
SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "build" / "console-screenshots"


# Module scope, not session: Playwright's synchronous API runs an event loop in this thread while
# it is open, and tests elsewhere that call ``asyncio.run`` need the thread without one.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the console's browser tests need Playwright for Python: "
            "pip install -e '.[dev]' (make dev does it)",
            pytrace=False,
        )
    if not CHROMIUM.is_file():
        pytest.fail(
            f"the console's browser tests need Chromium at {CHROMIUM}: "
            "apt-get install -y chromium (make test installs it when run as root)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS

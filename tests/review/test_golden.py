"""The Markdown and JSON reports, character for character, against golden files.

The reports are made from plans the real terraform made (``scenarios``); nothing in them
depends on the run (no times, no token values, fixed names). After a deliberate change to a
report, regenerate the files and review the diff:

    LACEWORK_TOKENS_UPDATE_GOLDEN=1 .venv/bin/pytest tests/review/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import pytest
from review_harness import Lab
from scenarios import Scenario

from lacework_tokens.wire import AgentAccessToken

pytestmark = pytest.mark.terraform

GOLDEN: Final = Path(__file__).parent / "golden"
UPDATE: Final = os.environ.get("LACEWORK_TOKENS_UPDATE_GOLDEN") == "1"


def matches_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} changed; if that is intended, regenerate it (see this module's docstring)"
    )


@pytest.mark.parametrize("form, suffix", [("markdown", "md"), ("json", "json")])
def test_lifecycle_report(lab: Lab, lifecycle: Scenario, form: str, suffix: str) -> None:
    result = lab.review(
        str(lifecycle.run.json_path), "--format", form, "--name-pattern", "lc-[a-z0-9-]+"
    )
    assert result.returncode == 1, result.stderr
    matches_golden(f"lifecycle.{suffix}", result.stdout)


@pytest.mark.parametrize("form, suffix", [("markdown", "md"), ("json", "json")])
def test_exposure_report(
    lab: Lab, exposure: tuple[Scenario, AgentAccessToken], form: str, suffix: str
) -> None:
    scenario, _ = exposure
    result = lab.review(str(scenario.run.json_path), "--format", form)
    assert result.returncode == 1, result.stderr
    matches_golden(f"exposure.{suffix}", result.stdout)

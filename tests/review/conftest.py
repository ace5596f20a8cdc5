"""Fixtures for the review tests: one backend and one offline Terraform setup for the session,
and, after every test, a search of everything the review printed for every token value."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import scenarios
from review_harness import Lab
from scenarios import Scenario

from lacework_tokens.review.model import TOKEN_PREFIX_LENGTH
from lacework_tokens.testing import run_backend
from lacework_tokens.wire import AgentAccessToken


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("review")
    with run_backend(root / "backend") as backend:
        built = Lab(backend, root)
        try:
            yield built
        finally:
            built.client.close()


@pytest.fixture(autouse=True)
def no_token_value_in_any_output(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a test had the review print, in any format, holds no token value (nor the
    30-character prefix agents are tagged with)."""
    if "lab" not in request.fixturenames:
        yield
        return
    lab: Lab = request.getfixturevalue("lab")
    start = len(lab.outputs)
    yield
    printed = lab.outputs[start:]
    if not printed:
        return
    values = lab.token_values()
    for text in printed:
        for value in values:
            # Booleans, so that a failure report does not print the value itself.
            printed_value = value in text
            printed_tag = value[:TOKEN_PREFIX_LENGTH] in text
            assert not printed_value, "a token value was printed"
            assert not printed_tag, "a token's agent tag (LwTokenShort) was printed"


@pytest.fixture(scope="session")
def lifecycle(lab: Lab) -> Scenario:
    return scenarios.lifecycle(lab)


@pytest.fixture(scope="session")
def exposure(lab: Lab) -> tuple[Scenario, AgentAccessToken]:
    return scenarios.exposure(lab)


@pytest.fixture(scope="session")
def sinks(lab: Lab) -> Scenario:
    return scenarios.sinks(lab)


@pytest.fixture(scope="session")
def aws(lab: Lab) -> Scenario:
    return scenarios.aws(lab)

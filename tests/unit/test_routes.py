"""The route table drives the router: which path reaches which route, with which value."""

from __future__ import annotations

import pytest

from lacework_tokens.server.app import Router
from lacework_tokens.server.routes import ROUTES

TOKENS = "/api/v2/AgentAccessTokens"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/healthz", ("healthz", None)),
        ("/openapi.json", ("openapi", None)),
        ("/api/v2/access/tokens", ("access_tokens", None)),
        ("/api/v2/access/tokens/", ("access_tokens", None)),
        (TOKENS, ("tokens", None)),
        (f"{TOKENS}/", ("tokens", None)),
        (f"{TOKENS}/search", ("search", None)),
        (f"{TOKENS}/search/", ("search", None)),
        (f"{TOKENS}/0123abcd", ("token", "0123abcd")),
        (f"{TOKENS}/0123abcd/", ("token", "0123abcd")),
        # Only API routes take a trailing slash, and only one.
        ("/healthz/", None),
        (f"{TOKENS}//", None),
        (f"{TOKENS}/0123abcd//", None),
        (f"{TOKENS}/search//", None),
        (f"{TOKENS}/abc/def", None),
        ("/api/v2", None),
        ("/api/v2/", None),
        ("/", None),
    ],
)
def test_each_path_reaches_its_route(path: str, expected: tuple[str, str | None] | None) -> None:
    matched = Router(ROUTES).match(path)
    assert (None if matched is None else (matched[0].route.name, matched[1])) == expected

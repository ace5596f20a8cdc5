"""The shared name rules (``limits``): what the server refuses and how user names compare."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lacework_tokens import limits

# Every format character and blank filler: none may hide in a token name or a user name.
INVISIBLE = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"] + [
    "\u034f",
    "\u115f",
    "\u1160",
    "\u3164",
    "\uffa0",
]


@pytest.mark.parametrize("char", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
def test_every_invisible_character_is_refused_in_aliases_and_user_names(char: str) -> None:
    alias_problem = limits.alias_problem(f"prod{char}x")
    assert alias_problem is not None
    assert f"(U+{ord(char):04X} at position 5)" in alias_problem
    assert limits.user_name_problem(f"ad{char}min") is not None


def test_names_in_any_script_and_emoji_without_joiners_are_fine() -> None:
    for name in ("prod", "Produktion-Ü", "本番", "прод", "prod ✓", "🚀-launch", "café"):
        assert limits.alias_problem(name) is None, name
        assert limits.user_name_problem(name) is None, name


def test_aliases_must_be_nfc() -> None:
    assert limits.alias_problem("cafe\u0301") == (
        "must be in Unicode normalization form NFC (composed characters, as typed)"
    )
    assert limits.alias_problem(unicodedata.normalize("NFC", "cafe\u0301")) is None


@pytest.mark.parametrize(
    "spelling", ["admin", "Admin", "ADMIN", " admin ", "\uff21\uff24\uff2d\uff29\uff2e"]
)
def test_user_name_spellings_are_one_user(spelling: str) -> None:
    assert limits.normalized_user_name(spelling) == "admin"


@given(st.text(min_size=1, max_size=40))
def test_normalizing_a_user_name_twice_changes_nothing(user: str) -> None:
    once = limits.normalized_user_name(user)
    assert limits.normalized_user_name(once) == once

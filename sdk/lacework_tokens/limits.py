"""Every limit and name rule shared by the backend, the SDK and the Terraform plugin.

Defined once here so that the server's 400, the SDK's early refusal and the plugin's plan-time
diagnostic cannot disagree. A check returns ``None`` when the value is fine, else the problem as
a phrase without a subject ("must be 1 to 64 characters long"): each caller names the field in
its own words (``tokenAlias`` on the wire, ``name`` in Terraform) and adds its own punctuation.

This module imports nothing beyond the standard library: the plugin reads it before its
handshake.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Final

__all__ = [
    "ACCOUNT_NAME",
    "ALIAS_MAX_LENGTH",
    "API_SECRET_MIN_BITS",
    "DEFAULT_OS",
    "DESCRIPTION_MAX_LENGTH",
    "ENROLLMENTS_MAX",
    "EXPIRY_DEFAULT_SECONDS",
    "EXPIRY_MAX_SECONDS",
    "HOSTNAME_MAX_LENGTH",
    "LABEL_MAX_LENGTH",
    "OS_VALUES",
    "RESERVED_TAGS",
    "SCOPE_NAME",
    "SEARCH_FILTERS_MAX",
    "SEARCH_VALUES_MAX",
    "SOFT_DELETE_MAX_LENGTH",
    "SOFT_DELETE_SUFFIX",
    "TAGS_MAX",
    "TAG_KEY",
    "TAG_VALUE_MAX_LENGTH",
    "TOKEN_SHORT_LENGTH",
    "TOKEN_VALUE_MAX_LENGTH",
    "USER_NAME_MAX_LENGTH",
    "account_name_problem",
    "alias_problem",
    "api_secret_problem",
    "description_problem",
    "duration_seconds",
    "duration_words",
    "expiry_problem",
    "has_control_characters",
    "hostname_problem",
    "invisible_character",
    "is_printable_token_value",
    "is_soft_deleted_name",
    "label_problem",
    "max_enrollments_problem",
    "name_before_soft_delete",
    "normalized_user_name",
    "os_problem",
    "scope_problem",
    "secret_bits",
    "tag_problem",
    "user_name_problem",
]

# Bearer (access) token lifetimes, in seconds, as Lacework documents them.
EXPIRY_DEFAULT_SECONDS: Final = 3600
EXPIRY_MAX_SECONDS: Final = 86400

# The real service documents no limit; 64 characters keeps names readable in the console and
# leaves room for the 16 characters a soft delete appends ("-xxxxx-deleted" plus margin).
ALIAS_MAX_LENGTH: Final = 64
SOFT_DELETE_MAX_LENGTH: Final = ALIAS_MAX_LENGTH + 16
# A soft-deleted token is disabled and renamed ``<name>-<5 random [a-z0-9]>-deleted`` (what the
# official provider does on destroy); such a name is recognised by this suffix.
SOFT_DELETE_SUFFIX: Final = "-deleted"
_SOFT_DELETED_NAME: Final = re.compile(r"(.+)-[a-z0-9]{5}-deleted", re.DOTALL)
DESCRIPTION_MAX_LENGTH: Final = 1024
# The operating systems Lacework ships agents for, as the console and the official provider spell
# them: lowercase, nothing else ("Linux" and "macos" are refused, not stored).
OS_VALUES: Final = ("linux", "windows")
DEFAULT_OS: Final = OS_VALUES[0]

# Longer than any value the backend mints; bounds the work done on a garbage path segment.
TOKEN_VALUE_MAX_LENGTH: Final = 256
# The most filters one search may hold (all must match), and the most values all its filters
# hold together (an ``in`` counts each of its values): enough for any real search, and a query
# every store runs alike (SQLite refuses expressions nested about 1,000 deep).
SEARCH_FILTERS_MAX: Final = 32
SEARCH_VALUES_MAX: Final = 1000

# An API secret an operator chooses (``serve --api-key``) must be as hard to guess as the ones
# the server generates (128 random bits): API secrets are kept as a fast hash, which only a
# random secret makes safe to store (a database copy lets anyone test guesses offline).
API_SECRET_MIN_BITS: Final = 128
API_SECRET_MIN_DISTINCT: Final = 8
# A run of this many characters seen twice in one secret marks a pattern, not randomness (a
# random 32-character hex secret has one about once in 50,000).
API_SECRET_REPEAT: Final = 6
_DIGITS: Final = "0123456789"
_LOWER: Final = "abcdefghijklmnopqrstuvwxyz"
_UPPER: Final = _LOWER.upper()
_ALPHABETS: Final = (
    (frozenset(_DIGITS + "abcdef"), 16),
    (frozenset(_DIGITS + "ABCDEF"), 16),
    (frozenset(_DIGITS + _LOWER), 36),
    (frozenset(_DIGITS + _LOWER + _UPPER), 62),
    (frozenset(_DIGITS + _LOWER + _UPPER + "-_"), 64),
    (frozenset(_DIGITS + _LOWER + _UPPER + "+/="), 65),
    (frozenset(chr(c) for c in range(0x21, 0x7F)), 94),
)

# Account names end up in key ids, headers, file names and URLs: what Lacework itself allows.
ACCOUNT_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
USER_NAME_MAX_LENGTH: Final = 255

# Control characters (Cc), surrogates (Cs), and the line and paragraph separators (Zl, Zp).
_CONTROL_CATEGORIES: Final = frozenset({"Cc", "Cs", "Zl", "Zp"})
# Characters that show as nothing, or reorder what is shown around them, so that two different
# names look the same: every format character (Cf: zero-width space and joiners, bidirectional
# marks, embeddings, overrides and isolates, the byte-order mark, the soft hyphen, …) and the
# letters and marks that render blank (combining grapheme joiner, Hangul and Khmer fillers).
_INVISIBLE_CATEGORY: Final = "Cf"
_INVISIBLE_OTHERS: Final = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0")

# --- agents and enrollment policy -------------------------------------------------------------

# Agents tag themselves with the first 30 characters of their token (Lacework's install script
# cuts it so): the only link from an AgentInfo record to a token.
TOKEN_SHORT_LENGTH: Final = 30
# What a token's ``max_enrollments`` may be: 1 is a single-use token.
ENROLLMENTS_MAX: Final = 1_000_000
# A scope names an asset group: it goes into tags, filters and command lines, so it keeps to
# characters none of them needs to quote.
SCOPE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}")
# What an agent may report about itself: its os is one of OS_VALUES, as a token's.
LABEL_MAX_LENGTH: Final = 32
HOSTNAME_MAX_LENGTH: Final = 255
TAG_KEY: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}")
TAG_VALUE_MAX_LENGTH: Final = 255
TAGS_MAX: Final = 32
# Tags the server sets from the token and the enrollment itself; an agent may not send them.
RESERVED_TAGS: Final = frozenset({"LwTokenShort", "Scope", "Hostname", "os", "arch"})
_DURATION: Final = re.compile(r"([1-9][0-9]{0,8})([smhdw])")
_DURATION_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(c) in _CONTROL_CATEGORIES for c in text)


def invisible_character(text: str) -> tuple[int, str] | None:
    """The first invisible or bidirectional formatting character in ``text``: its position
    (counting from 1) and the character; ``None`` when there is none."""
    for position, char in enumerate(text, start=1):
        if char in _INVISIBLE_OTHERS or unicodedata.category(char) == _INVISIBLE_CATEGORY:
            return position, char
    return None


def _invisible_problem(text: str) -> str | None:
    found = invisible_character(text)
    if found is None:
        return None
    position, char = found
    return (
        "must not contain invisible or bidirectional formatting characters "
        f"(U+{ord(char):04X} at position {position})"
    )


def is_printable_token_value(value: str) -> bool:
    """Whether ``value`` could be a token value at all (short, printable ASCII)."""
    return 0 < len(value) <= TOKEN_VALUE_MAX_LENGTH and value.isascii() and value.isprintable()


def is_soft_deleted_name(alias: str) -> bool:
    """Whether ``alias`` has the shape a soft delete gives: ``<name>-<5 [a-z0-9]>-deleted``."""
    return _SOFT_DELETED_NAME.fullmatch(alias) is not None


def name_before_soft_delete(alias: str) -> str | None:
    """The name a soft-deleted token had (``prod`` for ``prod-x1y2z-deleted``), else ``None``."""
    match = _SOFT_DELETED_NAME.fullmatch(alias)
    return match.group(1) if match else None


def alias_problem(alias: str, *, allow_soft_deleted: bool = False) -> str | None:
    """What is wrong with a token name; ``allow_soft_deleted`` admits the longer
    ``…-deleted`` names a soft delete gives.

    A name is stored exactly as sent (Terraform compares it with the configuration), so names
    that would look alike are refused rather than rewritten: invisible and bidirectional
    formatting characters, and text not in Unicode NFC (an accent as its own code point after
    the letter, where NFC has one composed character: what keyboards and editors produce).
    """
    limit = ALIAS_MAX_LENGTH
    if allow_soft_deleted and alias.endswith(SOFT_DELETE_SUFFIX):
        limit = SOFT_DELETE_MAX_LENGTH
    if not 1 <= len(alias) <= limit:
        return f"must be 1 to {limit} characters long"
    if alias != alias.strip():
        return "must not start or end with whitespace"
    if has_control_characters(alias):
        return "must not contain control characters"
    invisible = _invisible_problem(alias)
    if invisible is not None:
        return invisible
    if not unicodedata.is_normalized("NFC", alias):
        return "must be in Unicode normalization form NFC (composed characters, as typed)"
    return None


def description_problem(description: str) -> str | None:
    if len(description) > DESCRIPTION_MAX_LENGTH:
        return f"must be at most {DESCRIPTION_MAX_LENGTH} characters long"
    return None


def os_problem(os_name: str) -> str | None:
    if os_name not in OS_VALUES:
        return "must be one of " + ", ".join(f'"{value}"' for value in OS_VALUES)
    return None


def label_problem(text: str) -> str | None:
    """What is wrong with a short label an agent reports about itself (its arch, its mode)."""
    if not 1 <= len(text) <= LABEL_MAX_LENGTH:
        return f"must be 1 to {LABEL_MAX_LENGTH} characters long"
    if text != text.strip() or has_control_characters(text):
        return "must not contain control characters or surrounding whitespace"
    return None


def expiry_problem(seconds: object) -> str | None:
    """What is wrong with a bearer token lifetime (``expiryTime``) as JSON gives it."""
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        return f"must be an integer from 1 to {EXPIRY_MAX_SECONDS}"
    if not 1 <= seconds <= EXPIRY_MAX_SECONDS:
        return f"must be an integer from 1 to {EXPIRY_MAX_SECONDS}"
    return None


def secret_bits(secret: str) -> float:
    """The most a secret can hold: its length times the bits of the smallest usual alphabet
    that has all its characters (hex digits of one case, lower-case letters and digits,
    letters and digits, base64, printable ASCII). A random secret holds that much; one a
    person made up holds far less, so this only tells which secrets are surely too weak."""
    chars = set(secret)
    for alphabet, size in _ALPHABETS:
        if chars <= alphabet:
            return len(secret) * math.log2(size)
    return 0.0


def api_secret_problem(secret: str) -> str | None:
    """What makes an operator-chosen API secret unfit; ``None`` when it passes.

    Printable ASCII without spaces (it travels in an HTTP header), at least
    ``API_SECRET_MIN_BITS`` by ``secret_bits`` (32 hex characters, or 22 of base64),
    ``API_SECRET_MIN_DISTINCT`` different characters, and no run of ``API_SECRET_REPEAT``
    characters twice.
    """
    advice = (
        f"use at least {API_SECRET_MIN_BITS} random bits, such as 32 hex characters from "
        "'openssl rand -hex 16', or let the server generate the key"
    )
    if not secret.isascii() or not secret.isprintable() or " " in secret:
        return "must be printable ASCII without spaces"
    if secret_bits(secret) < API_SECRET_MIN_BITS or len(set(secret)) < API_SECRET_MIN_DISTINCT:
        return f"is too easy to guess: {advice}"
    runs = [secret[i : i + API_SECRET_REPEAT] for i in range(len(secret) - API_SECRET_REPEAT + 1)]
    if len(set(runs)) < len(runs):
        return f"repeats itself: {advice}"
    return None


def account_name_problem(name: str) -> str | None:
    if ACCOUNT_NAME.fullmatch(name) is None:
        return "must be 1 to 63 letters, digits, '-' or '_', starting with a letter or digit"
    return None


def user_name_problem(user: str) -> str | None:
    if not 1 <= len(user) <= USER_NAME_MAX_LENGTH or has_control_characters(user):
        return f"must be 1 to {USER_NAME_MAX_LENGTH} printable characters"
    return _invisible_problem(user)


def normalized_user_name(user: str) -> str:
    """The one spelling of a user name that keys are counted under: surrounding whitespace
    removed, compatibility-normalized and case-folded (NFKC, casefold, NFKC), so ``admin``,
    ``Admin`` and ``ADMIN`` in full-width letters are one user. Check ``user_name_problem``
    on the result."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", user.strip()).casefold())
    return folded.strip()


def max_enrollments_problem(value: object) -> str | None:
    """What is wrong with a token's ``max_enrollments`` as JSON or Terraform gives it."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ENROLLMENTS_MAX:
        return f"must be a whole number from 1 to {ENROLLMENTS_MAX}"
    return None


def scope_problem(scope: str) -> str | None:
    if SCOPE_NAME.fullmatch(scope) is None:
        return (
            "must be 1 to 64 letters, digits, '_', '.', ':', '/' or '-', starting with a "
            "letter or digit"
        )
    return None


def hostname_problem(hostname: str) -> str | None:
    if not 1 <= len(hostname) <= HOSTNAME_MAX_LENGTH:
        return f"must be 1 to {HOSTNAME_MAX_LENGTH} characters long"
    if hostname != hostname.strip() or has_control_characters(hostname):
        return "must not contain control characters or surrounding whitespace"
    return None


def tag_problem(key: str, value: str) -> str | None:
    """What is wrong with one agent tag ``key=value`` sent at enrollment."""
    if TAG_KEY.fullmatch(key) is None:
        return (
            f"key {key[:64]!r} must be 1 to 64 letters, digits, '_', '.', ':', '/' or '-', "
            "starting with a letter or digit"
        )
    if key in RESERVED_TAGS:
        return f"key {key!r} is set by the server"
    if len(value) > TAG_VALUE_MAX_LENGTH or has_control_characters(value):
        return f"value of {key!r} must be at most {TAG_VALUE_MAX_LENGTH} printable characters"
    return None


def duration_words(seconds: int) -> str:
    """``7 days``, ``36 hours``, ``1 minute``, ``90 seconds``: the largest unit that is exact."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def duration_seconds(text: str) -> int | None:
    """``15m``, ``24h``, ``7d``, ``2w`` or ``90s`` in seconds; ``None`` when it is none of those."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return None
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]

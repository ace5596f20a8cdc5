"""Secrets at rest: how token values, API secrets and bearer tokens are kept by the backend.

- Agent access token values must be shown again (list, search), so they are *sealed*
  (AES-256-GCM) and found by a *lookup*: an HMAC-SHA256 of the value under a server key, so a
  stolen database alone neither reveals tokens nor lets anyone test guesses offline.
- API secrets and bearer tokens are never shown again and are high-entropy random values, so a
  plain SHA-256 is enough: nobody can brute-force 128+ random bits from the hash. The server
  generates them, or refuses an operator's secret that cannot hold 128 bits
  (``limits.api_secret_problem``): a slow KDF would not save a guessable secret (a short word
  list is tried in a second even at 100 ms a guess), and it would put that cost on every login
  and on every guess an attacker sends. They are found by hash, or compared with
  ``hmac.compare_digest``.

The server key file holds 32 random bytes (hex); sub-keys for lookup and sealing are derived
from it so one key never serves two purposes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lacework_tokens.files import write_private

__all__ = [
    "AGENT_TOKEN_BYTES",
    "BEARER_TOKEN_BYTES",
    "Sealer",
    "SealerError",
    "hash_secret",
    "new_agent_token",
    "new_api_key_id",
    "new_api_secret",
    "new_bearer_token",
    "secret_matches",
]

AGENT_TOKEN_BYTES: Final = 28  # 224 bits, 56 hex characters
BEARER_TOKEN_BYTES: Final = 32
KEY_BYTES: Final = 32
# Opened token values remembered, about 200 bytes each.
OPENED_CACHE_SIZE: Final = 100_000
_NONCE_BYTES: Final = 12
_SEALED_PREFIX: Final = "v1:"
# Binds a sealed value to its purpose: a ciphertext made for something else will not open.
_SEAL_CONTEXT: Final = b"lacework-tokens/agent-access-token/v1"


class SealerError(Exception):
    """A key file that cannot be used, or a sealed value that does not open under this key."""


def _derive(key: bytes, purpose: bytes) -> bytes:
    return hmac.new(key, b"lacework-tokens/" + purpose, hashlib.sha256).digest()


class Sealer:
    """Keyed lookup and authenticated encryption of agent access token values.

    Opened values are remembered (up to ``OPENED_CACHE_SIZE``): a list of 20,000 tokens would
    otherwise decrypt 20,000 values each time. The process holds the key that opens them all
    anyway, so remembering them gives no one anything.
    """

    __slots__ = ("_aead", "_lookup_key", "_opened")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise SealerError(f"the server key must be {KEY_BYTES} bytes")
        self._lookup_key = _derive(key, b"lookup")
        self._aead = AESGCM(_derive(key, b"seal"))
        self._opened: dict[str, str] = {}

    def __repr__(self) -> str:
        return "Sealer(key=****)"

    def lookup(self, token: str) -> str:
        """The keyed hash (HMAC-SHA256, hex) under which a token is stored and found."""
        return hmac.new(self._lookup_key, token.encode(), hashlib.sha256).hexdigest()

    def seal(self, token: str) -> str:
        """The encrypted form kept at rest: ``v1:`` + base64url(nonce || ciphertext || tag)."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, token.encode(), _SEAL_CONTEXT)
        return _SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str) -> str:
        """The token value of ``sealed``; ``SealerError`` when it was sealed under another key."""
        found = self._opened.get(sealed)
        if found is not None:
            return found
        value = self._decrypt(sealed)
        if len(self._opened) >= OPENED_CACHE_SIZE:
            self._opened.clear()  # rare, and refilled by the next reads
        self._opened[sealed] = value
        return value

    def _decrypt(self, sealed: str) -> str:
        if not sealed.startswith(_SEALED_PREFIX):
            raise SealerError("unknown sealed value format")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(_SEALED_PREFIX) :])
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _SEAL_CONTEXT)
        except (InvalidTag, ValueError, binascii.Error):
            raise SealerError(
                "a stored token does not open with this server key (wrong key file?)"
            ) from None
        return plain.decode()

    @classmethod
    def ephemeral(cls) -> Sealer:
        """A random in-memory key: tokens sealed with it die with the process (tests)."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_key_file(cls, path: Path) -> Sealer:
        """Read the key from ``path``, creating it (mode 0600, 32 random bytes) on first use."""
        path = Path(path)
        if not path.exists():
            try:
                _create_key_file(path)
            except OSError as exc:
                raise SealerError(
                    f"cannot create the server key file {path}: {exc.strerror}"
                ) from None
        try:
            text = path.read_text(encoding="ascii").strip()
            key = bytes.fromhex(text)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise SealerError(
                f"cannot read the server key file {path}: {type(exc).__name__}"
            ) from None
        if len(key) != KEY_BYTES:
            raise SealerError(
                f"the server key file {path} must hold {KEY_BYTES} bytes as hex "
                f"({KEY_BYTES * 2} characters)"
            )
        return cls(key)


def _create_key_file(path: Path) -> None:
    """Write a new key next to ``path`` (mode 0600), then link it into place.

    The link is atomic and fails if ``path`` exists, so two servers starting at once agree on
    one key and neither ever reads a half-written file.
    """
    # FileExistsError: another server created it first; use theirs.
    with contextlib.suppress(FileExistsError):
        write_private(path, secrets.token_hex(KEY_BYTES) + "\n", replace=False)


# --- API secrets and bearer tokens: random values kept as SHA-256 ----------------------------


def hash_secret(value: str) -> str:
    """SHA-256 (hex) of a high-entropy secret: API secrets and bearer tokens are kept as this."""
    return hashlib.sha256(value.encode()).hexdigest()


def secret_matches(value: str, expected_hash: str) -> bool:
    """Whether ``value`` hashes to ``expected_hash``, in time independent of where they differ."""
    return hmac.compare_digest(hash_secret(value), expected_hash)


def new_agent_token() -> str:
    return secrets.token_hex(AGENT_TOKEN_BYTES)


def new_bearer_token() -> str:
    return secrets.token_urlsafe(BEARER_TOKEN_BYTES)


def new_api_key_id(account: str) -> str:
    """Lacework style: ``<ACCOUNT>_<32 hex>``; characters unsafe in a header become ``_``."""
    prefix = "".join(c if c.isascii() and c.isalnum() else "_" for c in account.upper())
    return f"{prefix or 'KEY'}_{secrets.token_hex(16).upper()}"


def new_api_secret() -> str:
    """Lacework style: ``_<32 hex>``."""
    return "_" + secrets.token_hex(16)

"""The plugin's TLS identity for go-plugin's automatic mutual TLS.

Terraform verifies the plugin's self-signed certificate against the copy sent in the handshake
line, so any certificate for ``localhost`` will do. Generating one costs ~50 ms (``cryptography``
import and a key), which would double the plugin's start-up; it is generated once per user,
cached with owner-only permissions, and reused until a day before it expires.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["TlsIdentity", "load_or_create"]

VALIDITY_SECONDS: Final = 30 * 24 * 3600
RENEW_MARGIN_SECONDS: Final = 24 * 3600
CACHE_FILE: Final = "plugin-tls.json"


@dataclass(frozen=True)
class TlsIdentity:
    key_pem: bytes
    cert_pem: bytes
    cert_der_b64: str  # unpadded, as go-plugin reads it from the handshake line
    not_after: float

    def __repr__(self) -> str:
        return f"TlsIdentity(not_after={self.not_after})"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lacework-tokens"


def load_or_create(directory: Path | None = None) -> TlsIdentity:
    directory = directory or cache_dir()
    path = directory / CACHE_FILE
    identity = _load(path)
    if identity is None or identity.not_after - time.time() < RENEW_MARGIN_SECONDS:
        identity = _create()
        _store(path, identity)
    return identity


def _load(path: Path) -> TlsIdentity | None:
    try:
        raw = json.loads(path.read_text(encoding="ascii"))
        return TlsIdentity(
            key_pem=raw["key_pem"].encode("ascii"),
            cert_pem=raw["cert_pem"].encode("ascii"),
            cert_der_b64=str(raw["cert_der_b64"]),
            not_after=float(raw["not_after"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _store(path: Path, identity: TlsIdentity) -> None:
    from lacework_tokens.files import write_private

    # Replaced atomically: concurrent plugin starts never read a half-written identity. A
    # read-only home still works: the identity is then generated on every start.
    with contextlib.suppress(OSError):
        write_private(
            path,
            json.dumps(
                {
                    "key_pem": identity.key_pem.decode("ascii"),
                    "cert_pem": identity.cert_pem.decode("ascii"),
                    "cert_der_b64": identity.cert_der_b64,
                    "not_after": identity.not_after,
                }
            ),
        )


def _create() -> TlsIdentity:
    from datetime import timedelta

    from lacework_tokens.certificates import self_signed

    made = self_signed("localhost", valid_for=timedelta(seconds=VALIDITY_SECONDS), client_auth=True)
    return TlsIdentity(
        key_pem=made.key_pem,
        cert_pem=made.cert_pem,
        cert_der_b64=base64.b64encode(made.cert_der).decode("ascii").rstrip("="),
        not_after=made.not_after.timestamp(),
    )

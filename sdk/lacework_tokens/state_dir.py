"""The backend's state directory, as ``serve`` leaves it and ``env`` and ``keys`` read it back.

``serve`` keeps its database, the key that seals token values, the first admin API key file and
a self-signed certificate in one directory (``.lacework-tokens/`` in the working directory, or
the directory of ``--db``). On every start it also records there, in ``server.json``, where it
listens and which key file and certificate go with it, so the connection settings can be printed
again later (``lacework-tokens env``) without the secret ever being printed twice by accident.

Standard library only: the commands that read it load neither the server nor the SDK client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from lacework_tokens.files import write_private

__all__ = [
    "DEFAULT_DB",
    "DEFAULT_DB_NAME",
    "DEFAULT_STATE_DIR",
    "DEFAULT_URL",
    "SERVER_FILE_NAME",
    "ServerRecord",
    "key_file_name",
    "record_server",
    "recorded_server",
    "state_dir_of",
]

DEFAULT_STATE_DIR: Final = Path(".lacework-tokens")
DEFAULT_DB_NAME: Final = "tokens.db"
DEFAULT_DB: Final = str(DEFAULT_STATE_DIR / DEFAULT_DB_NAME)
SERVER_FILE_NAME: Final = "server.json"
# Where `make run` and `serve` listen unless told otherwise.
DEFAULT_URL: Final = "http://127.0.0.1:8080"
_POSTGRES_SCHEMES: Final = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class ServerRecord:
    """What a started backend leaves for its clients: its URL, and the absolute paths of the
    admin API key file and of the certificate to trust (``None`` when there is none)."""

    url: str
    key_file: str | None = None
    certificate: str | None = None


def state_dir_of(db: str | None) -> Path:
    """The state directory of a ``--db`` value: a SQLite file's directory, else the default."""
    if db is None or db.lower().startswith(_POSTGRES_SCHEMES):
        return DEFAULT_STATE_DIR
    return Path(db).expanduser().parent


def key_file_name(account: str) -> str:
    """The file a first start saves its admin API key of ``account`` in."""
    return f"{account}-api-key.json"


def record_server(state_dir: Path, record: ServerRecord) -> None:
    data = {"url": record.url, "keyFile": record.key_file, "certificate": record.certificate}
    write_private(state_dir / SERVER_FILE_NAME, json.dumps(data, indent=2) + "\n")


def recorded_server(state_dir: Path) -> ServerRecord | None:
    """What the last backend started on ``state_dir`` recorded, or ``None`` (never started
    there, or by a version that did not record it)."""
    try:
        data = json.loads((state_dir / SERVER_FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) and value else None

    return ServerRecord(url=data["url"], key_file=text("keyFile"), certificate=text("certificate"))

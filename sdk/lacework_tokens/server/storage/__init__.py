"""Persistence for the backend: one ``Store`` protocol (``protocol.py``) over plain records
(``records.py``), implemented once in SQL (``sql.py``) on SQLite (``sqlite.py``) and PostgreSQL
(``postgres.py``), with one schema (``schema.py``).

A database is named by one ``--db`` value: a ``postgresql://`` URL or a SQLite file path.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from lacework_tokens.files import make_private_dir
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import StoreError

__all__ = ["is_postgres_url", "open_store", "reason_without_password", "without_password"]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(db: str) -> bool:
    return db.lower().startswith(_POSTGRES_SCHEMES)


def without_password(db: str) -> str:
    """A ``--db`` value fit to show: a PostgreSQL URL's password replaced by ``****``."""
    if not is_postgres_url(db):
        return db
    parts = urlsplit(db)
    if parts.password is None:
        return db
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def reason_without_password(exc: BaseException, db: str) -> str:
    """The first line of ``exc``'s message, with ``db`` shown without its password; ``""``
    when the message is empty."""
    message = str(exc)
    if is_postgres_url(db):
        message = message.replace(db, without_password(db))
    return message.splitlines()[0] if message else ""


def open_store(db: str) -> Store:
    """``postgresql://…``/``postgres://…`` → PostgreSQL; anything else → a SQLite file.

    A SQLite file's parent directories are created. Raises ``StoreError`` (never with the URL's
    password in the message) when the database cannot be used.
    """
    if is_postgres_url(db):
        try:
            module = importlib.import_module("lacework_tokens.server.storage.postgres")
        except ImportError as exc:
            raise StoreError(
                "PostgreSQL support is not installed "
                f"(pip install 'lacework-tokens[postgres]'): {exc.msg}"
            ) from None
        store: Store = module.PostgresStore(db)
        return store
    from lacework_tokens.server.storage.sqlite import SqliteStore

    path = Path(db).expanduser()
    try:
        make_private_dir(path.parent)
    except OSError as exc:
        raise StoreError(f"cannot create the directory for {path}: {exc.strerror}") from None
    return SqliteStore(path)

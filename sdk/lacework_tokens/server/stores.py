"""Choosing a store from one ``--db`` value: a PostgreSQL URL or a SQLite file path."""

from __future__ import annotations

import importlib
from pathlib import Path

from lacework_tokens.server.store import Store, StoreError

__all__ = ["is_postgres_url", "open_store"]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(db: str) -> bool:
    return db.lower().startswith(_POSTGRES_SCHEMES)


def open_store(db: str) -> Store:
    """``postgresql://…``/``postgres://…`` → PostgreSQL; anything else → a SQLite file.

    A SQLite file's parent directories are created. Raises ``StoreError`` (never with the URL's
    password in the message) when the database cannot be used.
    """
    if is_postgres_url(db):
        try:
            module = importlib.import_module("lacework_tokens.server.postgres_store")
        except ImportError as exc:
            raise StoreError(
                "PostgreSQL support is not installed "
                f"(pip install 'lacework-tokens[postgres]'): {exc.msg}"
            ) from None
        store: Store = module.PostgresStore(db)
        return store
    from lacework_tokens.server.sqlite_store import SqliteStore

    path = Path(db).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the directory for {path}: {exc.strerror}") from None
    return SqliteStore(path)

"""Every file holding a secret is 0600 and every directory made for one 0700, whatever the umask
and whether the directory existed: the database with its WAL and shared-memory files, the key
that seals token values, API key files, the TLS key; checked on a running server.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from wire_calls import Wire

from lacework_tokens.testing import Backend, run_backend

UMASKS = [0o022, 0o002, 0o077, 0o277]
KEYS_CREATE = [sys.executable, "-m", "lacework_tokens", "keys", "create"]


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """This process's umask (inherited by what it starts) set to ``mask`` for the block."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.contextmanager
def serving(tmp_path: Path, db: Path, mask: int) -> Iterator[Backend]:
    """A server on ``db`` (with a TLS key) started under ``mask``, after one write (so that the
    WAL exists)."""
    with (
        umask(mask),
        run_backend(tmp_path, tls=True, extra_args=["--db", str(db)]) as backend,
    ):
        Wire(backend).create(f"modes-{secrets.token_hex(4)}")
        yield backend


def assert_private_state(db: Path) -> None:
    files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    files += [db.parent / "secrets.key", db.parent / "cert-key.pem"]
    for path in files:
        assert path.is_file(), path
        assert mode(path) == 0o600, f"{path.name}: {mode(path):o}"


@pytest.mark.parametrize("mask", UMASKS, ids=lambda m: f"umask {m:03o}")
def test_new_directories_are_0700_and_state_files_0600(tmp_path: Path, mask: int) -> None:
    db = tmp_path / "new" / "deeper" / "tokens.db"
    with serving(tmp_path, db, mask):
        assert_private_state(db)
        assert mode(tmp_path / "new") == 0o700
        assert mode(tmp_path / "new" / "deeper") == 0o700


@pytest.mark.parametrize("mask", UMASKS, ids=lambda m: f"umask {m:03o}")
def test_state_files_are_0600_in_a_directory_that_existed(tmp_path: Path, mask: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    db = shared / "tokens.db"
    with serving(tmp_path, db, mask):
        assert_private_state(db)
    assert mode(shared) == 0o755  # a directory someone made is theirs: left as it was


def test_an_older_database_readable_by_others_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "state" / "tokens.db"
    with serving(tmp_path, db, 0o022):
        pass
    for path in db.parent.glob("tokens.db*"):
        path.chmod(0o644)  # as releases before this one left it under a umask of 022
    with serving(tmp_path, db, 0o022):
        assert_private_state(db)


@pytest.mark.parametrize("mask", UMASKS, ids=lambda m: f"umask {m:03o}")
def test_key_files_are_0600_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    db = tmp_path / "keys" / "tokens.db"
    key_file = tmp_path / "made-here" / "admin-key.json"
    with umask(mask):
        result = subprocess.run(
            [*KEYS_CREATE, "--db", str(db), "--key-file", str(key_file)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert json.loads(key_file.read_text())["keyId"]
    assert mode(key_file) == 0o600
    assert mode(key_file.parent) == 0o700
    assert mode(db) == 0o600
    assert mode(db.parent) == 0o700

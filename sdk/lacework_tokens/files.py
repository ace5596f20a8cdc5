"""Files and directories only their owner may read: databases, keys, key files, certificates.

One place decides their modes, so that none is ever world-readable, not even for an instant,
whatever the process's umask and whether the directory already existed:

- a file written here (``write_private``) is mode 0600 from its first byte and never seen
  half-written: the data goes to a draft beside the target, is flushed to disk, then is moved
  over the target or, with ``replace=False``, linked into place only if nothing is there yet;
- a file another library writes into (``make_private_file``: the SQLite database, whose WAL and
  shared-memory files SQLite creates with the database's own mode) is created empty with mode
  0600 first, and an existing one of ours is brought to 0600;
- every directory created here (``make_private_dir``), parents included, is mode 0700. A
  directory that already existed is left as it is: it may be shared on purpose, and the files
  in it are private anyway.

The mode is set with ``chmod`` after creation, since a umask can take bits away from the mode
``open`` and ``mkdir`` are given (even the owner's).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path
from typing import Final

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "make_private_dir",
    "make_private_file",
    "restrict_file",
    "write_private",
]

PRIVATE_FILE_MODE: Final = 0o600
PRIVATE_DIR_MODE: Final = 0o700


def make_private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents, each mode 0700; an existing directory is left
    as it is. Raises ``NotADirectoryError`` when ``path`` exists but is not a directory."""
    path = Path(path)
    missing: list[Path] = []
    here = path
    while not here.exists() and here != here.parent:
        missing.append(here)
        here = here.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:  # created meanwhile by another process: theirs to keep
            continue
        os.chmod(directory, PRIVATE_DIR_MODE)
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))


def restrict_file(path: Path) -> None:
    """Bring an existing file of this user to mode 0600; anything else is left alone."""
    with contextlib.suppress(FileNotFoundError):
        found = os.lstat(path)
        if (
            stat.S_ISREG(found.st_mode)
            and found.st_uid == os.geteuid()
            and stat.S_IMODE(found.st_mode) != PRIVATE_FILE_MODE
        ):
            os.chmod(path, PRIVATE_FILE_MODE)


def make_private_file(path: Path) -> None:
    """Make sure ``path`` is a file only its owner may read: create it empty with mode 0600,
    or bring an existing one of this user to 0600. Its directory is created as by
    ``make_private_dir``."""
    path = Path(path)
    make_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        restrict_file(path)
        return
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)


def write_private(path: Path, data: str | bytes, *, replace: bool = True) -> None:
    """Write ``data`` to ``path`` with mode 0600, atomically.

    ``replace=False`` never overwrites: it raises ``FileExistsError`` when ``path`` exists (two
    processes creating the same file at once agree on the first one's bytes).
    """
    path = Path(path)
    make_private_dir(path.parent)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), PRIVATE_FILE_MODE)
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(draft, path)
        else:
            os.link(draft, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            draft.unlink()

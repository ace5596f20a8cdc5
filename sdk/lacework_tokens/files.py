"""Files and directories only their owner may read: databases, keys, key files, certificates.

One way to write them, so that none is ever world-readable, not even for an instant, and none is
ever seen half-written: the data goes to a draft beside the target (mode 0600 from its first
byte), is flushed to disk, then is moved over the target or, with ``replace=False``, linked into
place only if nothing is there yet.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["make_private_dir", "write_private"]


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) readable by its owner only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def write_private(path: Path, data: str | bytes, *, replace: bool = True) -> None:
    """Write ``data`` to ``path`` with mode 0600, atomically.

    ``replace=False`` never overwrites: it raises ``FileExistsError`` when ``path`` exists (two
    processes creating the same file at once agree on the first one's bytes).
    """
    make_private_dir(path.parent)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
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

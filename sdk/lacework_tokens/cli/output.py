"""What every command prints the same way: tables, ``--json``, masked URLs, errors, exit codes.

A failure is one line on stderr, ``lacework-tokens <command>: error: <message>``; ``token``'s API
failures keep their shorter ``error: <message>`` (``error: [404] …``), which scripts match. No
traceback ever reaches the user. Imports nothing beyond the standard library, so every command can
use it before it loads what it needs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import sys
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import unquote, urlsplit

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "install_command",
    "missing_extra",
    "print_error",
    "print_help",
    "print_json",
    "print_table",
]

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2  # as argparse exits on a bad command line
EXIT_INTERRUPTED: Final = 130  # Ctrl-C, as a shell reports SIGINT

PROGRAM: Final = "lacework-tokens"
DISTRIBUTION: Final = "lacework-tokens"


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Rows (a header first, if any) in columns two spaces apart, without trailing blanks."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def print_json(data: Any, *, sort_keys: bool = False) -> None:
    """``data`` as indented JSON for scripts; non-ASCII stays readable."""
    print(json.dumps(data, indent=2, sort_keys=sort_keys, ensure_ascii=False))


def print_error(message: str, command: str | None = None) -> None:
    """One line on stderr: ``lacework-tokens <command>: error: …`` (``error: …`` without one)."""
    prefix = f"{PROGRAM} {command}: error: " if command else "error: "
    print(prefix + message, file=sys.stderr)


def print_help(parser: argparse.ArgumentParser) -> int:
    """A command group named without its action: its help on stderr, and the usage exit code."""
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def missing_extra(extra: str, modules: Sequence[str], needed_for: str) -> str | None:
    """Why ``needed_for`` cannot run here and the exact command that fixes it, or ``None`` when
    every one of ``modules`` (top-level import names of the ``extra``) can be imported.

    Nothing is imported: the check only looks for the modules.
    """
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (
        f"{needed_for} needs the '{extra}' extra ({', '.join(missing)} not installed); "
        f"install it with: {install_command(extra)}"
    )


def install_command(extra: str) -> str:
    """The command that adds ``extra`` to the installation this program runs from."""
    python = shlex.quote(sys.executable or "python3")
    return f"{python} -m pip install {_requirement(extra)}"


def _requirement(extra: str) -> str:
    """``'lacework-tokens[extra]'``, or the source directory for an install from a checkout."""
    from importlib import metadata  # only on this failure path: it is slow to import

    try:
        origin = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        origin = None
    try:
        direct = json.loads(origin) if origin else {}
    except ValueError:
        direct = {}
    url = direct.get("url") if isinstance(direct, dict) else None
    if isinstance(url, str) and url.startswith("file://"):
        dir_info = direct.get("dir_info")
        editable = isinstance(dir_info, dict) and dir_info.get("editable") is True
        source = shlex.quote(f"{unquote(urlsplit(url).path)}[{extra}]")
        return f"-e {source}" if editable else source
    return shlex.quote(f"{DISTRIBUTION}[{extra}]")

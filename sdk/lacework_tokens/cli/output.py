"""What every command prints the same way: tables, ``--json``, times, masked URLs, errors, exit
codes.

A failure is one line on stderr, ``lacework-tokens <command>: error: <message>`` (the form
argparse gives usage errors), without a closing full stop. No traceback ever reaches the user.
Times in tables are RFC 3339 in UTC to the second (``2026-12-01T13:14:53Z``, as Lacework's CLI
prints them); JSON keeps the wire's form with milliseconds. Imports nothing beyond the standard
library, so every command can use it before it loads what it needs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote, urlsplit

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROGRAM",
    "install_command",
    "missing_extra",
    "print_error",
    "print_help",
    "print_json",
    "print_table",
    "program",
    "stdout_closed",
    "table_time",
]

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2  # as argparse exits on a bad command line
EXIT_INTERRUPTED: Final = 130  # Ctrl-C, as a shell reports SIGINT
EXIT_BROKEN_PIPE: Final = 141  # the reader went away (`| head`), as a shell reports SIGPIPE

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
    """One line on stderr: ``lacework-tokens <command>: error: …``, without a closing full stop."""
    prefix = f"{PROGRAM} {command}: error: " if command else f"{PROGRAM}: error: "
    text = " ".join(message.split())
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    print(prefix + text, file=sys.stderr)


def table_time(value: datetime) -> str:
    """A time as every table shows it: RFC 3339, UTC, to the second."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def program() -> str:
    """This program as the user can run it again: ``lacework-tokens`` when that is what their
    PATH finds, else the path it was started by (``.venv/bin/lacework-tokens``)."""
    invoked = sys.argv[0] if sys.argv else ""
    if os.path.basename(invoked) != PROGRAM:
        return PROGRAM
    on_path = shutil.which(PROGRAM)
    try:
        if on_path is not None and os.path.samefile(on_path, invoked):
            return PROGRAM
    except OSError:
        pass
    return shlex.quote(invoked)


def stdout_closed() -> int:
    """The reader of stdout went away (``| head``): stop quietly, as ``cat`` would.

    Later writes, and Python's own flush at exit, go to /dev/null instead of raising again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


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

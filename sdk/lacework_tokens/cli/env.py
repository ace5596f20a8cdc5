"""``lacework-tokens env``: the connection settings of a backend started here, again.

The first start of ``serve`` prints an ``export LW_…`` line once. This prints it again from what
the backend left in its state directory (the admin API key file and ``server.json``), so a
restart or a new terminal needs nothing typed by hand::

    eval "$(lacework-tokens env)"

On a terminal the secret is left out (it would sit in the scrollback a second time) unless
``--show-secret`` is given; piped, as ``eval "$(…)"`` reads it, the line is complete.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from lacework_tokens import wire
from lacework_tokens.cli.output import EXIT_FAILURE, EXIT_OK, print_error, program
from lacework_tokens.state_dir import (
    DEFAULT_DB,
    DEFAULT_URL,
    key_file_name,
    recorded_server,
    state_dir_of,
)

__all__ = ["add_env_command", "export_line"]


class _EnvError(Exception):
    """Why the settings cannot be printed."""


def export_line(variables: list[tuple[str, str]]) -> str:
    return "export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in variables)


def _key_file(args: argparse.Namespace, state_dir: Path, recorded: Path | None) -> Path:
    if args.key_file is not None:
        return Path(args.key_file)
    if recorded is not None:
        return recorded
    found = sorted(state_dir.glob(key_file_name("*")))
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(path.name for path in found)
        raise _EnvError(f"{state_dir} holds several API key files ({names}): pass --key-file")
    raise _EnvError(
        f"no API key file in {state_dir}: run this where the backend was started (make run), "
        "or pass --db or --key-file (a backend started with --api-key keeps no key file)"
    )


def _read_key(path: Path) -> wire.ApiKeyFile:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _EnvError(
            f"no API key file at {path}: run this where the backend was started (make run), "
            "or pass --db or --key-file"
        ) from None
    except OSError as exc:
        raise _EnvError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    except ValueError:
        raise _EnvError(f"{path} is not an API key file (not JSON)") from None
    try:
        return wire.parse(data, wire.ApiKeyFile)
    except wire.WireError as exc:
        raise _EnvError(f"{path} is not an API key file: {exc}") from None


def _env(args: argparse.Namespace) -> int:
    try:
        state_dir = state_dir_of(args.db)
        record = recorded_server(state_dir)
        recorded_key = Path(record.key_file) if record and record.key_file else None
        key = _read_key(_key_file(args, state_dir, recorded_key))
    except _EnvError as exc:
        print_error(str(exc), "env")
        return EXIT_FAILURE
    if record is None:
        print(
            f"No backend has recorded its address in {state_dir}; assuming {DEFAULT_URL}.",
            file=sys.stderr,
        )
    hide_secret = sys.stdout.isatty() and not args.show_secret
    variables = [("LW_ACCOUNT", key.account)]
    if key.sub_account:
        variables.append(("LW_SUBACCOUNT", key.sub_account))
    variables.append(("LW_API_KEY", key.key_id))
    if not hide_secret:
        variables.append(("LW_API_SECRET", key.secret))
    variables.append(("LW_API_SERVER_URL", record.url if record else DEFAULT_URL))
    print(export_line(variables))
    if record is not None and record.certificate:
        print(
            export_line(
                [("REQUESTS_CA_BUNDLE", record.certificate), ("SSL_CERT_FILE", record.certificate)]
            )
        )
    if hide_secret:
        again = f"{program()} env" + (f" --db {shlex.quote(args.db)}" if args.db else "")
        print(
            f'LW_API_SECRET is left out on a terminal. Set every variable with: eval "$({again})"'
            " (or add --show-secret to print it)",
            file=sys.stderr,
        )
    return EXIT_OK


def add_env_command(subparsers: Any) -> None:
    """Register ``env``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "env",
        help='print the LW_* variables for the backend started here (eval "$(… env)")',
        description="Print the export line of LW_ACCOUNT, LW_API_KEY, LW_API_SECRET and "
        "LW_API_SERVER_URL for the backend whose state is in this directory (its admin API key "
        "file and the address it last listened on), plus REQUESTS_CA_BUNDLE and SSL_CERT_FILE "
        'for a self-signed certificate. Use it as: eval "$(lacework-tokens env)". On a '
        "terminal the secret is left out unless --show-secret is given.",
    )
    parser.add_argument(
        "--db",
        default=None,
        help=f"the backend's --db, which locates its state directory (default: {DEFAULT_DB})",
    )
    parser.add_argument(
        "--key-file",
        default=None,
        metavar="FILE",
        help="the API key file to use (default: the one the backend saved)",
    )
    parser.add_argument(
        "--show-secret", action="store_true", help="print LW_API_SECRET even on a terminal"
    )
    parser.set_defaults(handler=_env)

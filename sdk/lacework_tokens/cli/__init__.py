"""The ``lacework-tokens`` command line: one module per command group.

- ``tokens``: ``token`` (the agent-token lifecycle through the SDK)
- ``env``: ``env`` (the connection settings of a backend started here, to ``eval``)
- ``agents``: ``agent`` (enroll, check in and simulate as an agent; list as ``lacework agent``)
- ``serve``: ``serve`` (the backend)
- ``admin``: ``keys``, ``accounts`` and ``audit`` (administering the backend's database)
- ``terraform``: ``terraform install`` (the provider plugin)
- ``output``: what they all print the same way: tables, JSON, errors, exit codes

``token`` and ``env`` need only the SDK; the others need an extra (``[server]``,
``[terraform]``), and say which, with the command that installs it, when it is missing. A failure
is one line on stderr and a non-zero exit; a traceback never reaches the user, nor does a broken
pipe (``token list --json | head``).

``--json`` and the connection options of ``token`` (``-a/--account``, ``-k/--api_key``,
``-s/--api_secret``, ``-p/--profile``, …) may also come before the command, as Lacework's CLI
takes its global flags.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Final, NamedTuple

from lacework_tokens import __version__
from lacework_tokens.cli.output import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    missing_extra,
    print_error,
    print_help,
    stdout_closed,
)

Handler = Callable[[argparse.Namespace], int]


class Extra(NamedTuple):
    """What a command needs beyond the SDK."""

    needed_for: str
    name: str
    modules: tuple[str, ...]  # top-level import names that show the extra is installed


_ADMIN: Final = Extra("administering the backend's database", "server", ("cryptography",))
EXTRA_NEEDED: Final = {
    "serve": Extra("the backend", "server", ("uvicorn", "httptools", "cryptography")),
    "keys": _ADMIN,
    "accounts": _ADMIN,
    "audit": _ADMIN,
    "terraform": Extra(
        "the Terraform plugin", "terraform", ("tf", "grpc", "msgpack", "cryptography")
    ),
}


def build_parser() -> argparse.ArgumentParser:
    from lacework_tokens.cli.admin import add_accounts_command, add_audit_command, add_keys_command
    from lacework_tokens.cli.agents import add_agent_command
    from lacework_tokens.cli.env import add_env_command
    from lacework_tokens.cli.serve import add_serve_command
    from lacework_tokens.cli.terraform import add_terraform_command
    from lacework_tokens.cli.tokens import GLOBAL_PREFIX, add_connection_options, add_token_command
    from lacework_tokens.review.command import add_review_command

    parser = argparse.ArgumentParser(
        prog="lacework-tokens",
        description="Lacework agent access tokens as code: a local API v2 backend, "
        "the token lifecycle from the command line, and a Terraform provider.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--json",
        dest=GLOBAL_PREFIX + "json",
        action="store_true",
        help="print JSON for scripts (commands that can)",
    )
    add_connection_options(
        parser,
        default=None,
        dest_prefix=GLOBAL_PREFIX,
        title="connection, for the token command (also accepted after it)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_serve_command(commands)
    add_token_command(commands)
    add_env_command(commands)
    add_agent_command(commands)
    add_keys_command(commands)
    add_accounts_command(commands)
    add_audit_command(commands)
    add_terraform_command(commands)
    add_review_command(commands)
    return parser


def _global_options_problem(args: argparse.Namespace) -> str | None:
    """Options given before a command that does not take them; applies ``--json`` there."""
    from lacework_tokens.cli.tokens import CONNECTION_SETTINGS, GLOBAL_PREFIX

    if getattr(args, GLOBAL_PREFIX + "json", False):
        if not hasattr(args, "json"):
            return f"--json does not apply to '{args.command}'"
        args.json = True
    if args.command == "review" and getattr(args, "profile", None) is None:
        # review --live reads only a profile; take one given before the command too.
        args.profile = getattr(args, GLOBAL_PREFIX + "profile", None)
        setattr(args, GLOBAL_PREFIX + "profile", None)
    if args.command != "token":
        given = [s for s in CONNECTION_SETTINGS if getattr(args, GLOBAL_PREFIX + s) is not None]
        if given:
            return (
                f"--{given[0]} before the command applies to 'token' only; "
                f"'{args.command}' takes its own options after its name"
            )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        return print_help(parser)
    usage = _global_options_problem(args)
    if usage is not None:
        parser.print_usage(sys.stderr)
        print_error(usage)
        return EXIT_USAGE
    extra = EXTRA_NEEDED.get(args.command)
    problem = missing_extra(extra.name, extra.modules, extra.needed_for) if extra else None
    if problem is not None:
        print_error(problem, args.command)
        return EXIT_FAILURE
    try:
        status = handler(args)
        sys.stdout.flush()  # a reader that went away is noticed here, not at exit
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return stdout_closed()
    return status

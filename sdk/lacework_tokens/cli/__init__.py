"""The ``lacework-tokens`` command line: one module per command group.

- ``tokens``: ``token`` (the agent-token lifecycle through the SDK)
- ``agents``: ``agent`` (enroll, check in and simulate as an agent; list as ``lacework agent``)
- ``serve``: ``serve`` (the backend)
- ``admin``: ``keys``, ``accounts`` and ``audit`` (administering the backend's database)
- ``terraform``: ``terraform install`` (the provider plugin)
- ``output``: what they all print the same way: tables, JSON, errors, exit codes

``token`` needs only the SDK; the others need an extra (``[server]``, ``[terraform]``), and say
which, with the command that installs it, when it is missing. A failure is one line on stderr
and a non-zero exit; a traceback never reaches the user.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Final, NamedTuple

from lacework_tokens import __version__
from lacework_tokens.cli.output import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    missing_extra,
    print_error,
    print_help,
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
    from lacework_tokens.cli.serve import add_serve_command
    from lacework_tokens.cli.terraform import add_terraform_command
    from lacework_tokens.cli.tokens import add_token_command
    from lacework_tokens.review.command import add_review_command

    parser = argparse.ArgumentParser(
        prog="lacework-tokens",
        description="Lacework agent access tokens as code: a local API v2 backend, "
        "the token lifecycle from the command line, and a Terraform provider.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_serve_command(commands)
    add_token_command(commands)
    add_agent_command(commands)
    add_keys_command(commands)
    add_accounts_command(commands)
    add_audit_command(commands)
    add_terraform_command(commands)
    add_review_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        return print_help(parser)
    extra = EXTRA_NEEDED.get(args.command)
    problem = missing_extra(extra.name, extra.modules, extra.needed_for) if extra else None
    if problem is not None:
        print_error(problem, args.command)
        return EXIT_FAILURE
    try:
        return handler(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED

"""The ``lacework-tokens`` command line.

Each face registers its own sub-commands: ``serve`` (the backend), ``keys``, ``accounts`` and
``audit`` (administering the backend's database), ``token`` (the agent-token lifecycle through
the SDK) and ``terraform`` (installing the provider plugin). A failure is one
line on stderr and a non-zero exit; a traceback never reaches the user.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from lacework_tokens import __version__

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    from lacework_tokens.cli.admin import add_accounts_command, add_audit_command, add_keys_command
    from lacework_tokens.cli.serve import add_serve_command
    from lacework_tokens.cli.terraform import add_terraform_command
    from lacework_tokens.cli.tokens import add_token_command

    parser = argparse.ArgumentParser(
        prog="lacework-tokens",
        description="Lacework agent access tokens as code: a local API v2 backend, "
        "the token lifecycle from the command line, and a Terraform provider.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_serve_command(commands)
    add_token_command(commands)
    add_keys_command(commands)
    add_accounts_command(commands)
    add_audit_command(commands)
    add_terraform_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

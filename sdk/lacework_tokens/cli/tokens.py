"""``lacework-tokens token ...``: the agent-token lifecycle from the command line.

Mirrors ``lacework agent token list|show|create|update|enable|disable``, plus ``delete`` (the
soft delete the Terraform provider performs). Token values are masked unless ``--show-token``
is given. Connection settings come from the options, else ``LW_*`` variables, else the profile in
``~/.lacework.toml``. A failure is one ``error: ...`` line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

from lacework_tokens import limits, wire
from lacework_tokens.cli.delivery import add_delivery_commands
from lacework_tokens.cli.output import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    print_error,
    print_help,
    print_json,
    print_table,
)
from lacework_tokens.client import Client
from lacework_tokens.errors import LaceworkError
from lacework_tokens.wire import AgentAccessToken

__all__ = ["add_token_command"]

TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S UTC"
CONNECTION_OPTIONS: Final = (
    ("--profile", "profile", "profile in ~/.lacework.toml (env: LW_PROFILE; default: [default])"),
    ("--account", "account", "Lacework account (env: LW_ACCOUNT)"),
    ("--subaccount", "subaccount", "sub-account (env: LW_SUBACCOUNT)"),
    ("--api-key", "api_key", "API key id (env: LW_API_KEY)"),
    ("--api-secret", "api_secret", "API secret (env: LW_API_SECRET)"),
    ("--base-url", "base_url", "server URL (env: LW_API_SERVER_URL; default: the account's)"),
)

Action = Callable[[Client, argparse.Namespace], int]


# --- output ---------------------------------------------------------------------------------


def _shown(token: AgentAccessToken, show_token: bool) -> str:
    return token.token if show_token else wire.mask(token.token)


def _when(value: datetime) -> str:
    return value.strftime(TIME_FORMAT)


def _as_json(token: AgentAccessToken, show_token: bool) -> dict[str, Any]:
    data: dict[str, Any] = wire.converter.unstructure(token)
    data["accessToken"] = _shown(token, show_token)
    return data


def _print_list(tokens: Sequence[AgentAccessToken], show_token: bool) -> None:
    header = ("NAME", "TOKEN", "OS", "ENABLED", "CREATED", "UPDATED")
    rows = [
        (
            t.name,
            _shown(t, show_token),
            t.os,
            "yes" if t.enabled else "no",
            _when(t.created_time),
            _when(t.last_updated_time),
        )
        for t in tokens
    ]
    print_table([header, *rows])


def _print_details(token: AgentAccessToken, show_token: bool) -> None:
    # Label and value in two columns, no header.
    print_table(
        [
            ("NAME", token.name),
            ("TOKEN", _shown(token, show_token)),
            ("DESCRIPTION", token.description),
            ("OS", token.os),
            ("ENABLED", "yes" if token.enabled else "no"),
            ("CREATED", _when(token.created_time)),
            ("UPDATED", _when(token.last_updated_time)),
            ("VERSION", token.version),
        ]
    )


def _print_token(token: AgentAccessToken, args: argparse.Namespace) -> None:
    if args.json:
        print_json(_as_json(token, args.show_token), sort_keys=True)
    else:
        _print_details(token, args.show_token)


def _reveal_hint(token: AgentAccessToken, args: argparse.Namespace) -> None:
    if not args.show_token and not args.json:
        print(
            f"\nThe token value is masked. Reveal it with: "
            f"lacework-tokens token show --name {_quote(token.name)} --show-token",
            file=sys.stderr,
        )


def _quote(text: str) -> str:
    safe = all(c.isalnum() or c in "-_.:/@" for c in text) and text
    return text if safe else "'" + text.replace("'", "'\\''") + "'"


# --- actions --------------------------------------------------------------------------------


def _list(client: Client, args: argparse.Namespace) -> int:
    tokens = sorted(client.agent_tokens.list(), key=lambda t: (t.name, t.created_time))
    if args.json:
        print_json([_as_json(t, args.show_token) for t in tokens], sort_keys=True)
    elif not tokens:
        print("There are no agent access tokens.")
    else:
        _print_list(tokens, args.show_token)
    return EXIT_OK


def _show(client: Client, args: argparse.Namespace) -> int:
    if args.name:
        found = client.agent_tokens.find(args.name)
        if found is None:
            raise _NotFound(f"Agent access token with name '{args.name}' was not found.")
        token = found
    else:
        token = client.agent_tokens.get(args.token)
    _print_token(token, args)
    return EXIT_OK


def _create(client: Client, args: argparse.Namespace) -> int:
    token = client.agent_tokens.create(
        args.name, description=args.description, os=args.os, enabled=not args.disabled
    )
    _print_token(token, args)
    _reveal_hint(token, args)
    return EXIT_OK


def _update(client: Client, args: argparse.Namespace) -> int:
    token = client.agent_tokens.update(args.token, name=args.name, description=args.description)
    _print_token(token, args)
    return EXIT_OK


def _enable(client: Client, args: argparse.Namespace) -> int:
    _print_token(client.agent_tokens.enable(args.token), args)
    return EXIT_OK


def _disable(client: Client, args: argparse.Namespace) -> int:
    _print_token(client.agent_tokens.disable(args.token), args)
    return EXIT_OK


def _delete(client: Client, args: argparse.Namespace) -> int:
    token = client.agent_tokens.soft_delete(args.token)
    _print_token(token, args)
    if not args.json:
        print(
            f"\nDisabled and renamed to '{token.name}': Lacework keeps every token, "
            "so a delete frees the name and stops agents from using the token.",
            file=sys.stderr,
        )
    return EXIT_OK


class _UsageError(Exception):
    """A combination of options argparse cannot express; exit status 2."""


class _NotFound(Exception):
    """A lookup by name found nothing; exit status 1."""


def _check_usage(args: argparse.Namespace) -> None:
    """What argparse cannot express, checked before connecting to anything."""
    if args.token_command == "show":
        if args.token and args.name:
            raise _UsageError("give either TOKEN or --name, not both")
        if not args.token and not args.name:
            raise _UsageError("give a TOKEN or --name NAME")
    if args.token_command == "update" and args.name is None and args.description is None:
        raise _UsageError("nothing to update: give --name and/or --description")


def _runner(action: Action) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            _check_usage(args)
            with Client.from_env(
                args.profile,
                account=args.account,
                subaccount=args.subaccount,
                api_key=args.api_key,
                api_secret=args.api_secret,
                base_url=args.base_url,
            ) as client:
                return action(client, args)
        except _UsageError as exc:
            print_error(str(exc), "token")
            return EXIT_USAGE
        except (LaceworkError, _NotFound) as exc:
            print_error(str(exc))
            return EXIT_FAILURE
        except OSError as exc:
            # e.g. stdout closed by `| head`; the message names no secret.
            print_error(exc.strerror or type(exc).__name__)
            return EXIT_FAILURE

    return run


# --- parser ---------------------------------------------------------------------------------


def _add_connection_options(parser: argparse.ArgumentParser, *, default: Any) -> None:
    group = parser.add_argument_group("connection (optional over LW_* variables and profiles)")
    for flag, dest, help_text in CONNECTION_OPTIONS:
        group.add_argument(flag, dest=dest, default=default, metavar=dest.upper(), help=help_text)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--show-token",
        action="store_true",
        help="print token values in full (they are masked by default)",
    )
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    # Also accepted after the sub-command; SUPPRESS keeps a value given before it.
    _add_connection_options(common, default=argparse.SUPPRESS)
    return common


def add_token_command(subparsers: Any) -> None:
    """Register ``token`` and its sub-commands on the top-level parser's sub-commands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "token",
        help="manage agent access tokens (list, show, create, update, enable, disable, delete)",
        description="Manage Lacework agent access tokens through the API, on the real "
        "service or a local backend. Token values are masked unless --show-token is given.",
    )
    _add_connection_options(parser, default=None)
    parser.set_defaults(handler=lambda _: print_help(parser))
    commands = parser.add_subparsers(dest="token_command", metavar="COMMAND")
    common = _common()

    def command(name: str, action: Action, help_text: str, description: str) -> Any:
        sub = commands.add_parser(name, parents=[common], help=help_text, description=description)
        sub.set_defaults(handler=_runner(action))
        return sub

    command(
        "list",
        _list,
        "list agent access tokens",
        "List every agent access token of the account as a table (or --json).",
    )

    show = command(
        "show",
        _show,
        "show one agent access token",
        "Show one agent access token, by its value or by its exact --name.",
    )
    show.add_argument("token", nargs="?", metavar="TOKEN", help="the token value")
    show.add_argument("--name", help="find the token by its exact name instead")

    create = command(
        "create",
        _create,
        "create an agent access token",
        "Create an agent access token. Names are unique within an account.",
    )
    create.add_argument("name", metavar="NAME", help="the token's name (its alias)")
    create.add_argument("--description", default="", help="what the token is for")
    create.add_argument(
        "--os", default=limits.DEFAULT_OS, help="agent OS: linux (default) or windows"
    )
    create.add_argument("--disabled", action="store_true", help="create the token disabled")

    update = command(
        "update",
        _update,
        "rename a token or change its description",
        "Change a token's name and/or description; what is not given stays as it is.",
    )
    update.add_argument("token", metavar="TOKEN", help="the token value")
    update.add_argument("--name", default=None, help="the new name")
    update.add_argument("--description", default=None, help="the new description")

    for name, action, verb in (
        ("enable", _enable, "enable"),
        ("disable", _disable, "disable"),
    ):
        sub = command(
            name,
            action,
            f"{verb} an agent access token",
            f"{verb.capitalize()} an agent access token. Agents using a disabled token can "
            "no longer communicate with Lacework.",
        )
        sub.add_argument("token", metavar="TOKEN", help="the token value")

    delete = command(
        "delete",
        _delete,
        "soft-delete an agent access token (disable and rename it)",
        "Tokens cannot be deleted through the API: disable the token and rename it to "
        "<name>-<5 random characters>-deleted, as the Terraform provider does on destroy. "
        "The name becomes free for a new token.",
    )
    delete.add_argument("token", metavar="TOKEN", help="the token value")

    add_delivery_commands(command)  # config, install-command (cli/delivery.py)

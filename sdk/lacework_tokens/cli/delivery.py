"""``lacework-tokens token config|install-command|rotate|retire``: delivering a token to agents
and moving them to another.

- ``token config NAME|TOKEN``: the agent's ``config.json`` for the token. ``-o FILE`` writes it
  with mode 0600 (an existing file keeps its other properties); without ``-o`` it is printed with
  the token masked, in full only with ``--show-token``.
- ``token install-command NAME|TOKEN``: the line that installs a Linux agent with the token
  (Lacework's ``install.sh``), masked unless ``--show-token``.
- ``token rotate NAME|TOKEN``: the token's successor (``rotation.py``), created or, when a
  rotation already made it, found again.
- ``token retire NAME|TOKEN [--idle-for 7d] [--force] [--check]``: disable the token once no
  agent enrolled with it checked in within the window; ``--check`` only says whether it could.

A token is named by its name or its value. The commands are registered on ``token`` by
``cli/tokens.py`` through ``add_delivery_commands``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Final

from lacework_tokens import delivery, limits, wire
from lacework_tokens.cli.output import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    print_error,
    print_json,
    print_table,
    program,
)
from lacework_tokens.client import Client
from lacework_tokens.errors import NotFoundError
from lacework_tokens.rotation import DEFAULT_IDLE_FOR, Retirement, Rotation, activity
from lacework_tokens.wire import KEEP, AgentAccessToken

__all__ = ["add_delivery_commands", "resolve_token"]

Action = Callable[[Client, argparse.Namespace], int]
# ``command(name, action, help, description)`` from cli/tokens.py: a sub-command of ``token``
# with the shared options (connection, --json, --show-token) and its error handling.
CommandFactory = Callable[[str, Action, str, str], Any]

# A value this long is shown masked when a lookup fails: it may be another account's token.
_MASK_FROM_LENGTH: Final = 24


class TokenNotFound(LookupError):
    """Neither a token of that name nor of that value exists."""


def resolve_token(client: Client, reference: str) -> AgentAccessToken:
    """The token named ``reference``, else the token whose value it is."""
    found = client.agent_tokens.find(reference)
    if found is not None:
        return found
    if limits.is_printable_token_value(reference):
        try:
            return client.agent_tokens.import_token(reference)
        except NotFoundError:
            pass
    shown = wire.mask(reference) if len(reference) >= _MASK_FROM_LENGTH else reference
    raise TokenNotFound(f"No agent access token is named '{shown}' or has that value.")


def parse_tags(pairs: Sequence[str]) -> dict[str, str]:
    """``["env=prod", "team=payments"]`` as a dict; ``ValueError`` for a pair without a name."""
    tags: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise ValueError(f"--tag takes NAME=VALUE, not {pair!r}")
        tags[name] = value
    return tags


def _guarded(command: str, action: Action) -> Action:
    """``action`` with its own refusals (a value the agent or install.sh could not use, a name
    that matches no token) as one error line, like every other failure of ``token``."""

    def run(client: Client, args: argparse.Namespace) -> int:
        try:
            return action(client, args)
        except _Usage as exc:
            print_error(str(exc), f"token {command}")
            return EXIT_USAGE
        except (TokenNotFound, ValueError) as exc:
            print_error(str(exc), f"token {command}")
            return EXIT_FAILURE

    return run


class _Usage(ValueError):
    """The command line asks for something impossible; exit status 2."""


def _warn_if_disabled(token: AgentAccessToken) -> None:
    if not token.enabled:
        print(
            f"warning: '{token.name}' is disabled: agents using it cannot communicate.",
            file=sys.stderr,
        )


# --- actions --------------------------------------------------------------------------------


def _config(client: Client, args: argparse.Namespace) -> int:
    try:
        tags = parse_tags(args.tag)
        autoupgrade = None if args.autoupgrade is None else args.autoupgrade == "enable"
        # Checked before any request, with a stand-in value.
        delivery.agent_config(
            "0" * 2, server_url=args.server_url, proxy_url=args.proxy_url, tags=tags
        )
    except ValueError as exc:
        raise _Usage(str(exc)) from None
    token = resolve_token(client, args.reference)
    config = delivery.agent_config(
        token,
        server_url=args.server_url,
        proxy_url=args.proxy_url,
        autoupgrade=autoupgrade,
        tags=tags,
    )
    _warn_if_disabled(token)
    if args.output:
        updated = config.write(args.output)
        done = "Updated" if updated else "Wrote"
        kept = ", other properties kept" if updated else ""
        print(
            f"{done} {args.output} (mode 0600{kept}) with the token of '{token.name}'.",
            file=sys.stderr,
        )
        return EXIT_OK
    if args.show_token:
        sys.stdout.write(config.to_json())
        return EXIT_OK
    # A hidden value must not look like one: the token is null, as in every --json output.
    hidden = config.as_dict()
    hidden["tokens"][delivery.ACCESS_TOKEN_KEY] = None
    print_json(hidden)
    path = delivery.CONFIG_PATHS.get(token.os, delivery.CONFIG_PATHS[limits.DEFAULT_OS])
    print(
        f"\nThe token value is hidden. Write the file with -o FILE (mode 0600; agents read "
        f"{path}), or print it in full with --show-token.",
        file=sys.stderr,
    )
    return EXIT_OK


def _install_command(client: Client, args: argparse.Namespace) -> int:
    if args.server_url is not None:
        problem = delivery.install_script_server_url_problem(args.server_url)
        if problem is not None:
            raise _Usage(problem)
    token = resolve_token(client, args.reference)
    line = delivery.install_command(token, server_url=args.server_url, script_url=args.script_url)
    _warn_if_disabled(token)
    if args.show_token:
        print(line)
    else:
        print(line.replace(token.token, wire.mask(token.token)))
        print(
            "\nThe token value is masked. Print the line in full with --show-token.",
            file=sys.stderr,
        )
    return EXIT_OK


def _token_json(token: AgentAccessToken, show_token: bool) -> dict[str, Any]:
    data: dict[str, Any] = wire.converter.unstructure(token)
    data["accessToken"] = token.token if show_token else None
    return data


def _print_rotation(rotation: Rotation, args: argparse.Namespace) -> None:
    if args.json:
        print_json(
            {
                "old": _token_json(rotation.old, args.show_token),
                "new": _token_json(rotation.new, args.show_token),
                "created": rotation.created,
            },
            sort_keys=True,
        )
        if not args.show_token:
            print(
                "accessToken is null: token values are shown only with --show-token",
                file=sys.stderr,
            )
        return
    rows = [("", "NAME", "TOKEN", "OS", "ENABLED")]
    for label, token in (("old", rotation.old), ("new", rotation.new)):
        shown = token.token if args.show_token else wire.mask(token.token)
        rows.append((label, token.name, shown, token.os, "yes" if token.enabled else "no"))
    print_table(rows)


def _rotate(client: Client, args: argparse.Namespace) -> int:
    old = resolve_token(client, args.reference)
    rotation = client.agent_tokens.rotate(
        old,
        new_name=args.new_name,
        description=args.description,
        expires_in=KEEP if args.expires_in is None else timedelta(seconds=args.expires_in),
        max_enrollments=KEEP if args.max_enrollments is None else args.max_enrollments,
        scope=KEEP if args.scope is None else args.scope,
    )
    _print_rotation(rotation, args)
    if not args.json:
        done = "Created" if rotation.created else "Found (from an earlier run of this rotation)"
        print(
            f"\n{done} '{rotation.new.name}', the successor of '{rotation.old.name}'. Move the "
            f"agents to it ({program()} token config|install-command {rotation.new.name}), "
            f"then: {program()} token retire {rotation.old.name}",
            file=sys.stderr,
        )
    return EXIT_OK


def _print_retirement(retirement: Retirement, args: argparse.Namespace) -> None:
    token = retirement.token
    if args.json:
        print_json(
            {
                "token": _token_json(token, args.show_token),
                "changed": retirement.changed,
                "forced": retirement.forced,
                "activeAgents": [agent.hostname for agent in retirement.active],
            },
            sort_keys=True,
        )
        return
    shown = token.token if args.show_token else wire.mask(token.token)
    print_table([("TOKEN", shown), ("NAME", token.name), ("STATE", token.state.capitalize())])


def _retire(client: Client, args: argparse.Namespace) -> int:
    idle_for = timedelta(seconds=args.idle_for)
    window = limits.duration_words(args.idle_for)
    token = resolve_token(client, args.reference)
    if args.check:
        if not token.enabled:
            print(f"'{token.name}' is disabled already.")
            return EXIT_OK
        seen = activity(client.agent_tokens, client.agents, token, idle_for)
        if seen.agents:
            raise seen.in_use_error(token, idle_for)
        print(
            f"No agent enrolled with '{token.name}' checked in within the last {window}: "
            "it can be retired."
        )
        return EXIT_OK
    retirement = client.agent_tokens.retire(token, idle_for=idle_for, force=args.force)
    _print_retirement(retirement, args)
    if not args.json:
        name = retirement.token.name
        if not retirement.changed:
            said = f"'{name}' was disabled already: nothing changed."
        elif retirement.forced:
            count = len(retirement.active)
            said = (
                f"Retired '{name}' although {count} agent{'' if count == 1 else 's'} checked in "
                f"within the last {window} (forced; the audit trail says so). They can no "
                "longer communicate."
            )
        else:
            said = (
                f"Retired '{name}': no agent enrolled with it checked in within the last {window}."
            )
        print(f"\n{said}", file=sys.stderr)
    return EXIT_OK


def _enrollments(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    problem = limits.max_enrollments_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{text!r}: {problem}")
    return value


def _duration(text: str) -> int:
    seconds = limits.duration_seconds(text)
    if seconds is None:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a duration such as 90s, 15m, 24h, 7d or 2w"
        )
    return seconds


# --- parser ---------------------------------------------------------------------------------


def add_delivery_commands(command: CommandFactory) -> None:
    """Register ``config``, ``install-command``, ``rotate`` and ``retire`` through ``token``'s
    command factory."""
    config = command(
        "config",
        _guarded("config", _config),
        "the agent config.json for a token",
        "The config.json a Lacework agent reads its token from (/var/lib/lacework/config/"
        "config.json on Linux, C:\\ProgramData\\Lacework\\config.json on Windows). -o FILE "
        "writes it with mode 0600 and keeps the other properties of an existing file; without "
        "-o it is printed with the token masked unless --show-token is given.",
    )
    config.add_argument("reference", metavar="NAME|TOKEN", help="the token's name or value")
    config.add_argument(
        "--server-url",
        help="where the agent sends data (serverurl; e.g. https://api.fra.lacework.net)",
    )
    config.add_argument("--proxy-url", help="the proxy the agent uses (proxyurl)")
    config.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a tag for the agent (repeatable)",
    )
    config.add_argument(
        "--autoupgrade",
        choices=("enable", "disable"),
        help="whether the agent upgrades itself (Lacework's default: enable)",
    )
    config.add_argument(
        "-o", "--output", metavar="FILE", help="write the file (mode 0600) instead of printing"
    )

    install = command(
        "install-command",
        _guarded("install-command", _install_command),
        "the line that installs a Linux agent with a token",
        "Print the line that installs a Lacework Linux agent with the token: "
        "curl -sSL https://packages.lacework.net/install.sh | sudo sh -s -- TOKEN [-U URL]. "
        "The token is masked unless --show-token is given.",
    )
    install.add_argument("reference", metavar="NAME|TOKEN", help="the token's name or value")
    install.add_argument(
        "--server-url",
        help="install.sh's -U: the agent server of the account's region (https://….lacework.net)",
    )
    install.add_argument(
        "--script-url",
        default=delivery.INSTALL_SCRIPT_URL,
        help=f"the install script (default: {delivery.INSTALL_SCRIPT_URL})",
    )

    rotate = command(
        "rotate",
        _guarded("rotate", _rotate),
        "create a token's successor (resumable)",
        "Create the successor of a token: same description and OS, both enabled, so agents can "
        "move to it before the old token is retired. The successor is named --new-name, by "
        "default the name with its generation raised (prod -> prod-v2, prod-v2 -> prod-v3). "
        "Run again after an interruption, it finds the successor instead of making another.",
    )
    rotate.add_argument("reference", metavar="NAME|TOKEN", help="the token to rotate")
    rotate.add_argument("--new-name", help="the successor's name (default: <name>-v<N+1>)")
    rotate.add_argument("--description", help="the successor's description (default: the old)")
    policy = rotate.add_argument_group(
        "enrollment policy (default: the old token's; a successor expires as long after its "
        "creation as the old one did)"
    )
    policy.add_argument(
        "--expires-in", type=_duration, metavar="15m|24h|7d", help="refuse enrollments after this"
    )
    policy.add_argument(
        "--max-enrollments", type=_enrollments, metavar="N", help="how many agents may enroll"
    )
    policy.add_argument("--scope", metavar="GROUP", help="the asset group enrolled agents join")

    retire = command(
        "retire",
        _guarded("retire", _retire),
        "disable a token once no agent uses it",
        "Disable a token once no agent enrolled with it has checked in within --idle-for "
        "(default 7d); while some have, say how many, when the last one did and which hosts, "
        "and change nothing. --force disables it anyway (the audit trail records that it was "
        "forced). --check only says whether it could be retired now.",
    )
    retire.add_argument("reference", metavar="NAME|TOKEN", help="the token to retire")
    retire.add_argument(
        "--idle-for",
        type=_duration,
        default=int(DEFAULT_IDLE_FOR.total_seconds()),
        metavar="DURATION",
        help="how long agents must have been silent: 90s, 15m, 24h, 7d (default), 2w",
    )
    mode = retire.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true", help="retire it even while agents use it")
    mode.add_argument("--check", action="store_true", help="only say whether it could be retired")

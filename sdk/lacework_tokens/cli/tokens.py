"""``lacework-tokens token ...``: the agent-token lifecycle from the command line.

Mirrors ``lacework agent token list|show|create|update`` (``create NAME [DESCRIPTION] [OS]``,
``update TOKEN --enable|--disable|--name|--description``, a TOKEN, NAME, STATE table), plus
``search``, ``enable``, ``disable`` and ``delete`` (the soft delete the Terraform provider
performs). Token values are masked in tables and ``null`` in JSON unless ``--show-token``.

Connection settings (``-a/--account``, ``-k/--api_key``, ``-s/--api_secret``, ``-p/--profile``,
…) and ``--json`` are accepted before ``token``, after it, or after the sub-command; the last one
given wins over ``LW_*`` variables, which win over the profile in ``~/.lacework.toml``. A failure
is one ``lacework-tokens token <command>: error: ...`` line on stderr and exit status 1 (2 for a
command line that cannot work).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from lacework_tokens import errors, limits, wire
from lacework_tokens.cli.delivery import add_delivery_commands
from lacework_tokens.cli.output import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    PROGRAM,
    duration_seconds,
    max_enrollments,
    print_error,
    print_help,
    print_json,
    print_table,
    program,
    table_time,
)
from lacework_tokens.client import Client, RetryNotice
from lacework_tokens.errors import InvalidRequestError, NotFoundError
from lacework_tokens.wire import AgentAccessToken, Expression, SearchFilter, TokenUsage

__all__ = [
    "CONNECTION_SETTINGS",
    "add_connection_options",
    "add_token_command",
    "connection_setting",
]

# (option strings, setting, help): the official CLI's global flags, plus this project's spellings.
CONNECTION_OPTIONS: Final = (
    (("-p", "--profile"), "profile", "profile in ~/.lacework.toml (env: LW_PROFILE)"),
    (("-a", "--account"), "account", "account, as in <ACCOUNT>.lacework.net (env: LW_ACCOUNT)"),
    (("--subaccount",), "subaccount", "sub-account to act in (env: LW_SUBACCOUNT)"),
    (("-k", "--api_key", "--api-key"), "api_key", "API key id (env: LW_API_KEY)"),
    (("-s", "--api_secret", "--api-secret"), "api_secret", "API secret (env: LW_API_SECRET)"),
    (
        ("--api_token", "--api-token"),
        "api_token",
        "access token, instead of key and secret (env: LW_API_TOKEN)",
    ),
    (
        ("--base-url",),
        "base_url",
        "server URL, e.g. http://127.0.0.1:8080 (env: LW_API_SERVER_URL; "
        "default: https://<ACCOUNT>.lacework.net)",
    ),
)
CONNECTION_SETTINGS: Final = tuple(setting for _, setting, _ in CONNECTION_OPTIONS)
# Where the top-level parser keeps connection options given before ``token``.
GLOBAL_PREFIX: Final = "global_"
STATES: Final = ("enabled", "disabled", "deleted", "expired", "used-up")
HIDDEN_VALUES_NOTE: Final = "accessToken is null: token values are shown only with --show-token"
# A retry loop is mentioned once it has kept the user waiting longer than this.
RETRY_NOTICE_AFTER_SECONDS: Final = 1.0

Action = Callable[[Client, argparse.Namespace], int]


class _UsageError(Exception):
    """A command line that cannot work, found before connecting; exit status 2."""


class _Refused(Exception):
    """Something the command will not do as asked (and says what would); exit status 1."""


# --- output ---------------------------------------------------------------------------------


def _shown(token: AgentAccessToken, show_token: bool) -> str:
    return token.token if show_token else wire.mask(token.token)


def _as_json(
    token: AgentAccessToken, show_token: bool, usage: TokenUsage | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = wire.converter.unstructure(token)
    # A hidden value must not look like one: `jq -r .accessToken` gives null, not "2096…e812".
    data["accessToken"] = token.token if show_token else None
    if usage is not None:
        shown = wire.converter.unstructure(usage)
        del shown["accessToken"]
        data["usage"] = {**shown, "state": _state(token, usage)}
    return data


def _print_tokens_json(
    tokens: Sequence[AgentAccessToken], show_token: bool, usage: dict[str, TokenUsage]
) -> None:
    print_json([_as_json(t, show_token, usage.get(t.token)) for t in tokens], sort_keys=True)
    if tokens and not show_token:
        print(HIDDEN_VALUES_NOTE, file=sys.stderr)


def _usage(client: Client, tokens: Sequence[AgentAccessToken]) -> dict[str, TokenUsage]:
    """Agents per token where the server counts them (this project's backend); nothing from a
    server without the usage extension."""
    if not tokens:
        return {}
    try:
        return client.agent_tokens.usage_of([t.token for t in tokens])
    except (NotFoundError, InvalidRequestError):
        return {}


def _state(token: AgentAccessToken, usage: TokenUsage | None) -> str:
    """enabled, disabled, deleted (soft-deleted), expired (no new enrollment) or used up
    (max_enrollments reached)."""
    if token.soft_deleted:
        return "deleted"
    if not token.enabled:
        return "disabled"
    if token.expired():
        return "expired"
    if usage is not None and usage.used_up(token):
        return "used up"
    return "enabled"


def _figures(usage: TokenUsage | None) -> tuple[str, str, str]:
    if usage is None:
        return ("-", "-", "-")
    last = table_time(usage.last_checkin) if usage.last_checkin else "never"
    return (str(usage.enrolled), str(usage.active), last)


def _print_list(
    tokens: Sequence[AgentAccessToken], show_token: bool, usage: dict[str, TokenUsage]
) -> None:
    # Lacework's CLI lists TOKEN, NAME, STATE; the rest are this project's additions.
    header = (
        "TOKEN",
        "NAME",
        "STATE",
        "OS",
        "CREATED AT",
        "UPDATED AT",
        "AGENTS",
        "ACTIVE (24H)",
        "LAST CHECK-IN",
    )
    rows = [
        (
            _shown(t, show_token),
            t.name,
            _state(t, usage.get(t.token)).capitalize(),
            t.os,
            table_time(t.created_time),
            table_time(t.last_updated_time),
            *_figures(usage.get(t.token)),
        )
        for t in tokens
    ]
    print_table([header, *rows])


def _print_details(
    token: AgentAccessToken, show_token: bool, usage: TokenUsage | None = None
) -> None:
    # Label and value in two columns, no header, as `lacework agent token show` prints them.
    rows = [
        ("TOKEN", _shown(token, show_token)),
        ("NAME", token.name),
        ("DESCRIPTION", token.description),
        ("OS", token.os),
        ("VERSION", token.version),
        ("STATE", _state(token, usage).capitalize()),
        ("CREATED AT", table_time(token.created_time)),
        ("UPDATED AT", table_time(token.last_updated_time)),
        ("EXPIRES", table_time(token.expires_at) if token.expires_at else "never"),
        ("MAX ENROLLMENTS", str(token.max_enrollments or "unlimited")),
        ("SCOPE", token.scope or "-"),
    ]
    if usage is not None:
        enrolled, active, last = _figures(usage)
        rows += [("AGENTS", enrolled), ("ACTIVE (24H)", active), ("LAST CHECK-IN", last)]
    print_table(rows)


def _print_token(
    token: AgentAccessToken, args: argparse.Namespace, usage: TokenUsage | None = None
) -> None:
    if args.json:
        print_json(_as_json(token, args.show_token, usage), sort_keys=True)
        if not args.show_token:
            print(HIDDEN_VALUES_NOTE, file=sys.stderr)
    else:
        _print_details(token, args.show_token, usage)


def _reveal_hint(token: AgentAccessToken, args: argparse.Namespace) -> None:
    if not args.show_token and not args.json:
        print(
            f"\nThe token value is masked. Reveal it with: "
            f"{program()} token show --name {_quote(token.name)} --show-token",
            file=sys.stderr,
        )


def _quote(text: str) -> str:
    safe = all(c.isalnum() or c in "-_.:/@" for c in text) and text
    return text if safe else "'" + text.replace("'", "'\\''") + "'"


def as_typed(value: str) -> str:
    """A token value the user typed, shown so they can spot a typo without it being usable:
    its first and last four characters (one each when it is short), and its length."""
    if len(value) > 8:
        shown = f"{value[:4]}…{value[-4:]}"
    elif len(value) >= 3:
        shown = f"{value[0]}…{value[-1]}"
    else:
        shown = "*" * len(value)
    return f"'{shown}' ({len(value)} characters)"


# --- actions --------------------------------------------------------------------------------


def _selected(
    tokens: Sequence[AgentAccessToken], states: Sequence[str] | None, usage: dict[str, TokenUsage]
) -> list[AgentAccessToken]:
    chosen = [
        t for t in tokens if not states or _state(t, usage.get(t.token)).replace(" ", "-") in states
    ]
    return sorted(chosen, key=lambda t: (t.name, t.created_time))


def _print_selection(
    tokens: Sequence[AgentAccessToken], args: argparse.Namespace, usage: dict[str, TokenUsage]
) -> None:
    if args.json:
        _print_tokens_json(tokens, args.show_token, usage)
    elif tokens:
        _print_list(tokens, args.show_token, usage)
    elif args.state:
        print(f"There are no {' or '.join(args.state)} agent access tokens.")
    else:
        print(
            "There are no agent access tokens. "
            f"Try creating one with '{program()} token create NAME'."
        )


def _list(client: Client, args: argparse.Namespace) -> int:
    tokens = client.agent_tokens.list()
    usage = _usage(client, tokens)
    _print_selection(_selected(tokens, args.state, usage), args, usage)
    return EXIT_OK


def _search(client: Client, args: argparse.Namespace) -> int:
    filters = [_filter(*given) for given in args.filter]
    tokens = client.agent_tokens.search(filters)
    usage = _usage(client, tokens)
    _print_selection(_selected(tokens, args.state, usage), args, usage)
    return EXIT_OK


def _filter(field: str, expression: str, value: str) -> SearchFilter:
    """``--filter FIELD EXPRESSION VALUE`` as the API's search filter (``in``: VALUE a,b,c).

    The server owns which fields can be searched, and names them when given another."""
    try:
        chosen = Expression(expression)
    except ValueError:
        raise _UsageError(
            f"unknown expression {expression!r}: one of {', '.join(e.value for e in Expression)}"
        ) from None
    if chosen is Expression.IN:
        return SearchFilter(field, chosen, values=tuple(v for v in value.split(",") if v))
    return SearchFilter(field, chosen, value)


def _show(client: Client, args: argparse.Namespace) -> int:
    if args.name:
        found = client.agent_tokens.find(args.name)
        if found is None:
            raise _Refused(f"Agent access token with name '{args.name}' was not found")
        token = found
    else:
        token = client.agent_tokens.get(args.token)
    _print_token(token, args, _usage(client, [token]).get(token.token))
    return EXIT_OK


def _create(client: Client, args: argparse.Namespace) -> int:
    expires_at = None
    if args.expires_in is not None:
        expires_at = datetime.now(UTC) + timedelta(seconds=args.expires_in)
    token = client.agent_tokens.create(
        args.name,
        description=args.description_flag or args.description or "",
        os=args.os_flag or args.os or limits.DEFAULT_OS,
        enabled=not args.disabled,
        expires_at=expires_at,
        max_enrollments=args.max_enrollments,
        scope=args.scope,
    )
    _print_token(token, args)
    _reveal_hint(token, args)
    return EXIT_OK


def _refuse_to_revive(token: AgentAccessToken) -> None:
    """Enabling a soft-deleted token is rarely meant: ask for --force or the name back."""
    former = limits.name_before_soft_delete(token.name) or token.name
    raise _Refused(
        f"agent access token '{token.name}' is deleted, and enabling it would put it back in "
        f"use under that name: give it its name back as you enable it with "
        f"'{program()} token update TOKEN --enable --name {_quote(former)}', or pass --force "
        "to enable it as it is"
    )


def _update(client: Client, args: argparse.Namespace) -> int:
    enabled = True if args.enable else False if args.disable else None
    if enabled and args.name is None and not args.force:
        current = client.agent_tokens.get(args.token)
        if current.soft_deleted:
            _refuse_to_revive(current)
    token = client.agent_tokens.update(
        args.token, name=args.name, description=args.description, enabled=enabled
    )
    _print_token(token, args)
    return EXIT_OK


def _enable(client: Client, args: argparse.Namespace) -> int:
    if not args.force:
        current = client.agent_tokens.get(args.token)
        if current.soft_deleted:
            _refuse_to_revive(current)
    _print_token(client.agent_tokens.enable(args.token), args)
    return EXIT_OK


def _disable(client: Client, args: argparse.Namespace) -> int:
    _print_token(client.agent_tokens.disable(args.token), args)
    return EXIT_OK


def _delete(client: Client, args: argparse.Namespace) -> int:
    current = client.agent_tokens.get(args.token)
    if current.soft_deleted:
        _print_token(current, args)
        print(
            f"\nAgent access token '{current.name}' is already deleted: nothing changed.",
            file=sys.stderr,
        )
        return EXIT_OK
    token = client.agent_tokens.soft_delete(args.token, name=current.name)
    _print_token(token, args)
    if not args.json:
        print(
            f"\nDisabled and renamed to '{token.name}': Lacework keeps every token, "
            "so a delete frees the name and stops agents from using the token.",
            file=sys.stderr,
        )
    return EXIT_OK


def _check_usage(args: argparse.Namespace) -> None:
    """What argparse cannot express, checked before connecting to anything."""
    command = args.token_command
    if command == "show":
        if args.token and args.name:
            raise _UsageError("give either TOKEN or --name, not both")
        if not args.token and not args.name:
            raise _UsageError("give a TOKEN or --name NAME")
    if command == "create":
        if args.description is not None and args.description_flag is not None:
            raise _UsageError("give the description once: as DESCRIPTION or --description")
        if args.os is not None and args.os_flag is not None:
            raise _UsageError("give the OS once: as OS or --os")
    if command == "update" and not any(
        (args.enable, args.disable, args.name is not None, args.description is not None)
    ):
        raise _UsageError("nothing to update: give --enable, --disable, --name or --description")
    if command == "search":
        for given in args.filter:
            _filter(*given)


def connection_setting(args: argparse.Namespace, name: str) -> Any:
    """A connection option given after ``token`` (or its sub-command), else before it."""
    given = getattr(args, name, None)
    return given if given is not None else getattr(args, GLOBAL_PREFIX + name, None)


class _RetryLine:
    """Says once, on stderr, that a call is being retried, when the wait passes a second."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.said = False

    def __call__(self, notice: RetryNotice) -> None:
        if self.said or notice.elapsed + notice.wait <= RETRY_NOTICE_AFTER_SECONDS:
            return
        self.said = True
        print(f"{PROGRAM} {self.command}: {notice}…", file=sys.stderr, flush=True)


def _not_found(exc: errors.NotFoundError, args: argparse.Namespace) -> str:
    typed = getattr(args, "token", None)
    if not typed:
        return str(exc)
    return f"[404] Agent access token {as_typed(typed)} was not found"


def _runner(action: Action) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        command = f"token {args.token_command}"
        try:
            _check_usage(args)
            with Client.from_env(
                connection_setting(args, "profile"),
                **{name: connection_setting(args, name) for name in CONNECTION_SETTINGS[1:]},
                on_retry=_RetryLine(command),
            ) as client:
                return action(client, args)
        except _UsageError as exc:
            print_error(str(exc), command)
            return EXIT_USAGE
        except errors.NotFoundError as exc:
            print_error(_not_found(exc, args), command)
            return EXIT_FAILURE
        except (errors.LaceworkError, _Refused) as exc:
            print_error(str(exc), command)
            return EXIT_FAILURE

    return run


# --- parser ---------------------------------------------------------------------------------


def add_connection_options(
    parser: argparse.ArgumentParser, *, default: Any, dest_prefix: str = "", title: str = ""
) -> None:
    """The connection options on ``parser``; ``default=argparse.SUPPRESS`` keeps a value given
    on an enclosing parser."""
    group = parser.add_argument_group(
        title or "connection (over LW_* variables and the profile in ~/.lacework.toml)"
    )
    for flags, setting, help_text in CONNECTION_OPTIONS:
        group.add_argument(
            *flags,
            dest=dest_prefix + setting,
            default=default,
            metavar=setting.upper(),
            help=help_text,
        )


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--show-token",
        action="store_true",
        help="print token values in full (masked in tables and null in JSON by default)",
    )
    # Also accepted before the sub-command; SUPPRESS keeps a value given there.
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts"
    )
    add_connection_options(common, default=argparse.SUPPRESS)
    return common


def _add_listing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state",
        action="append",
        choices=STATES,
        help="only tokens in this state (repeat for several); deleted means soft-deleted",
    )


def add_token_command(subparsers: Any) -> None:
    """Register ``token`` and its sub-commands on the top-level parser's sub-commands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "token",
        aliases=["tokens"],
        help="manage agent access tokens (list, search, show, create, update, enable, disable, "
        "delete)",
        description="Manage Lacework agent access tokens through the API, on the real "
        "service or a local backend. Token values are masked unless --show-token is given.",
    )
    parser.add_argument("--json", action="store_true", default=False, help="print JSON for scripts")
    add_connection_options(parser, default=None)
    parser.set_defaults(handler=lambda _: print_help(parser), command="token")
    commands = parser.add_subparsers(dest="token_command", metavar="COMMAND")
    common = _common()

    def command(name: str, action: Action, help_text: str, description: str, **extra: Any) -> Any:
        sub = commands.add_parser(
            name, parents=[common], help=help_text, description=description, **extra
        )
        sub.set_defaults(handler=_runner(action), token_command=name)
        return sub

    listing = command(
        "list",
        _list,
        "list agent access tokens",
        "List the agent access tokens of the account: TOKEN, NAME, STATE (Enabled, Disabled, "
        "or Deleted for a soft-deleted token), OS and times, or --json.",
        aliases=["ls"],
    )
    _add_listing_options(listing)

    expressions = ", ".join(e.value for e in Expression)
    search = command(
        "search",
        _search,
        "find agent access tokens by name, state, OS, description or creation time",
        "Search agent access tokens with the API's filters; every --filter must match. "
        "FIELD as the API names it: tokenAlias, tokenEnabled, props.os, props.description, "
        f"createdTime (the server lists them when given another). EXPRESSION: {expressions}. "
        "For like and ilike, %% matches any "
        "text and _ one character; for in, VALUE is a comma-separated list; tokenEnabled is 0 "
        "or 1; createdTime is an RFC 3339 time. Example: "
        "search --filter tokenAlias like 'prod-%%' --filter props.os eq linux",
    )
    search.add_argument(
        "--filter",
        nargs=3,
        action="append",
        required=True,
        metavar=("FIELD", "EXPRESSION", "VALUE"),
        help="one condition; repeat for more",
    )
    _add_listing_options(search)

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
        "Create an agent access token: create NAME [DESCRIPTION] [OS], as Lacework's CLI, or "
        "with --description and --os. Names are unique within an account.",
    )
    create.add_argument("name", metavar="NAME", help="the token's name (its alias)")
    create.add_argument(
        "description", nargs="?", default=None, metavar="DESCRIPTION", help="what it is for"
    )
    create.add_argument(
        "os", nargs="?", default=None, metavar="OS", help="agent OS: linux (default) or windows"
    )
    create.add_argument(
        "--description",
        dest="description_flag",
        default=None,
        metavar="DESCRIPTION",
        help="what the token is for",
    )
    create.add_argument(
        "--os",
        dest="os_flag",
        default=None,
        metavar="OS",
        help="agent OS: linux (default) or windows",
    )
    create.add_argument("--disabled", action="store_true", help="create the token disabled")
    policy = create.add_argument_group(
        "enrollment policy (this project's extension; Lacework ignores it)"
    )
    policy.add_argument(
        "--expires-in",
        type=duration_seconds,
        default=None,
        metavar="15m|24h|7d",
        help="refuse enrollments after this long (enrolled agents keep checking in)",
    )
    policy.add_argument(
        "--max-enrollments",
        type=max_enrollments,
        default=None,
        metavar="N",
        help="how many agents may enroll with the token (1: single-use)",
    )
    policy.add_argument(
        "--scope", default=None, metavar="GROUP", help="the asset group enrolled agents join"
    )

    update = command(
        "update",
        _update,
        "enable, disable, rename a token or change its description",
        "Update an agent access token; what is not given stays as it is. Enabling a "
        "soft-deleted token needs --name (its name back) or --force.",
    )
    update.add_argument("token", metavar="TOKEN", help="the token value")
    switch = update.add_mutually_exclusive_group()
    switch.add_argument("--enable", action="store_true", help="enable the token")
    switch.add_argument("--disable", action="store_true", help="disable the token")
    update.add_argument("--name", default=None, help="the new name")
    update.add_argument("--description", default=None, help="the new description")
    update.add_argument(
        "--force", action="store_true", help="enable a soft-deleted token under its deleted name"
    )

    enable = command(
        "enable",
        _enable,
        "enable an agent access token",
        "Enable an agent access token. A soft-deleted token is enabled only with --force "
        "(or rename it back: update TOKEN --enable --name NAME).",
    )
    enable.add_argument("token", metavar="TOKEN", help="the token value")
    enable.add_argument(
        "--force", action="store_true", help="enable a soft-deleted token under its deleted name"
    )

    disable = command(
        "disable",
        _disable,
        "disable an agent access token",
        "Disable an agent access token. Agents using a disabled token can no longer "
        "communicate with Lacework.",
    )
    disable.add_argument("token", metavar="TOKEN", help="the token value")

    delete = command(
        "delete",
        _delete,
        "soft-delete an agent access token (disable and rename it)",
        "Tokens cannot be deleted through the API: disable the token and rename it to "
        "<name>-<5 random characters>-deleted, as the Terraform provider does on destroy. "
        "The name becomes free for a new token. Deleting a deleted token changes nothing.",
    )
    delete.add_argument("token", metavar="TOKEN", help="the token value")

    add_delivery_commands(command)  # config, install-command (cli/delivery.py)

"""``lacework-tokens agent ...``: agents, as an agent and as an administrator.

- ``enroll TOKEN --hostname NAME [--os linux|windows] [--tag KEY=VALUE]… [--scope GROUP]`` plays
  an agent enrolling with a token: it prints the new ``mid`` (and nothing else) and keeps the
  agent's ``config.json`` (``{"tokens": {"AccessToken": …}, "serverurl": …}``, mode 0600) under
  ``--state-dir`` for ``checkin``; a refusal is one line with the server's reason and exit 1.
- ``checkin MID`` checks that agent in with the token it enrolled with (or ``--token``).
- ``simulate TOKEN --count N`` enrolls a fleet (and checks it in ``--checkins`` times), for
  demonstrations and load.
- ``list`` mirrors ``lacework agent list``: its columns, the last 7 days, ``--filter key:value``
  (a regular expression matching the whole value, as the official CLI sends it), plus
  ``--token NAME|VALUE`` for the agents of one token.

The agent commands talk to ``--server-url`` (default ``LW_API_SERVER_URL``) with the token alone;
``list`` uses an API key like ``token``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from lacework_tokens import limits, wire
from lacework_tokens.cli.output import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    print_error,
    print_help,
    print_json,
    print_table,
)
from lacework_tokens.cli.tokens import (
    CONNECTION_SETTINGS,
    add_connection_options,
    connection_setting,
)
from lacework_tokens.errors import LaceworkError
from lacework_tokens.files import write_private

__all__ = ["AGENT_STATE_DIR", "LIST_COLUMNS", "add_agent_command", "parse_filter"]

AGENT_STATE_DIR: Final = Path(".lacework-tokens") / "agents"
# ``lacework agent list``'s columns, as its table prints them.
LIST_COLUMNS: Final = (
    "MID",
    "STATUS",
    "AGENT VERSION",
    "HOSTNAME",
    "NAME",
    "INTERNAL IP",
    "EXTERNAL IP",
    "OS ARCH",
    "LAST CHECK-IN",
    "CREATED TIME",
)
_NO_SERVER: Final = "no server: give --server-url or set LW_API_SERVER_URL"


class _UsageError(Exception):
    """A command line that cannot work; exit status 2."""


# --- helpers --------------------------------------------------------------------------------


def _server_url(args: argparse.Namespace) -> str:
    url: str | None = args.server_url or os.environ.get("LW_API_SERVER_URL")
    if not url:
        raise _UsageError(_NO_SERVER)
    return url.rstrip("/")


def _state_file(state_dir: Path, server_url: str, mid: int) -> Path:
    """Where an enrolled agent's config.json is kept: per server, per mid."""
    server = re.sub(r"[^A-Za-z0-9.-]", "_", urlsplit(server_url).netloc or server_url)
    return state_dir / server / f"{mid}" / "config.json"


def _tags(pairs: Sequence[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise _UsageError(f"--tag {pair!r}: expected KEY=VALUE")
        tags[key] = value
    return tags


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_filter(text: str) -> wire.SearchFilter:
    """``key:value`` as ``lacework agent list --filter`` sends it: ``rlike`` on the key."""
    key, colon, value = text.partition(":")
    if not colon or not key or not value:
        raise _UsageError(f"--filter {text!r}: expected key:value, e.g. 'hostname:db-.*'")
    return wire.SearchFilter(key, wire.Expression.RLIKE, value)


def _connection(args: argparse.Namespace) -> Any:
    from lacework_tokens.enrollment import AgentConnection

    return AgentConnection(_server_url(args))


# --- the agent's side -----------------------------------------------------------------------


def _enroll(args: argparse.Namespace) -> int:
    with _connection(args) as connection:
        agent = connection.enroll(
            args.token,
            args.hostname,
            os=args.os,
            arch=args.arch,
            tags=_tags(args.tag),
            scope=args.scope,
        )
    config = {
        "tokens": {"AccessToken": args.token},
        "serverurl": connection.base_url,
        "mid": agent.mid,
    }
    write_private(
        _state_file(args.state_dir, connection.base_url, agent.mid),
        json.dumps(config, indent=2) + "\n",
    )
    print(agent.mid)
    return EXIT_OK


def _checkin(args: argparse.Namespace) -> int:
    token = args.token
    server = args.server_url or os.environ.get("LW_API_SERVER_URL")
    if token is None:
        if not server:
            raise _UsageError(_NO_SERVER)
        saved = _state_file(args.state_dir, server.rstrip("/"), args.mid)
        if not saved.is_file():
            raise _UsageError(
                f"no token for agent {args.mid}: it was not enrolled from here "
                f"({saved.parent} is missing); give --token"
            )
        config = json.loads(saved.read_text(encoding="utf-8"))
        token = config["tokens"]["AccessToken"]
    with _connection(args) as connection:
        agent = connection.checkin(token, args.mid)
    if args.json:
        print_json(wire.converter.unstructure(agent))
    else:
        print(f"agent {agent.mid} ({agent.hostname}) checked in at {_when(agent.last_update)}")
    return EXIT_OK


def _simulate(args: argparse.Namespace) -> int:
    from lacework_tokens.enrollment import AgentConnection

    server = _server_url(args)
    local = threading.local()
    refusals: list[str] = []
    lock = threading.Lock()

    def connection() -> AgentConnection:
        found: AgentConnection | None = getattr(local, "connection", None)
        if found is None:
            found = local.connection = AgentConnection(server)
        return found

    def attempt(action: Callable[[], wire.Agent]) -> wire.Agent | None:
        try:
            return action()
        except LaceworkError as exc:
            with lock:
                refusals.append(str(exc))
            return None

    def enroll(index: int) -> wire.Agent | None:
        hostname = f"{args.hostname_prefix}-{index + 1}"
        tags = {"Name": hostname, **_tags(args.tag)}
        return attempt(
            lambda: connection().enroll(
                args.token, hostname, os=args.os, tags=tags, scope=args.scope
            )
        )

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        enrolled = [agent for agent in pool.map(enroll, range(args.count)) if agent]
        took = time.perf_counter() - started
        mids = sorted(agent.mid for agent in enrolled)
        span = f" (mids {mids[0]} to {mids[-1]})" if mids else ""
        print(
            f"Enrolled {len(enrolled)} of {args.count} agents{span} in {took:.2f} s: "
            f"{len(enrolled) / took if took else 0:.0f}/s."
        )
        if args.checkins and enrolled:
            started = time.perf_counter()
            rounds = [agent.mid for _ in range(args.checkins) for agent in enrolled]
            done = list(
                pool.map(lambda mid: attempt(lambda: connection().checkin(args.token, mid)), rounds)
            )
            took = time.perf_counter() - started
            ok = sum(1 for agent in done if agent)
            print(f"Checked in {ok} of {len(rounds)} times in {took:.2f} s: {ok / took:.0f}/s.")
    if refusals:
        print_error(f"{len(refusals)} refused; the first: {refusals[0]}", "agent simulate")
        return EXIT_FAILURE
    return EXIT_OK


# --- the administrator's side ----------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    from lacework_tokens.client import Client

    filters = [parse_filter(text) for text in args.filter]
    since = timedelta(days=args.days)
    with Client.from_env(
        connection_setting(args, "profile"),
        **{name: connection_setting(args, name) for name in CONNECTION_SETTINGS[1:]},
    ) as client:
        token_value = None
        if args.token is not None:
            found = client.agent_tokens.find(args.token)
            if found is not None:
                token_value = found.token
            elif len(args.token) >= limits.TOKEN_SHORT_LENGTH:
                token_value = args.token
            else:
                print_error(
                    f"Agent access token with name '{args.token}' was not found.", "agent list"
                )
                return EXIT_FAILURE
        agents = list(client.agents.list(since, token=token_value, filters=filters))
    agents.sort(key=lambda agent: agent.last_update, reverse=True)
    if args.json:
        print_json([wire.converter.unstructure(agent) for agent in agents])
        return EXIT_OK
    if not agents:
        if filters or args.token is not None:
            print("No agents found with the provided filter(s).")
        else:
            print(
                "There are no agents running in your account.\n\nTry enrolling one with "
                "'lacework-tokens agent enroll TOKEN --hostname NAME'."
            )
        return EXIT_OK
    rows = [
        (
            str(agent.mid),
            agent.status,
            agent.agent_version,
            agent.hostname,
            agent.name,
            agent.tags.get("InternalIp", ""),
            agent.tags.get("ExternalIp", ""),
            agent.os_arch,
            _when(agent.last_update),
            _when(agent.created_time),
        )
        for agent in agents
    ]
    print_table([LIST_COLUMNS, *rows])
    return EXIT_OK


# --- parser ---------------------------------------------------------------------------------


def _runner(action: Callable[[argparse.Namespace], int], command: str) -> Callable[..., int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return action(args)
        except _UsageError as exc:
            print_error(str(exc), command)
            return EXIT_USAGE
        except LaceworkError as exc:
            print_error(str(exc), command)
            return EXIT_FAILURE
        except OSError as exc:
            print_error(exc.strerror or type(exc).__name__, command)
            return EXIT_FAILURE

    return run


def _agent_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server-url",
        default=None,
        help="the server agents talk to (default: LW_API_SERVER_URL)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("LW_AGENT_STATE_DIR") or AGENT_STATE_DIR),
        help="where enrolled agents keep their config.json "
        f"(env: LW_AGENT_STATE_DIR; default: {AGENT_STATE_DIR})",
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


def add_agent_command(subparsers: Any) -> None:
    """Register ``agent`` and its sub-commands on the top-level parser's sub-commands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "agent",
        help="agents: enroll, check in, simulate a fleet, list (as lacework agent list)",
        description="Play agents that enroll and check in with an agent access token, and "
        "list the agents of the account as Lacework's AgentInfo shows them.",
    )
    parser.set_defaults(handler=lambda _: print_help(parser))
    commands = parser.add_subparsers(dest="agent_command", metavar="COMMAND")

    enroll = commands.add_parser(
        "enroll",
        help="enroll an agent with a token; prints its mid",
        description="Enroll an agent with an agent access token and print its mid. The token "
        "must be enabled, not expired, not used up, and grant --scope if it is given.",
    )
    enroll.add_argument("token", metavar="TOKEN", help="the agent access token value")
    enroll.add_argument("--hostname", required=True, help="the agent's host name")
    enroll.add_argument("--os", choices=limits.OS_VALUES, default=limits.DEFAULT_OS)
    enroll.add_argument("--arch", default="amd64", help="the agent's architecture")
    enroll.add_argument(
        "--tag", action="append", default=[], metavar="KEY=VALUE", help="a tag (repeatable)"
    )
    enroll.add_argument("--scope", default=None, help="the asset group the agent asks to join")
    _agent_options(enroll)
    enroll.set_defaults(handler=_runner(_enroll, "agent enroll"))

    checkin = commands.add_parser(
        "checkin",
        help="check an enrolled agent in",
        description="Check agent MID in with the token it enrolled with from here (or --token).",
    )
    checkin.add_argument("mid", type=_positive, metavar="MID", help="the agent's mid")
    checkin.add_argument("--token", default=None, help="the agent's token value")
    checkin.add_argument("--json", action="store_true", help="print the agent as JSON")
    _agent_options(checkin)
    checkin.set_defaults(handler=_runner(_checkin, "agent checkin"))

    simulate = commands.add_parser(
        "simulate",
        help="enroll a fleet of agents with one token",
        description="Enroll COUNT agents named <prefix>-1 … with a token, from --concurrency "
        "threads, and check each in --checkins times; prints the rates.",
    )
    simulate.add_argument("token", metavar="TOKEN", help="the agent access token value")
    simulate.add_argument("--count", type=_positive, required=True, help="how many agents")
    simulate.add_argument("--checkins", type=int, default=0, help="check-ins per agent")
    simulate.add_argument("--hostname-prefix", default="sim", help="host names: PREFIX-N")
    simulate.add_argument("--os", choices=limits.OS_VALUES, default=limits.DEFAULT_OS)
    simulate.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    simulate.add_argument("--scope", default=None, help="the asset group agents ask to join")
    simulate.add_argument("--concurrency", type=_positive, default=8, help="threads")
    _agent_options(simulate)
    simulate.set_defaults(handler=_runner(_simulate, "agent simulate"))

    listing = commands.add_parser(
        "list",
        help="list agents (lacework agent list)",
        description="List the agents seen in the last --days days (7), newest check-in first, "
        "in the columns of lacework agent list. --filter key:value matches the whole value "
        "as a regular expression, e.g. 'hostname:db-.*', 'status:ACTIVE', 'tags.Env:prod'.",
    )
    listing.add_argument(
        "--filter", action="append", default=[], metavar="KEY:VALUE", help="repeatable"
    )
    listing.add_argument("--token", default=None, metavar="NAME|VALUE", help="one token's agents")
    listing.add_argument("--days", type=_positive, default=7, help="how far back (default: 7)")
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_connection_options(listing, default=None)
    listing.set_defaults(handler=_runner(_list, "agent list"))

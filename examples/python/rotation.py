"""Rotate an agent access token without cutting off a single agent: rotate, move, retire.

Lacework's advice for rotating a token is to create a new one, move every agent to it, and only
then disable the old one. This script does all of it that an API can do, and is safe to run
again and again (from cron, CI, or by hand) until the rotation is complete:

1. ``rotate``: find or create the successor of the token named NAME (``NAME-v2``, or
   ``--new-name``), with the same description, OS and enrollment policy. A run that was
   interrupted is resumed: there is never a second successor.
2. ``--config-out FILE``: write the successor's agent ``config.json`` (mode 0600; an existing
   file keeps its other properties) for whatever delivers it to the machines.
3. ``retire``: disable the old token, but only once no agent enrolled with it has checked in
   within ``--idle-for`` (default 7 days). While some still do, nothing is disabled: the report
   names them, and the exit status is 3 ("run me again later").

    eval "$(.venv/bin/lacework-tokens env)"     # or: export LW_ACCOUNT=... LW_API_KEY=... etc.
    .venv/bin/python examples/python/rotation.py prod --config-out /etc/lacework/config.json

The report is JSON on stdout (token values masked unless ``--show-token``); progress goes to
stderr. Exit status: 0 when the old token is retired (now or before), 3 while agents still use
it, 1 on any error, 2 for a command line that cannot work.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from lacework_tokens import (
    AgentAccessToken,
    Client,
    LaceworkError,
    TokenInUseError,
    agent_config,
    limits,
    wire,
)

EXIT_RETIRED = 0
EXIT_WAITING = 3


def summary(token: AgentAccessToken, show_token: bool) -> dict[str, Any]:
    return {
        "name": token.name,
        "token": token.token if show_token else wire.mask(token.token),
        "enabled": token.enabled,
        "os": token.os,
        "description": token.description,
    }


def rotate_and_retire(client: Client, args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    tokens = client.agent_tokens
    old = tokens.find(args.name)
    if old is None:
        raise SystemExit(f"error: no agent access token is named {args.name!r}")

    rotation = tokens.rotate(old, new_name=args.new_name)
    step = "created" if rotation.created else "found (an earlier run created it)"
    print(f"successor of {old.name!r}: {rotation.new.name!r}, {step}", file=sys.stderr)

    if args.config_out is not None:
        config = agent_config(rotation.new, server_url=args.server_url)
        config.write(args.config_out)
        print(f"wrote the successor's config.json to {args.config_out}", file=sys.stderr)

    report: dict[str, Any] = {"successorCreated": rotation.created}
    idle_for = timedelta(seconds=args.idle_for)
    try:
        retirement = tokens.retire(old, idle_for=idle_for, force=args.force)
    except TokenInUseError as in_use:
        print(f"waiting: {in_use.message}", file=sys.stderr)
        report.update(
            state="waiting",
            activeAgents=list(in_use.hostnames),
            lastCheckin=None
            if in_use.last_checkin is None
            else wire.format_time(in_use.last_checkin),
            old=summary(tokens.get(old.token), args.show_token),
            new=summary(rotation.new, args.show_token),
        )
        return EXIT_WAITING, report
    done = "retired" if retirement.changed else "already retired"
    print(f"{old.name!r} {done}", file=sys.stderr)
    report.update(
        state="retired",
        forced=retirement.forced,
        activeAgents=[agent.hostname for agent in retirement.active],
        old=summary(retirement.token, args.show_token),
        new=summary(rotation.new, args.show_token),
    )
    return EXIT_RETIRED, report


def duration(text: str) -> int:
    seconds = limits.duration_seconds(text)
    if seconds is None:
        raise argparse.ArgumentTypeError(f"{text!r}: expected 90s, 15m, 24h, 7d or 2w")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Rotate an agent access token: successor, config.json, retire when idle."
    )
    parser.add_argument("name", help="name of the token to rotate")
    parser.add_argument("--new-name", help="the successor's name (default: NAME-v2, …)")
    parser.add_argument(
        "--idle-for", type=duration, default=7 * 86400, help="silence before retiring (7d)"
    )
    parser.add_argument("--force", action="store_true", help="retire even while agents use it")
    parser.add_argument("--config-out", type=Path, help="write the successor's config.json")
    parser.add_argument("--server-url", help="serverurl in that config.json")
    parser.add_argument("--show-token", action="store_true", help="print token values in full")
    args = parser.parse_args(argv)
    try:
        with Client.from_env() as client:
            status, report = rotate_and_retire(client, args)
    except (LaceworkError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2, sort_keys=True))
    return status


if __name__ == "__main__":
    raise SystemExit(main())

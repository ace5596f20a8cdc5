"""Rotate an agent access token without a gap: create the successor, report, disable the old.

Lacework's advice for rotating a token is to create a new one, move the agents to it, and only
then disable the old one. This script does the API side of that, in an order that never leaves
the name without an enabled token behind it for agents to use:

1. find the token named NAME (it must be enabled);
2. create its successor (same description and OS) under a temporary name, enabled;
3. report both tokens (the successor's value in full only with ``--show-token``): this is where
   agents are moved to the successor;
4. disable the old token and rename it ``NAME-retired-<UTC timestamp>``;
5. give the successor the name NAME, so lookups by name (the Terraform data source, the CLI's
   ``show --name``) now find it.

    eval "$(.venv/bin/lacework-tokens env)"     # or: export LW_ACCOUNT=... LW_API_KEY=... etc.
    .venv/bin/python examples/python/rotation.py prod --show-token

The report is JSON on stdout (token values masked unless ``--show-token``); progress goes to
stderr. Exit status 1 on any error. A rotation that fails leaves nothing half-done: the names
it needs are checked before anything is created, a successor whose predecessor could not be
retired is deleted again, and if even that fails, the error says exactly which tokens are left
in which state.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from lacework_tokens import AgentAccessToken, Client, LaceworkError, wire


def summary(token: AgentAccessToken, show_token: bool) -> dict[str, Any]:
    return {
        "name": token.name,
        "token": token.token if show_token else wire.mask(token.token),
        "enabled": token.enabled,
        "os": token.os,
        "description": token.description,
        "createdTime": wire.format_time(token.created_time),
    }


def rotate(client: Client, name: str, show_token: bool) -> dict[str, Any]:
    tokens = client.agent_tokens
    old = tokens.find(name)
    if old is None:
        raise SystemExit(f"error: no agent access token is named {name!r}")
    if not old.enabled:
        raise SystemExit(f"error: {name!r} is disabled; rotate an enabled token")
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    next_name, retired_name = f"{name}-next-{stamp}", f"{name}-retired-{stamp}"
    for needed in (next_name, retired_name):
        if tokens.find(needed) is not None:
            raise SystemExit(
                f"error: a token named {needed!r} exists already (a rotation of {name!r} in this "
                "second?); nothing changed, try again in a second"
            )

    successor = tokens.create(next_name, description=old.description, os=old.os)
    # Both tokens are enabled now: agents can move to the successor before the old one stops.
    print(f"created the successor of {name!r}; disabling the old token", file=sys.stderr)

    try:
        retired = tokens.update(old.token, name=retired_name, enabled=False)
    except LaceworkError as exc:
        try:
            tokens.soft_delete(successor.token)
        except LaceworkError as undo:
            raise SystemExit(
                f"error: could not retire {name!r} ({exc}), nor delete its successor again "
                f"({undo}): left behind an enabled token {next_name!r} "
                f"({wire.mask(successor.token)}); {name!r} is unchanged"
            ) from None
        raise SystemExit(
            f"error: could not retire {name!r} ({exc}); its successor was deleted again, so "
            f"nothing is left enabled but {name!r}, unchanged"
        ) from None
    try:
        successor = tokens.update(successor.token, name=name)
    except LaceworkError as exc:
        raise SystemExit(
            f"error: {name!r} was retired (disabled, renamed {retired_name!r}) but its successor "
            f"could not take the name ({exc}): the successor is enabled as {next_name!r} "
            f"({wire.mask(successor.token)}); rename it to {name!r} to finish"
        ) from None
    print(f"{name!r} now names the successor", file=sys.stderr)
    return {"old": summary(retired, show_token), "new": summary(successor, show_token)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rotate an agent access token without a gap.")
    parser.add_argument("name", help="name of the token to rotate")
    parser.add_argument("--show-token", action="store_true", help="print the new value in full")
    args = parser.parse_args(argv)
    try:
        with Client.from_env() as client:
            report = rotate(client, args.name, args.show_token)
    except LaceworkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

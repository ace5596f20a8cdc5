"""Quickstart: the agent access token lifecycle with the lacework-tokens SDK.

Creates a token, lists and finds it, changes its description, disables and re-enables it, and
finally soft-deletes it (Lacework tokens cannot be deleted: they are disabled and renamed to
``<name>-<5 random>-deleted``, which frees the name). Pass ``--keep`` to leave the token enabled.

Configuration comes from the usual Lacework settings, so it runs against Lacework itself or
against a local backend (``make run``)::

    eval "$(.venv/bin/lacework-tokens env)"   # the backend `make run` started here; for Lacework
                                              # itself: export LW_ACCOUNT=... LW_API_KEY=... etc.
    .venv/bin/python examples/python/quickstart.py --name quickstart-example

Token values are printed masked; ``--show-token`` prints the value in full.
"""

from __future__ import annotations

import argparse
import sys

from lacework_tokens import AgentAccessToken, Client, LaceworkError, wire


def describe(token: AgentAccessToken, show_token: bool) -> str:
    value = token.token if show_token else wire.mask(token.token)
    state = "enabled" if token.enabled else "disabled"
    return f"{token.name} [{value}] os={token.os} {state} description={token.description!r}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--name", default="quickstart-example", help="name of the new token")
    parser.add_argument("--keep", action="store_true", help="do not soft-delete the token")
    parser.add_argument("--show-token", action="store_true", help="print token values in full")
    args = parser.parse_args(argv)

    try:
        with Client.from_env() as client:
            tokens = client.agent_tokens
            created = tokens.create(args.name, description="created by the quickstart")
            print("created:  ", describe(created, args.show_token))

            names = sorted(t.name for t in tokens.list())
            print(f"account has {len(names)} token(s)")

            found = tokens.find(args.name)
            assert found is not None and found.token == created.token
            print("found:    ", describe(found, args.show_token))

            updated = tokens.update(created.token, description="updated by the quickstart")
            print("updated:  ", describe(updated, args.show_token))
            print("disabled: ", describe(tokens.disable(created.token), args.show_token))
            print("enabled:  ", describe(tokens.enable(created.token), args.show_token))

            if not args.keep:
                deleted = tokens.soft_delete(created.token)
                print("deleted:  ", describe(deleted, args.show_token))
    except LaceworkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

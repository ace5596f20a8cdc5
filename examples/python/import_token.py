"""Import an existing agent access token by its value, as ``terraform import`` does.

The value is read from the ``LW_AGENT_TOKEN`` environment variable (preferred: it keeps the
secret out of the process list and shell history) or from the first argument. The token is
looked up and must come back with exactly that value; its name, state and times are printed,
with the value masked.

    eval "$(.venv/bin/lacework-tokens env)"     # or: export LW_ACCOUNT=... LW_API_KEY=... etc.
    LW_AGENT_TOKEN=<token value> .venv/bin/python examples/python/import_token.py

Exit status: 0 when found, 1 when not found or on any other error, 2 without a token value.
"""

from __future__ import annotations

import os
import sys

from lacework_tokens import Client, LaceworkError, wire


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    value = os.environ.get("LW_AGENT_TOKEN") or (args[0] if args else "")
    if not value:
        print(
            "usage: LW_AGENT_TOKEN=<token> import_token.py  (or: import_token.py TOKEN)",
            file=sys.stderr,
        )
        return 2
    try:
        with Client.from_env() as client:
            token = client.agent_tokens.import_token(value)
    except LaceworkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"imported {token.name!r}")
    print(f"  token:        {wire.mask(token.token)}")
    print(f"  enabled:      {'yes' if token.enabled else 'no'}")
    print(f"  os:           {token.os}")
    print(f"  description:  {token.description}")
    print(f"  created:      {wire.format_time(token.created_time)}")
    print(f"  last updated: {wire.format_time(token.last_updated_time)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

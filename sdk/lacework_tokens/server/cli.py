"""``lacework-tokens serve``: run the backend."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_serve_command"]


def _run_serve(args: argparse.Namespace) -> int:
    # Imported here: the other sub-commands should not pay for loading the server.
    from lacework_tokens.server.runner import ServeOptions, StartupError, serve

    options = ServeOptions(
        host=args.host,
        port=args.port,
        db=args.db,
        account=args.account,
        api_key=args.api_key,
        api_secret=args.api_secret,
        key_file=args.key_file,
        secrets_key=args.secrets_key,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_self_signed=args.tls_self_signed,
        log_level=args.log_level,
    )
    try:
        return serve(options)
    except StartupError as exc:
        print(f"lacework-tokens serve: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C before the server took over the signal handlers: still a clean stop.
        return 0


def add_serve_command(subparsers: Any) -> None:
    """Register ``serve`` on the top-level parser's sub-commands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the local Lacework API v2 backend for agent access tokens",
        description="Serve Lacework's API v2 agent-access-token endpoints from a local "
        "database. On the first start an admin API key is created and printed once.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    parser.add_argument(
        "--db",
        default=None,
        help="SQLite file or postgresql:// URL (default: .lacework-tokens/tokens.db)",
    )
    parser.add_argument("--account", default="local", help="account of the first API key")
    parser.add_argument("--api-key", default=None, help="make sure this admin API key id exists")
    parser.add_argument("--api-secret", default=None, help="the secret of --api-key")
    parser.add_argument(
        "--key-file",
        type=Path,
        default=None,
        help="where a generated API key is saved "
        "(default: .lacework-tokens/<account>-api-key.json)",
    )
    parser.add_argument(
        "--secrets-key",
        type=Path,
        default=None,
        help="key that seals token values at rest (default: secrets.key next to the database)",
    )
    parser.add_argument("--tls-cert", type=Path, default=None, help="TLS certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, default=None, help="TLS private key (PEM)")
    parser.add_argument(
        "--tls-self-signed",
        action="store_true",
        help="serve https with a generated certificate for 127.0.0.1, ::1 and localhost",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="debug also logs every request (token values masked)",
    )
    parser.set_defaults(handler=_run_serve)

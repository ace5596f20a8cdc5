"""``lacework-tokens serve``: run the backend."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Final

from lacework_tokens.cli.output import EXIT_FAILURE, EXIT_OK, print_error, program
from lacework_tokens.server.ratelimit import DEFAULT_KEY_RATE, DEFAULT_LOGIN_RATE

__all__ = ["API_SECRET_ENV", "add_serve_command", "positive_int"]

# Where ``serve --api-key`` finds its secret when not in a file: the environment of a process
# is readable by its user only, unlike its command line.
API_SECRET_ENV: Final = "LACEWORK_TOKENS_API_SECRET"


class _SecretError(Exception):
    """The API secret cannot be had as asked; the message is one line without the secret."""


def _api_secret(args: argparse.Namespace) -> str | None:
    """The secret of ``--api-key`` from exactly one of its three sources, or ``None``."""
    from_env = os.environ.get(API_SECRET_ENV)
    given = [
        name
        for name, value in (
            ("--api-secret", args.api_secret),
            ("--api-secret-file", args.api_secret_file),
            (API_SECRET_ENV, from_env),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise _SecretError(f"give the API secret one way only, not {' and '.join(given)}")
    if args.api_secret_file is not None:
        try:
            text = args.api_secret_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise _SecretError(f"--api-secret-file {args.api_secret_file}: {reason}") from None
        secret: str = text.rstrip("\r\n")
        return secret
    if args.api_secret is not None:
        return str(args.api_secret)
    return from_env


def _run_serve(args: argparse.Namespace) -> int:
    # Imported here: the other sub-commands should not pay for loading the server.
    from lacework_tokens.server.ratelimit import Rate
    from lacework_tokens.server.runner import ServeOptions, StartupError, serve

    try:
        api_secret = _api_secret(args)
    except _SecretError as exc:
        print_error(str(exc), "serve")
        return EXIT_FAILURE
    options = ServeOptions(
        host=args.host,
        port=args.port,
        db=args.db,
        account=args.account,
        api_key=args.api_key,
        api_secret=api_secret,
        api_secret_in_argv=args.api_secret is not None,
        key_file=args.key_file,
        secrets_key=args.secrets_key,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_self_signed=args.tls_self_signed,
        log_level=args.log_level,
        key_rate=Rate(per_second=args.rate_limit, burst=args.rate_burst),
        login_rate=Rate(per_second=args.login_rate_limit, burst=args.login_rate_burst),
        body_timeout=args.body_timeout,
        keep_alive_timeout=args.keep_alive_timeout,
        console=args.console,
        console_idle_timeout=args.console_idle_timeout,
        header_timeout=args.header_timeout,
        max_connections=args.max_connections,
        program=program(),
        agent_page_rows=args.agent_page_rows,
    )
    try:
        return serve(options)
    except StartupError as exc:
        print_error(str(exc), "serve")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        # Ctrl-C before the server took over the signal handlers: still a clean stop.
        return EXIT_OK


def _rate(text: str) -> float:
    from lacework_tokens.server.ratelimit import parse_rate

    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than 0 seconds")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


def add_serve_command(subparsers: Any) -> None:
    """Register ``serve`` on the top-level parser's sub-commands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the local Lacework API v2 backend for agent access tokens",
        description="Serve Lacework's API v2 agent-access-token endpoints from a local "
        "database. On the first start an admin API key is created and printed once; "
        "'lacework-tokens env' prints the settings again. Ctrl-C stops it.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="port, 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument(
        "--db",
        default=None,
        help="SQLite file or postgresql:// URL (default: .lacework-tokens/tokens.db)",
    )
    parser.add_argument(
        "--account", default="local", help="account of the first API key (default: %(default)s)"
    )
    parser.add_argument("--api-key", default=None, help="make sure this admin API key id exists")
    parser.add_argument(
        "--api-secret-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="file holding the secret of --api-key (one line); or set "
        f"{API_SECRET_ENV}. The secret needs 128 random bits, e.g. 'openssl rand -hex 16'",
    )
    parser.add_argument(
        "--api-secret",
        default=None,
        help="the secret of --api-key on the command line, where every local user can see "
        "it: prefer --api-secret-file or the environment",
    )
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
        help="debug also logs every request, token values masked (default: %(default)s)",
    )
    limits = parser.add_argument_group(
        "limits", "Requests past a rate limit are answered 429 with Retry-After."
    )
    limits.add_argument(
        "--rate-limit",
        type=_rate,
        default=DEFAULT_KEY_RATE.per_second,
        metavar="N/s",
        help="requests per API key, e.g. 50/s or 600/min; 0 disables "
        f"(default: {DEFAULT_KEY_RATE.per_second:g}/s)",
    )
    limits.add_argument(
        "--rate-burst",
        type=positive_int,
        default=DEFAULT_KEY_RATE.burst,
        metavar="N",
        help="requests an API key may make at once before --rate-limit applies "
        f"(default: {DEFAULT_KEY_RATE.burst})",
    )
    limits.add_argument(
        "--login-rate-limit",
        type=_rate,
        default=DEFAULT_LOGIN_RATE.per_second,
        metavar="N/s",
        help="POST /api/v2/access/tokens calls per client address; 0 disables "
        f"(default: {DEFAULT_LOGIN_RATE.per_second:g}/s)",
    )
    limits.add_argument(
        "--login-rate-burst",
        type=positive_int,
        default=DEFAULT_LOGIN_RATE.burst,
        metavar="N",
        help="access-token calls a client address may make at once "
        f"(default: {DEFAULT_LOGIN_RATE.burst})",
    )
    limits.add_argument(
        "--body-timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="a client must send each request, headers and body, within this time or get "
        "408 and a closed connection (default: 10)",
    )
    limits.add_argument(
        "--header-timeout",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="a client must complete its TLS handshake, and send each request's headers, "
        "within this time (never more than --body-timeout) or get 408 and a closed "
        "connection (default: 5)",
    )
    limits.add_argument(
        "--max-connections",
        type=positive_int,
        default=1000,
        metavar="N",
        help="connections served at once; past it the longest-idle connection is closed, or "
        "the new one is answered 503 (default: 1000, lowered to fit the open-file limit)",
    )
    limits.add_argument(
        "--keep-alive-timeout",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="idle keep-alive connections are closed after this time (default: 5)",
    )
    limits.add_argument(
        "--agent-page-rows",
        type=positive_int,
        default=1000,
        metavar="N",
        help="agents per page of POST /api/v2/AgentInfo/search (default: 1000)",
    )
    console = parser.add_argument_group(
        "console", "The web console at /console/: agent tokens, audit and API keys."
    )
    console.add_argument(
        "--no-console",
        dest="console",
        action="store_false",
        help="serve the API only, without the web console",
    )
    console.add_argument(
        "--console-idle-timeout",
        type=_seconds,
        default=1800.0,
        metavar="SECONDS",
        help="a console session ends after this long without a request (default: 1800)",
    )
    parser.set_defaults(handler=_run_serve)

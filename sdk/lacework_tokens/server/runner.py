"""Starting the backend: state directory, store, first API key, TLS, and the HTTP server.

Everything a first start needs is created next to the database (``.lacework-tokens/`` in the
working directory by default): the SQLite file, the key that seals token values at rest, the
admin API key in Lacework's download format, and a self-signed certificate when asked for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shlex
import socket
import ssl
import sys
import time
from collections.abc import Callable, Generator
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, TextIO

import uvicorn
from attrs import frozen

from lacework_tokens import limits, wire
from lacework_tokens.certificates import self_signed
from lacework_tokens.files import make_private_dir, write_private
from lacework_tokens.server.app import CONSOLE_PREFIX, create_app
from lacework_tokens.server.connections import (
    DEFAULT_HEADER_TIMEOUT_SECONDS,
    DEFAULT_MAX_CONNECTIONS,
    ConnectionLimits,
    http_protocol,
)
from lacework_tokens.server.crypto import Sealer, SealerError
from lacework_tokens.server.logs import LogFormatter
from lacework_tokens.server.ratelimit import DEFAULT_KEY_RATE, DEFAULT_LOGIN_RATE, Rate
from lacework_tokens.server.services import ServiceError, Services
from lacework_tokens.server.services.agents import DEFAULT_PAGE_ROWS
from lacework_tokens.server.storage import (
    is_postgres_url,
    open_store,
    reason_without_password,
    without_password,
)
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.state_dir import ServerRecord, record_server

__all__ = [
    "DEFAULT_BODY_TIMEOUT_SECONDS",
    "DEFAULT_CONSOLE_IDLE_TIMEOUT_SECONDS",
    "DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS",
    "DEFAULT_STATE_DIR",
    "ServeOptions",
    "StartupError",
    "generate_self_signed",
    "serve",
]

DEFAULT_STATE_DIR: Final = Path(".lacework-tokens")
DEFAULT_DB_NAME: Final = "tokens.db"
_LOG_LEVELS: Final = ("critical", "error", "warning", "info", "debug")
# How long a client may take to send one request, headers and body: a slow client is cut off
# rather than holding a connection (and its buffers) open indefinitely.
DEFAULT_BODY_TIMEOUT_SECONDS: Final = 10.0
# How long an idle keep-alive connection is kept open between requests (uvicorn's default).
DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS: Final = 5.0
# How long a console session may go without a request before it ends.
DEFAULT_CONSOLE_IDLE_TIMEOUT_SECONDS: Final = 30 * 60.0

logger = logging.getLogger("lacework_tokens.server")


class StartupError(Exception):
    """The server cannot start; the message is one line for the user and holds no secret."""


@frozen
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    db: str | None = None
    account: str = "local"
    api_key: str | None = None
    api_secret: str | None = None
    # Given as --api-secret: shown in the process list, so the server warns.
    api_secret_in_argv: bool = False
    key_file: Path | None = None
    secrets_key: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_self_signed: bool = False
    log_level: str = "info"
    key_rate: Rate = DEFAULT_KEY_RATE
    login_rate: Rate = DEFAULT_LOGIN_RATE
    body_timeout: float = DEFAULT_BODY_TIMEOUT_SECONDS
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS
    console: bool = True
    console_idle_timeout: float = DEFAULT_CONSOLE_IDLE_TIMEOUT_SECONDS
    header_timeout: float = DEFAULT_HEADER_TIMEOUT_SECONDS
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    # How the user runs this program, for the hints printed at start.
    program: str = "lacework-tokens"
    agent_page_rows: int = DEFAULT_PAGE_ROWS


def validate(options: ServeOptions) -> None:
    """Reject inconsistent options before anything is written to disk."""
    if limits.account_name_problem(options.account) is not None:
        raise StartupError(
            f"invalid --account {options.account[:64]!r}: use letters, digits, '-' and '_'"
        )
    if (options.api_key is None) != (options.api_secret is None):
        raise StartupError(
            "--api-key and its secret (--api-secret-file, LACEWORK_TOKENS_API_SECRET or "
            "--api-secret) must be given together"
        )
    if options.api_key is not None and not options.api_key.strip():
        raise StartupError("--api-key must not be empty")
    if options.api_secret is not None and not options.api_secret.strip():
        raise StartupError("--api-secret must not be empty")
    if (options.tls_cert is None) != (options.tls_key is None):
        raise StartupError("--tls-cert and --tls-key must be given together")
    if options.tls_self_signed and options.tls_cert is not None:
        raise StartupError("--tls-self-signed cannot be combined with --tls-cert/--tls-key")
    for flag, path in (("--tls-cert", options.tls_cert), ("--tls-key", options.tls_key)):
        if path is not None and not path.is_file():
            raise StartupError(f"{flag} {path}: no such file")
    if not 0 <= options.port <= 65535:
        raise StartupError(f"invalid --port {options.port}: must be 0..65535")
    if options.log_level not in _LOG_LEVELS:
        raise StartupError(f"invalid --log-level {options.log_level!r}")
    for flag, rate in (("--rate", options.key_rate), ("--login-rate", options.login_rate)):
        if rate.per_second < 0 or not rate.per_second < float("inf"):
            raise StartupError(f"invalid {flag}-limit: must be 0 (no limit) or more")
        if not rate.unlimited and rate.burst < 1:
            raise StartupError(f"invalid {flag}-burst {rate.burst}: must be at least 1")
    for flag, seconds in (
        ("--body-timeout", options.body_timeout),
        ("--keep-alive-timeout", options.keep_alive_timeout),
        ("--console-idle-timeout", options.console_idle_timeout),
        ("--header-timeout", options.header_timeout),
    ):
        if not 0 < seconds < float("inf"):
            raise StartupError(f"invalid {flag} {seconds}: must be more than 0 seconds")
    if options.max_connections < 1:
        raise StartupError(f"invalid --max-connections {options.max_connections}: at least 1")


def _state_dir(options: ServeOptions) -> Path:
    if options.db is None or is_postgres_url(options.db):
        return DEFAULT_STATE_DIR
    return Path(options.db).parent


# --- TLS ------------------------------------------------------------------------------------


def generate_self_signed(cert_path: Path, key_path: Path) -> None:
    """A throw-away certificate for 127.0.0.1, ::1 and localhost, valid for a year.

    A self-signed leaf (``CA:FALSE``), trusted directly through ``REQUESTS_CA_BUNDLE`` (Python)
    and ``SSL_CERT_FILE`` (Go, hence Terraform): it vouches for those names only.
    """
    made = self_signed(
        "lacework-tokens local backend",
        ip_addresses=("127.0.0.1", "::1"),
        valid_for=timedelta(days=365),
        leaf=True,
    )
    write_private(key_path, made.key_pem)
    cert_path.write_bytes(made.cert_pem)


# --- the first API key ----------------------------------------------------------------------


def _key_file_path(options: ServeOptions, state_dir: Path) -> Path:
    return options.key_file or state_dir / f"{options.account}-api-key.json"


def _prepare_keys(
    services: Services, options: ServeOptions, state_dir: Path
) -> tuple[Callable[[str], list[str]], Path | None]:
    """Make sure an API key exists; returns what to print once the URL is known, and the key
    file that goes with this server, if any."""
    identity = services.identity
    if options.api_key is not None and options.api_secret is not None:
        try:
            created = identity.ensure_api_key(options.account, options.api_key, options.api_secret)
        except ServiceError as exc:
            raise StartupError(f"--api-key {options.api_key}: {exc.message}") from None
        state = "created" if created else "already present"
        lines = [f"API key {options.api_key} for account {options.account}: {state}"]
        return (lambda _url: lines), None

    key_file = _key_file_path(options, state_dir)
    again = f'eval "$({options.program} env{_db_option(options)})"'
    if identity.has_api_keys():
        if key_file.is_file():
            return (
                lambda _url: [f"API key file: {key_file}", f"Connection settings: {again}"]
            ), key_file
        return (lambda _url: ["API keys exist; the secret was shown when they were created"]), None

    api_key = identity.create_api_key(options.account)
    write_private(key_file, json.dumps(wire.converter.unstructure(api_key), indent=2) + "\n")

    def first_start(url: str) -> list[str]:
        return [
            f"Created an admin API key for account {api_key.account}; saved to {key_file}",
            "Point Lacework clients at this backend with:",
            f"export LW_ACCOUNT={api_key.account} LW_API_KEY={api_key.key_id} "
            f"LW_API_SECRET={api_key.secret} LW_API_SERVER_URL={url}",
            f"(again at any time, in this directory: {again})",
        ]

    return first_start, key_file


def _db_option(options: ServeOptions) -> str:
    """`` --db …`` when ``env`` needs it to find this state directory."""
    if options.db is None or is_postgres_url(options.db):
        return ""
    return f" --db {shlex.quote(options.db)}"


# --- the HTTP server ------------------------------------------------------------------------


# How long a closing TLS connection waits for the client's close_notify. asyncio's default of
# 30 s made every stop wait that long whenever a client (laceworksdk, the Go SDK) still held an
# idle keep-alive connection, since such clients only read again on their next request.
TLS_SHUTDOWN_TIMEOUT_SECONDS: Final = 1.0
# Connections accepted in one turn of the event loop (asyncio accepts up to the listen backlog
# at once, before any of them is served): the descriptors kept free for such a burst.
ACCEPT_BATCH: Final = 128
# Descriptors the server needs besides its connections: the database and its WAL, the log,
# the event loop, worker threads' connections (PostgreSQL), a margin.
RESERVED_FILES: Final = 64
# TLS 1.2 offers only AEAD suites with forward secrecy (TLS 1.3 suites are all AEAD).
TLS12_CIPHERS: Final = "ECDHE+AESGCM:ECDHE+CHACHA20"


class _Server(uvicorn.Server):
    """uvicorn with three changes: a stop by SIGINT/SIGTERM is a normal end (exit 0; uvicorn
    re-raises the signal after its graceful shutdown), TLS connections close promptly, and a
    TLS handshake has ``handshake_timeout`` seconds (asyncio's default is 60)."""

    def __init__(self, config: uvicorn.Config, *, handshake_timeout: float) -> None:
        super().__init__(config)
        self.handshake_timeout = handshake_timeout

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        create_server = loop.create_server

        async def create_server_with_tls_timeouts(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("ssl") is not None:
                kwargs.setdefault("ssl_shutdown_timeout", TLS_SHUTDOWN_TIMEOUT_SECONDS)
                kwargs.setdefault("ssl_handshake_timeout", self.handshake_timeout)
            return await create_server(*args, **kwargs)

        # uvicorn offers no setting for them, so its one create_server call gets the arguments.
        loop.create_server = create_server_with_tls_timeouts  # type: ignore[method-assign]
        try:
            await super().startup(sockets)
        finally:
            del loop.create_server

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()


def _listen(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"cannot resolve --host {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    # The protocol number matters: asyncio sets TCP_NODELAY only on sockets whose ``proto`` is
    # IPPROTO_TCP, and without it every keep-alive answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(ACCEPT_BATCH)
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _url(scheme: str, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def raise_open_file_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; returns the soft limit
    now in force. Each connection holds a descriptor, and the common default of 1,024 is far
    below what the hard limit usually allows."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return DEFAULT_MAX_CONNECTIONS + ACCEPT_BATCH + RESERVED_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and (soft == resource.RLIM_INFINITY or soft >= hard):
        return int(soft if soft != resource.RLIM_INFINITY else hard)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError):  # e.g. beyond the system's own cap: keep what we have
        return int(soft)
    return int(wanted)


def connection_cap(wanted: int, open_files: int) -> int:
    """The most connections the server can hold with ``open_files`` descriptors: ``wanted``,
    or fewer so that a burst of accepts can never run out of descriptors."""
    return max(1, min(wanted, open_files - ACCEPT_BATCH - RESERVED_FILES))


def _tls_context(config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    context = default()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    return context


class _UvicornName(logging.Filter):
    """uvicorn logs its start and stop on a logger named ``uvicorn.error``: show ``uvicorn``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.error":
            record.name = "uvicorn"
        return True


def _configure_logging(level: str, stream: TextIO) -> None:
    # Times as everywhere else in this project: RFC 3339, UTC.
    # Request data ends up in log records: one record stays one line, whatever a client sends.
    formatter = LogFormatter(
        "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(_UvicornName())
    logging.basicConfig(level=level.upper(), handlers=[handler])


def open_services(options: ServeOptions, state_dir: Path) -> tuple[Services, Store]:
    db = options.db or str(state_dir / DEFAULT_DB_NAME)
    make_private_dir(state_dir)
    try:
        sealer = Sealer.from_key_file(options.secrets_key or state_dir / "secrets.key")
    except OSError as exc:
        raise StartupError(f"cannot read the secrets key: {exc.strerror or exc}") from None
    except SealerError as exc:
        raise StartupError(f"cannot use the secrets key: {exc}") from None
    try:
        store = open_store(db)
    except Exception as exc:
        reason = reason_without_password(exc, db) or type(exc).__name__
        raise StartupError(f"cannot open the database {without_password(db)}: {reason}") from None
    return Services(store, sealer, agent_page_rows=options.agent_page_rows), store


def serve(options: ServeOptions, *, out: TextIO | None = None) -> int:
    """Run the backend until SIGINT/SIGTERM. Raises ``StartupError`` when it cannot start."""
    out = out or sys.stdout
    validate(options)
    _configure_logging(options.log_level, sys.stderr)
    if options.api_secret_in_argv:
        logger.warning(
            "--api-secret shows the secret to every user of this machine (in the process "
            "list): use --api-secret-file or LACEWORK_TOKENS_API_SECRET instead"
        )
    state_dir = _state_dir(options)
    services, store = open_services(options, state_dir)
    try:
        announce_keys, api_key_file = _prepare_keys(services, options, state_dir)
        tls_lines: list[str] = []
        cert_file, key_file = options.tls_cert, options.tls_key
        if options.tls_self_signed:
            cert_file, key_file = state_dir / "cert.pem", state_dir / "cert-key.pem"
            generate_self_signed(cert_file, key_file)
            tls_lines = [
                f"Self-signed certificate: {cert_file.resolve()}",
                f"export REQUESTS_CA_BUNDLE={cert_file.resolve()} "
                f"SSL_CERT_FILE={cert_file.resolve()}",
            ]
        sock = _listen(options.host, options.port)
        open_files = raise_open_file_limit()
        connection_limits = ConnectionLimits(
            body_timeout=options.body_timeout,
            header_timeout=options.header_timeout,
            max_connections=connection_cap(options.max_connections, open_files),
        )
        if connection_limits.max_connections < options.max_connections:
            logger.warning(
                "serving at most %d connections at once: the open-file limit is %d",
                connection_limits.max_connections,
                open_files,
            )
        config = uvicorn.Config(
            create_app(
                services,
                offload=options.db is not None and is_postgres_url(options.db),
                key_rate=options.key_rate,
                login_rate=options.login_rate,
                console=options.console,
                console_idle_timeout=options.console_idle_timeout,
            ),
            http=http_protocol(connection_limits),
            backlog=ACCEPT_BATCH,
            timeout_keep_alive=options.keep_alive_timeout,  # type: ignore[arg-type]
            lifespan="off",
            access_log=False,
            log_config=None,
            log_level=options.log_level,
            server_header=False,
            proxy_headers=False,
            ssl_certfile=str(cert_file) if cert_file else None,
            ssl_keyfile=str(key_file) if key_file else None,
            ssl_context_factory=_tls_context if cert_file else None,
        )
        try:
            config.load()
        except Exception as exc:
            sock.close()
            raise StartupError(f"cannot load the TLS certificate or key: {exc}") from None
        url = _url("https" if cert_file else "http", sock)
        record_server(
            state_dir,
            ServerRecord(
                url=url,
                key_file=str(api_key_file.resolve()) if api_key_file else None,
                certificate=(
                    str(cert_file.resolve()) if options.tls_self_signed and cert_file else None
                ),
            ),
        )
        server = _Server(config, handshake_timeout=connection_limits.header_deadline)
        console_lines = [f"Console: {url}{CONSOLE_PREFIX}/"] if options.console else []
        lines = [
            *announce_keys(url),
            *tls_lines,
            *console_lines,
            f"listening on {url}",
            "Ctrl-C to stop.",
        ]
        asyncio.run(_run(server, sock, lines, out))
    finally:
        services.close()  # the pending audit events first
        store.close()
    return 0


async def _run(server: uvicorn.Server, sock: socket.socket, lines: list[str], out: TextIO) -> None:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.005)
    if server.started:
        for line in lines:
            print(line, file=out, flush=True)
    await task

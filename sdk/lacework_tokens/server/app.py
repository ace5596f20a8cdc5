"""The backend's HTTP face: a plain ASGI application that only translates.

The routes are data (``routes.py``): the app finds a request's route and operation there,
parses the body into the operation's wire model, calls its handler (one service method) and
encodes the answer through the one wire converter, so the rules live in the services and the
JSON shapes live in ``wire``. The app is a bare ASGI callable rather than a framework router:
measured in-process the framework layers cost about as much as the service call itself (an
authenticated GET of one token: ~20k/s bare against ~10k/s through Starlette routing).

What the app guarantees on the wire:
- successes are ``{"data": ...}`` (the access-token call answers ``{"token", "expiresAt"}``);
  failures are ``{"message": ...}`` with ``Content-Type: application/json``, whatever the input;
- an unknown path is 404, a method a route does not serve is 405 with ``Allow`` (there is no
  DELETE: tokens are only ever disabled), a body over ``MAX_BODY_BYTES`` is 413, malformed JSON or a
  wrong type is 400 naming the field, and anything unexpected is logged without secrets and
  answered 500;
- ``Authorization`` is accepted raw (Go SDK) or as ``Bearer <token>`` (``laceworksdk``); extra
  headers such as Go's ``Method:``, ``Org-Access`` and a missing ``Content-Type`` are tolerated;
- each API key may make ``key_rate`` requests a second (with a burst), and each client address
  ``login_rate`` calls of ``POST /api/v2/access/tokens`` (so secrets cannot be guessed at line
  speed, nor the audit trail flooded with failed logins) and as many requests with an invalid
  bearer; failed logins for one key id, from any address, back off (``LoginBackoff``); past a
  limit the answer is 429 with ``Retry-After`` in whole seconds and a JSON message, and the
  request is not looked at further;
- a list or search is sent page by page, the event loop answering other requests between
  pages, so one large read never holds everyone else up;
- ``GET /openapi.json`` describes all of this (``openapi.py``, from the same table), without
  authentication.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any, Final, TypeVar, cast

from lacework_tokens import wire
from lacework_tokens.server.logs import Multiline, masked_path
from lacework_tokens.server.ratelimit import (
    DEFAULT_KEY_RATE,
    DEFAULT_LOGIN_RATE,
    LoginBackingOff,
    LoginBackoff,
    Rate,
    RateLimiter,
    retry_after_header,
)
from lacework_tokens.server.routes import ROUTES, Access, Call, Envelope, Operation, Route
from lacework_tokens.server.services import Principal, ServiceError, Services, Unauthorized

__all__ = [
    "MAX_BODY_BYTES",
    "BackendApp",
    "create_app",
]

logger = logging.getLogger("lacework_tokens.server")
access_logger = logging.getLogger("lacework_tokens.server.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
T = TypeVar("T")
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# Where the console is mounted (``server/console/``); kept here so the API path imports nothing
# of it unless it is served.
CONSOLE_PREFIX: Final = "/console"

# Wire bodies are a few hundred bytes; 64 KiB leaves room for long descriptions and search
# filters while keeping a hostile client from making the server buffer megabytes.
MAX_BODY_BYTES: Final = 64 * 1024
# Between two pages of a paged answer the sender waits on a timer, which the event loop runs
# after the requests that arrived meanwhile: a list yields to every small request. Past its
# first pages, while other requests are in flight, a long answer also pauses a little, so
# that several long answers at once leave room for everyone else. Measured with pages of 16
# tokens (routes.ANSWER_PAGE_SIZE) while three clients list 20,000 tokens
# (bench/responsiveness_bench.py): a get stays within about 3x of its usual time with the
# pause, against about 5x with the yield alone.
PAGE_YIELD_SECONDS: Final = 1e-6
PAGE_PAUSE_SECONDS: Final = 0.0002
UNPAUSED_PAGES: Final = 8


_RETIRE_HEADER: Final = wire.RETIRE_HEADER.lower().encode()
_JSON_HEADERS: Final = (
    (b"content-type", b"application/json"),
    # Answers carry token values: no cache on the way should keep them.
    (b"cache-control", b"no-store"),
)


class _HttpError(Exception):
    """An answer decided by the app itself (not the service)."""

    def __init__(self, status: int, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class _ClientGone(Exception):
    """The client disconnected before sending its whole body: nobody is left to answer."""


class _Response:
    __slots__ = ("body", "headers", "status")

    def __init__(
        self, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers


class _Pages:
    """An answer sent page by page: ``{"data": [`` the items of ``first`` and of every page of
    ``rest`` ``]}``."""

    __slots__ = ("first", "rest")

    def __init__(self, first: list[object], rest: Iterator[list[object]]) -> None:
        self.first = first
        self.rest = rest


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _json(status: int, payload: Any, headers: tuple[tuple[bytes, bytes], ...] = ()) -> _Response:
    return _Response(status, _dumps(payload), headers)


def _error(status: int, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> _Response:
    return _json(status, wire.converter.unstructure(wire.ErrorBody(message=message)), headers)


class _Methods:
    """One route as the router serves it: its operations by method, and its ``Allow``."""

    __slots__ = ("allow", "operations", "route")

    def __init__(self, route: Route) -> None:
        self.route = route
        self.operations = {operation.method: operation for operation in route.operations}
        self.allow = ", ".join(self.operations)


class Router:
    """Finds the route of a request path: a dict lookup for fixed paths, then a prefix test
    for each path ending in a ``{parameter}`` (which matches one non-empty segment)."""

    __slots__ = ("_fixed", "_templated", "routes")

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = tuple(routes)
        self._fixed: dict[str, _Methods] = {}
        self._templated: list[tuple[str, _Methods]] = []
        for route in self.routes:
            served = _Methods(route)
            prefix, brace, rest = route.path.partition("{")
            if not brace:
                self._fixed[route.path] = served
                if route.trailing_slash:
                    self._fixed[route.path + "/"] = served
            elif rest.endswith("}") and "/" not in rest and prefix.endswith("/"):
                self._templated.append((prefix, served))
            else:
                raise ValueError(f"{route.path}: only a last {{parameter}} segment is supported")

    def match(self, path: str) -> tuple[_Methods, str | None] | None:
        """The route serving ``path`` and the value of its path parameter, or ``None``."""
        served = self._fixed.get(path)
        if served is not None:
            return served, None
        for prefix, served in self._templated:
            if path.startswith(prefix):
                value = path[len(prefix) :]
                if served.route.trailing_slash and value.endswith("/"):
                    value = value[:-1]
                if value and "/" not in value:
                    return served, value
        return None


def _path_words(routes: Iterable[Route]) -> frozenset[str]:
    """The literal segments of the routes' paths: logged as they are, never masked."""
    return frozenset(
        segment
        for route in routes
        for segment in route.path.split("/")
        if segment and not segment.startswith("{")
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


def _check_text(value: Any, path: str) -> None:
    """Reject strings no store can hold: lone surrogates (not UTF-8) and NUL (not PostgreSQL)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise wire.WireError(path or "body", "must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise wire.WireError(path or "body", "must be valid Unicode text") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            _check_text(key, where)
            _check_text(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{path or 'body'}[{index}]")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 leaves duplicate names undefined; clients would disagree on which one counts.
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise wire.WireError("body", f"has the key {key[:64]!r} twice")
        found[key] = value
    return found


def _decode_json(body: bytes) -> Any:
    """JSON as RFC 8259 has it for a network exchange: UTF-8 (no BOM), each key once."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # json.loads would guess UTF-16 or UTF-32 from the first bytes; the wire is UTF-8.
        raise wire.WireError("body", "is not UTF-8 text") from None
    try:
        data = json.loads(text, object_pairs_hook=_object_without_duplicates)
        _check_text(data, "")
    except wire.WireError:
        raise
    except RecursionError:
        raise wire.WireError("body", "is nested too deeply") from None
    except ValueError:  # JSONDecodeError (a BOM included), oversized integers
        raise wire.WireError("body", "is not valid JSON") from None
    return data


def _parse(body: bytes, model: type[T]) -> T:
    return wire.parse(_decode_json(body), model)


def _too_large(limit: int) -> _HttpError:
    # The rest of the body is never read: the connection cannot carry another request, so it
    # is closed after the answer (a kept-alive one would wait for a client still sending).
    return _HttpError(
        413, f"request body is larger than {limit} bytes", headers=((b"connection", b"close"),)
    )


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = _header(scope, b"content-length")
    if declared is not None:
        try:
            too_large = int(declared) > limit
        except ValueError:
            raise _HttpError(400, "Content-Length is not a number") from None
        if too_large:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _is_console_path(path: str) -> bool:
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


def _limiter(rate: Rate) -> RateLimiter | None:
    return None if rate.unlimited else RateLimiter(rate)


def _too_many(wait: float, what: str) -> _HttpError:
    seconds = retry_after_header(wait)
    return _HttpError(
        429,
        f"Too many requests {what}; retry after {seconds.decode()} seconds.",
        ((b"retry-after", seconds),),
    )


class BackendApp:
    """The ASGI application. ``offload=True`` runs service calls in worker threads.

    By default service calls run inline on the event loop: the SQLite store answers in tens of
    microseconds, and a thread hand-off costs more than it saves (measured in-process: ~20k
    authenticated GETs/s inline against ~6k/s with one hand-off per request). A store that
    waits on the network (PostgreSQL) should be served with ``offload=True`` so one slow query
    does not hold up every other request.
    """

    def __init__(
        self,
        services: Services,
        *,
        offload: bool = False,
        max_body_bytes: int = MAX_BODY_BYTES,
        key_rate: Rate = DEFAULT_KEY_RATE,
        login_rate: Rate = DEFAULT_LOGIN_RATE,
        routes: Iterable[Route] = ROUTES,
        console: bool = False,
        console_idle_timeout: float | None = None,
    ) -> None:
        self.services = services
        self.offload = offload
        self.max_body_bytes = max_body_bytes
        self.key_rate = key_rate
        self.login_rate = login_rate
        self._key_limiter = _limiter(key_rate)
        self._login_limiter = _limiter(login_rate)
        # Both follow the login limit: turning that off turns them off.
        self._bearer_failures = _limiter(login_rate)
        self._login_backoff = None if login_rate.unlimited else LoginBackoff()
        self._router = Router(routes)
        self.console: ASGIApp | None = None
        if console:
            # Imported only when served: the console brings Jinja2 and its templates.
            from lacework_tokens.server.console import ConsoleApp

            self.console = ConsoleApp(
                services,
                login_limiter=self._login_limiter,
                login_backoff=self._login_backoff,
                idle_timeout=console_idle_timeout,
            )
        self._literals = _path_words(self._router.routes)
        self._in_flight = 0  # requests being served (on the event loop's thread)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets: the server refuses the handshake
        self._in_flight += 1
        try:
            await self._serve_http(scope, receive, send)
        finally:
            self._in_flight -= 1

    async def _serve_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        matched = self._router.match(path)
        # The console is asked only once no API route matched: the API path pays nothing.
        if matched is None and self.console is not None and _is_console_path(path):
            await self.console(scope, receive, send)
            return
        try:
            response = await self._dispatch(scope, receive, method, matched)
        except _ClientGone:
            return
        except _HttpError as exc:
            response = _error(exc.status, exc.message, exc.headers)
        except wire.WireError as exc:
            response = _error(400, str(exc))
        except ServiceError as exc:
            response = _error(exc.status, exc.message)
        except Exception as exc:
            # Neither the exception's text nor the request may reach the log: either could hold
            # a secret. The type and the stack are enough to find the bug.
            logger.error(
                "unexpected %s while serving %s %s\n%s",
                type(exc).__name__,
                method,
                matched[0].route.name if matched else "-",
                Multiline("".join(traceback.format_tb(exc.__traceback__)).rstrip()),
            )
            response = _error(500, "internal server error")
        if isinstance(response, _Pages):
            status = await self._send_pages(response, receive, send)
        else:
            status = response.status
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": [
                        *_JSON_HEADERS,
                        (b"content-length", str(len(response.body)).encode()),
                        *response.headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": response.body})
        if access_logger.isEnabledFor(logging.DEBUG):
            access_logger.debug(
                "%s %s %d %.1fms",
                method,
                # Token values are path segments; an access log must not list secrets, whether
                # or not the path is one the server serves.
                masked_path(path, self._literals, also=matched[1] if matched else None),
                status,
                (time.perf_counter() - started) * 1000,
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _dispatch(
        self,
        scope: Scope,
        receive: Receive,
        method: str,
        matched: tuple[_Methods, str | None] | None,
    ) -> _Response | _Pages:
        if matched is None:
            raise _HttpError(404, "not found: no such API endpoint")
        served, path_value = matched
        operation = served.operations.get(method)
        if operation is None:
            raise _HttpError(
                405,
                f"method {method[:16]} is not allowed here; allowed: {served.allow}",
                ((b"allow", served.allow.encode()),),
            )
        if operation.access is Access.API_SECRET and self._login_limiter is not None:
            client = scope.get("client")
            wait = self._login_limiter.take(client[0] if client else "-")
            if wait:
                raise _too_many(wait, "for access tokens from this address")
        body = b""
        if operation.request is not None:
            body = await _read_body(scope, receive, self.max_body_bytes)
        if self.offload and operation.access is not Access.PUBLIC:
            # One hand-off per request: authentication and the operation run in the same thread.
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                None, functools.partial(self._serve, scope, operation, path_value, body)
            )
        return self._serve(scope, operation, path_value, body)

    def _serve(
        self, scope: Scope, operation: Operation[Any], path_value: str | None, body: bytes
    ) -> _Response | _Pages:
        """The synchronous part of a request: authenticate, parse, call, encode the answer (or
        its first page)."""
        client = scope.get("client")
        address = client[0] if client else None
        call = Call(self.services, path_value=path_value, address=address)
        if operation.access is Access.BEARER:
            call.principal = self._authenticate(scope, address)
            if self._key_limiter is not None:
                wait = self._key_limiter.take(call.principal.key_id)
                if wait:
                    raise _too_many(wait, "for this API key")
        elif operation.access is Access.API_SECRET:
            call.secret = _header(scope, b"x-lw-uaks")
        elif operation.access is Access.AGENT_TOKEN:
            call.credential = _header(scope, b"authorization")
        if "Retire" in operation.headers:
            call.retire = _header(scope, _RETIRE_HEADER)
        request = None if operation.request is None else _parse(body, operation.request)
        if operation.access is Access.API_SECRET and self._login_backoff is not None:
            answer = self._login(operation, call, request)
        else:
            answer = operation.handler(call, request)
        if operation.envelope is Envelope.DATA_PAGES:
            pages = cast(Iterator[list[object]], answer)
            # The first page is read before the answer starts: a failure is still a 500.
            return _Pages(next(pages, []), pages)
        return _Response(operation.status, _encode(operation.envelope, answer))

    def _authenticate(self, scope: Scope, address: str | None) -> Principal:
        """The caller, unless its address has sent too many invalid bearers lately: then 429,
        and the bearer is not even looked up."""
        limiter = self._bearer_failures
        if limiter is not None:
            wait = limiter.waiting(address or "-")
            if wait:
                raise _too_many(wait, "with an invalid access token from this address")
        try:
            return self.services.identity.authenticate(
                _header(scope, b"authorization"),
                _header(scope, b"account-name") or None,
                address,
            )
        except Unauthorized:
            if limiter is not None:
                limiter.take(address or "-")
            raise

    def _login(self, operation: Operation[Any], call: Call, request: Any) -> object:
        """A login, unless its key id is backing off after failed ones: then 429 unchecked."""
        assert self._login_backoff is not None
        try:
            return self._login_backoff.attempt(
                str(getattr(request, "key_id", "")),
                lambda: operation.handler(call, request),
                failure=Unauthorized,
            )
        except LoginBackingOff as held:
            raise _too_many(held.wait, "after failed logins for this API key") from None

    async def _send_pages(self, answer: _Pages, receive: Receive, send: Send) -> int:
        """Send a paged answer; between pages other requests are served, and a client that
        went away stops the reading. Returns the status sent."""
        gone = asyncio.Event()

        async def watch() -> None:
            # The request was read in full: the next message is the client leaving. (A server
            # that answers again at once is asked again only after a pause: no busy loop.)
            while (await receive())["type"] != "http.disconnect":
                await asyncio.sleep(0.01)
            gone.set()

        watcher = asyncio.create_task(watch())
        loop = asyncio.get_running_loop()
        pages = answer.rest
        try:
            await send(
                {"type": "http.response.start", "status": 200, "headers": list(_JSON_HEADERS)}
            )
            body = b'{"data":[' + _items(answer.first)
            more = bool(answer.first)
            sent = 0
            while True:
                await send({"type": "http.response.body", "body": body, "more_body": True})
                sent += 1
                others = self._in_flight > 1
                await asyncio.sleep(
                    PAGE_PAUSE_SECONDS if others and sent > UNPAUSED_PAGES else PAGE_YIELD_SECONDS
                )
                if gone.is_set():
                    return 200
                if self.offload:
                    page = await loop.run_in_executor(None, next, pages, None)
                else:
                    page = next(pages, None)
                if page is None:
                    break
                body = (b"," if more and page else b"") + _items(page)
                more = more or bool(page)
            await send({"type": "http.response.body", "body": b"]}", "more_body": False})
            return 200
        except Exception as exc:
            # Too late for an error answer: the connection is dropped (the client sees a
            # truncated body, never a complete wrong one).
            logger.error(
                "unexpected %s while sending a paged answer\n%s",
                type(exc).__name__,
                Multiline("".join(traceback.format_tb(exc.__traceback__)).rstrip()),
            )
            return 500
        finally:
            watcher.cancel()
            close = getattr(pages, "close", None)
            if close is not None:
                close()


def _items(page: list[object]) -> bytes:
    tokens = cast(list[wire.AgentAccessToken], page)
    return ",".join([wire.encode_token(token) for token in tokens]).encode()


def _encode(envelope: Envelope, answer: object) -> bytes:
    convert = wire.converter.unstructure
    if envelope is Envelope.DATA:
        if isinstance(answer, wire.AgentAccessToken):  # the most frequent answer, encoded fast
            return b'{"data":' + wire.encode_token(answer).encode() + b"}"
        return _dumps({"data": convert(answer)})
    if envelope is Envelope.DATA_LIST:
        return _dumps({"data": [convert(item) for item in cast(Iterable[object], answer)]})
    if envelope is Envelope.BARE:
        return _dumps(convert(answer))
    return answer if isinstance(answer, bytes) else _dumps(answer)


def create_app(
    services: Services,
    *,
    offload: bool = False,
    key_rate: Rate = DEFAULT_KEY_RATE,
    login_rate: Rate = DEFAULT_LOGIN_RATE,
    console: bool = False,
    console_idle_timeout: float | None = None,
) -> BackendApp:
    """The ASGI application serving ``services`` (and the console under ``/console/`` when
    ``console`` is true)."""
    return BackendApp(
        services,
        offload=offload,
        key_rate=key_rate,
        login_rate=login_rate,
        console=console,
        console_idle_timeout=console_idle_timeout,
    )

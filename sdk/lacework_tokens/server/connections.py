"""Connection-level defences: what a client may cost the server before a request reaches the app.

uvicorn's httptools protocol, with these limits (``ConnectionLimits``):

- **Header block**: at most ``max_header_bytes`` (request line and headers) and ``max_headers``
  header fields. Past either the client gets 431 and the connection is closed; nothing beyond
  the limit is buffered (uvicorn itself keeps every header line it is sent).
- **Time**: the headers must arrive within ``header_timeout`` seconds of the request's first
  byte (of the connection, for its first request), the whole request within ``body_timeout``;
  otherwise 408 and a closed connection. A TLS handshake gets ``header_timeout`` too.
- **Connections**: at most ``max_connections`` at once. A connection past the cap closes the
  connection that has been idle longest (waiting for its first request, or kept alive between
  requests), if that one has been idle for ``IDLE_GRACE_SECONDS`` at least: a client that has
  just connected has its request on the way. Otherwise the newcomer is answered 503 at once and
  closed, without reading anything (a client that had already sent its request may see the
  connection reset instead). Either way a descriptor is freed within one turn of the loop.

A slow or hostile connection never holds up another: each is served by the event loop on its
own, and what each may hold (buffers, time, a descriptor) is bounded above.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from typing import Final

import httptools
from attrs import frozen

from lacework_tokens import wire

__all__ = [
    "DEFAULT_HEADER_TIMEOUT_SECONDS",
    "DEFAULT_MAX_CONNECTIONS",
    "IDLE_GRACE_SECONDS",
    "MAX_HEADERS",
    "MAX_HEADER_BYTES",
    "ConnectionLimits",
    "http_protocol",
]

logger = logging.getLogger("lacework_tokens.server")

# Lacework's clients send fewer than 10 headers and well under 1 KiB; browsers and proxies stay
# under 8 KiB. 16 KiB and 100 fields leave room for any of them and bound what one connection
# can make the server buffer.
MAX_HEADER_BYTES: Final = 16 * 1024
MAX_HEADERS: Final = 100
DEFAULT_HEADER_TIMEOUT_SECONDS: Final = 5.0
DEFAULT_MAX_CONNECTIONS: Final = 1000
# How long a connection must have been idle before a newcomer past the cap may close it.
IDLE_GRACE_SECONDS: Final = 1.0


@frozen
class ConnectionLimits:
    body_timeout: float
    header_timeout: float = DEFAULT_HEADER_TIMEOUT_SECONDS
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_header_bytes: int = MAX_HEADER_BYTES
    max_headers: int = MAX_HEADERS

    @property
    def header_deadline(self) -> float:
        """Seconds a client has for a TLS handshake or a request's headers."""
        return min(self.header_timeout, self.body_timeout)


def _answer(status: str, message: str, *extra: bytes) -> bytes:
    """A complete HTTP/1.1 answer with a JSON error body, after which the server hangs up."""
    body = json.dumps(wire.converter.unstructure(wire.ErrorBody(message=message))).encode()
    return (
        f"HTTP/1.1 {status}\r\n".encode()
        + b"content-type: application/json\r\ncache-control: no-store\r\nconnection: close\r\n"
        + b"".join(extra)
        + b"content-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


class _HeadersRefused(Exception):
    """Raised inside a parser callback: the header block went past a limit."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def http_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol class with ``limits`` enforced (see the module doc)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    header_deadline = limits.header_deadline
    headers_late = _answer(
        "408 Request Timeout",
        f"the request headers were not received within {header_deadline:g} seconds",
    )
    request_late = _answer(
        "408 Request Timeout",
        f"the request was not received within {limits.body_timeout:g} seconds",
    )
    too_busy = _answer(
        "503 Service Unavailable",
        "the server has too many connections open; retry shortly",
        b"retry-after: 1\r\n",
    )
    too_many_bytes = f"request headers are larger than {limits.max_header_bytes} bytes"
    too_many_fields = f"a request may have at most {limits.max_headers} header fields"
    # Connections waiting for a request, longest idle first, with the time each became idle.
    # Shared by every connection of one server (one class per server).
    idle: OrderedDict[LimitedProtocol, float] = OrderedDict()

    class LimitedProtocol(HttpToolsProtocol):
        _timer: asyncio.TimerHandle | None = None
        _started: float = 0.0
        _in_headers: bool = True
        _completed: bool = False  # a request was completed by the bytes being parsed
        _awaiting_first_request: bool = True
        _raw_header_bytes: int = 0
        _header_bytes: int = 0
        _header_fields: int = 0

        # --- the connection cap ---------------------------------------------------------------

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections and not _close_longest_idle(
                self.loop.time()
            ):
                transport.write(too_busy)
                transport.close()
                return
            self._start_request()
            idle[self] = self.loop.time()

        def connection_lost(self, exc: Exception | None) -> None:
            idle.pop(self, None)
            self._cancel_timer()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                idle[self] = self.loop.time()  # kept alive, waiting for the next request

        # --- bytes in -------------------------------------------------------------------------

        def data_received(self, data: bytes) -> None:
            idle.pop(self, None)
            if self.transport.is_closing():
                return  # refused already: nothing more is parsed or kept
            self._unset_keepalive_if_required()
            self._completed = False
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                else:
                    self._unsupported_upgrade_warning()
                return
            except httptools.HttpParserError as exc:
                refused = exc.__context__
                if isinstance(refused, _HeadersRefused):
                    self._refuse(refused.message)
                else:
                    self.logger.warning("Invalid HTTP request received.")
                    self.send_400_response("Invalid HTTP request received.")
                return
            # A header block still incomplete: what the parser holds of it is counted here,
            # since a header line is reported only once it is complete. Bytes that also
            # completed an earlier (pipelined) request are not counted: the next ones are.
            if self._in_headers and not self._completed:
                self._raw_header_bytes += len(data)
                if self._raw_header_bytes > limits.max_header_bytes:
                    self._refuse(too_many_bytes)

        def _refuse(self, message: str) -> None:
            self._cancel_timer()
            if not self.transport.is_closing():
                self.transport.write(_answer("431 Request Header Fields Too Large", message))
                self.transport.close()

        # --- parser callbacks -----------------------------------------------------------------

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._awaiting_first_request:
                # The first request's headers are due from the connection's start: waiting
                # before the first byte buys a client no extra time.
                self._awaiting_first_request = False
            else:
                self._start_request()

        def on_url(self, url: bytes) -> None:
            self._count_header_bytes(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._header_fields += 1
            if self._header_fields > limits.max_headers:
                raise _HeadersRefused(too_many_fields)
            self._count_header_bytes(len(name) + len(value) + 4)  # ": " and CRLF
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_headers = False
            self._arm_timer(
                max(limits.body_timeout - (self.loop.time() - self._started), 0.0),
                request_late,
            )
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._completed = True
            self._cancel_timer()
            super().on_message_complete()

        def _count_header_bytes(self, size: int) -> None:
            self._header_bytes += size
            if self._header_bytes > limits.max_header_bytes:
                raise _HeadersRefused(too_many_bytes)

        # --- deadlines ------------------------------------------------------------------------

        def _start_request(self) -> None:
            self._in_headers = True
            self._raw_header_bytes = self._header_bytes = self._header_fields = 0
            self._started = self.loop.time()
            self._arm_timer(header_deadline, headers_late)

        def _arm_timer(self, seconds: float, answer: bytes) -> None:
            self._cancel_timer()
            self._timer = self.loop.call_later(seconds, self._timed_out, answer)

        def _cancel_timer(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _timed_out(self, answer: bytes) -> None:
            self._timer = None
            if self.transport.is_closing():
                return
            cycle = self.cycle
            # Answer only where no answer has begun: never interleave with a response.
            if cycle is None or cycle.response_complete or not cycle.response_started:
                self.transport.write(answer)
            self.transport.close()

    def _close_longest_idle(now: float) -> bool:
        """Close the connection idle longest to make room; ``False`` when none has been idle
        for ``IDLE_GRACE_SECONDS``."""
        while idle:
            connection, since = next(iter(idle.items()))
            if now - since < IDLE_GRACE_SECONDS:
                return False
            del idle[connection]
            if not connection.transport.is_closing():
                connection.transport.abort()  # nothing to flush: it was waiting for a request
                return True
        return False

    return LimitedProtocol

"""The console's HTTP plumbing: requests in, pages out, the headers every page carries.

Kept apart from the API's app (``server/app.py``) on purpose: the API path never pays for form
parsing, cookies or templates, and the console never touches the JSON wire format.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any, Final
from urllib.parse import parse_qsl

from attrs import define, field

__all__ = [
    "MAX_FORM_BYTES",
    "SECURITY_HEADERS",
    "BodyTooLarge",
    "ClientGone",
    "Request",
    "Response",
    "cookie_header",
    "read_request",
    "redirect",
    "send_response",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Forms are a few fields; a key file is a few hundred bytes. Anything larger is not a form of
# this console.
MAX_FORM_BYTES: Final = 64 * 1024

# Every answer of the console carries these. The policy allows the console's own script and
# style sheet only: no inline script or style, no other origin, no framing, forms posting back
# here only.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Final = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    # Not ``no-referrer``: with it browsers send ``Origin: null`` on the console's own forms,
    # and the origin check (see ``ConsoleApp.check_form``) needs the real one.
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    # Pages can show a token value or an API secret: no cache may keep any of them.
    ("cache-control", "no-store"),
)


class BodyTooLarge(Exception):
    """The request body is larger than ``MAX_FORM_BYTES``."""


class ClientGone(Exception):
    """The client disconnected before its whole body arrived."""


@define
class Request:
    """One console request. ``path`` is below the console's prefix (``/tokens/…``)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    cookies: dict[str, str]
    secure: bool
    client: str
    form: dict[str, str] = field(factory=dict)
    files: dict[str, bytes] = field(factory=dict)

    def origin(self) -> str:
        """This server's origin as the browser addressed it."""
        return f"{'https' if self.secure else 'http'}://{self.headers.get('host', '')}"


@define
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(factory=list)
    # Static files may be cached (they hold no secret); everything else is ``no-store``.
    cacheable: bool = False


def redirect(location: str, *, status: int = 303) -> Response:
    """A redirect to a path of this server (``303``: the next request is a GET)."""
    return Response(status, headers=[("location", location)])


def cookie_header(
    name: str, value: str, *, path: str, secure: bool, max_age: int | None = None
) -> tuple[str, str]:
    """A ``Set-Cookie`` header for a cookie scripts cannot read and other sites never send."""
    parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return ("set-cookie", "; ".join(parts))


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in scope["headers"]:
        name = key.decode("latin-1").lower()
        text = value.decode("latin-1")
        # Repeated cookie headers are joined as one; other repeats keep their first value.
        if name in headers:
            if name == "cookie":
                headers[name] += "; " + text
            continue
        headers[name] = text
    return headers


def _cookies(header: str) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


async def _read_body(receive: Receive, declared: str | None) -> bytes:
    if declared is not None:
        try:
            if int(declared) > MAX_FORM_BYTES:
                raise BodyTooLarge
        except ValueError:
            raise BodyTooLarge from None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _first(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in pairs:
        values.setdefault(key, value)
    return values


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    """Fields and files of a ``multipart/form-data`` body (the key-file sign-in)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    if not message.is_multipart():
        return fields, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or name in fields or name in files:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if part.get_param("filename", header="content-disposition") is not None:
            files[name] = data
        else:
            fields[name] = data.decode("utf-8", errors="replace")
    return fields, files


async def read_request(scope: Scope, receive: Receive, prefix: str) -> Request:
    """The request below ``prefix``, with its form read when it is a POST."""
    headers = _headers(scope)
    client = scope.get("client")
    request = Request(
        method=scope["method"],
        path=scope["path"][len(prefix) :] or "/",
        query=_first(parse_qsl(scope.get("query_string", b"").decode("latin-1"))),
        headers=headers,
        cookies=_cookies(headers.get("cookie", "")),
        secure=scope.get("scheme") == "https",
        client=client[0] if client else "-",
    )
    if request.method == "POST":
        body = await _read_body(receive, headers.get("content-length"))
        content_type = headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            request.form, request.files = _multipart(content_type, body)
        else:
            text = body.decode("utf-8", errors="replace")
            request.form = _first(parse_qsl(text, keep_blank_values=True))
    return request


async def send_response(send: Send, response: Response) -> None:
    headers = [
        (b"content-type", response.content_type.encode("latin-1")),
        (b"content-length", str(len(response.body)).encode()),
    ]
    for name, value in SECURITY_HEADERS:
        if name == "cache-control" and response.cacheable:
            value = "no-cache"
        headers.append((name.encode(), value.encode()))
    headers.extend((name.encode(), value.encode("latin-1")) for name, value in response.headers)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})

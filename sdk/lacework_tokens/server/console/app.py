"""The console as an ASGI application mounted under ``CONSOLE_PREFIX`` by the backend's app.

A request is read (its form too) on the event loop, then served in a worker thread: rendering
a page takes longer than an API call, and the API's requests must not wait behind it.

Every page checks, in this order: the session (its cookie, idle time and lifetime), the API key
behind it (read again: a disabled key ends its sessions at once), the CSRF secret of a form (and
the ``Origin`` and ``Sec-Fetch-Site`` a browser sends), then calls the services, which apply the
same role rules as the API: a page hides what a role may not do, and the server refuses it
anyway.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import jinja2
from attrs import define, frozen

from lacework_tokens.server.app import CONSOLE_PREFIX
from lacework_tokens.server.console.present import shown_time
from lacework_tokens.server.console.sessions import (
    DEFAULT_IDLE_TIMEOUT_SECONDS,
    Session,
    SessionStore,
    same_secret,
)
from lacework_tokens.server.console.web import (
    BodyTooLarge,
    ClientGone,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    cookie_header,
    read_request,
    redirect,
    send_response,
)
from lacework_tokens.server.ratelimit import LoginBackoff, RateLimiter
from lacework_tokens.server.services import Principal, ServiceError, Services, Unauthorized
from lacework_tokens.server.services.identity import may_manage_keys
from lacework_tokens.server.services.tokens import may_create, may_update

__all__ = ["CONSOLE_PREFIX", "ConsoleApp", "Context", "Handler", "Page", "Refused"]

SESSION_COOKIE: Final = "lwt_session"
SIGNIN_COOKIE: Final = "lwt_signin"

_HERE: Final = Path(__file__).parent
_STATIC_TYPES: Final = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}

logger = logging.getLogger("lacework_tokens.server.console")


class Refused(Exception):
    """A page refused before any service was called (bad form, CSRF): status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@frozen
class Abilities:
    """What the signed-in key's role may do: the page shows only these actions. The services
    decide the same from the same functions, so a hidden action is a refused one."""

    create_tokens: bool
    change_tokens: bool
    manage_keys: bool


@define
class Context:
    """One signed-in request, as a page handler gets it."""

    console: ConsoleApp
    request: Request
    services: Services
    principal: Principal
    session: Session
    params: dict[str, str]

    @property
    def may(self) -> Abilities:
        role = self.principal.role
        return Abilities(
            create_tokens=may_create(role),
            change_tokens=may_update(role),
            manage_keys=may_manage_keys(role),
        )

    def form(self, name: str) -> str:
        return self.request.form.get(name, "")

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        return self.console.render(
            template,
            status,
            principal=self.principal,
            may=self.may,
            csrf=self.session.csrf,
            notice=self.console.sessions.take_notice(self.session),
            **values,
        )

    def done(self, location: str, notice: str) -> Response:
        """Redirect after a change, with a line for the next page."""
        self.session.notice = notice
        return redirect(self.console.url(location))


Handler = Callable[[Context], Response]


@frozen
class Page:
    """One route of the console: ``pattern`` matches the path below the prefix (named groups
    become ``params``). ``pending`` names the one-time secret the page may show, from its
    params: every other page forgets such secrets."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    pending: Callable[[dict[str, str]], str] | None = None


class ConsoleApp:
    """The console over ``services``. ``login_limiter`` (per address) and ``login_backoff`` (per
    key id) are shared with the API's access-token endpoint: guessing a secret costs the same
    budget through either door."""

    def __init__(
        self,
        services: Services,
        *,
        login_limiter: RateLimiter | None = None,
        login_backoff: LoginBackoff | None = None,
        idle_timeout: float | None = None,
        sessions: SessionStore | None = None,
    ) -> None:
        from lacework_tokens.server.console import views

        self.services = services
        self.login_limiter = login_limiter
        self.login_backoff = login_backoff
        self.sessions = sessions or SessionStore(
            idle_timeout=DEFAULT_IDLE_TIMEOUT_SECONDS if idle_timeout is None else idle_timeout
        )
        self.prefix = CONSOLE_PREFIX
        self._pages = views.PAGES
        self._signin = views.signin_page
        self._signin_post = views.signin
        self._templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._templates.globals["console"] = self.prefix
        self._templates.filters["when"] = shown_time
        self._static = {
            path.name: (path.read_bytes(), _STATIC_TYPES[path.suffix])
            for path in (_HERE / "static").iterdir()
            if path.suffix in _STATIC_TYPES
        }

    def url(self, path: str) -> str:
        return self.prefix + path

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        body = self._templates.get_template(template).render(**values)
        return Response(status, body.encode())

    def error_page(
        self, status: int, message: str, *, signed_in: Context | None = None
    ) -> Response:
        if signed_in is not None:
            return signed_in.render("error.html", status, code=status, message=message)
        return self.render(
            "error.html", status, code=status, message=message, principal=None, notice=""
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            request = await read_request(scope, receive, self.prefix)
        except ClientGone:
            return
        except BodyTooLarge:
            response = self.error_page(413, "The form is larger than this console accepts.")
            response.headers.append(("connection", "close"))
            await send_response(send, response)
            return
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(None, functools.partial(self.serve, request))
        await send_response(send, response)
        if logger.isEnabledFor(logging.DEBUG):
            # Paths name tokens by lookup and keys by id, never by a secret.
            logger.debug(
                "%s %s%s %d %.1fms",
                request.method,
                self.prefix,
                request.path,
                response.status,
                (time.perf_counter() - started) * 1000,
            )

    # --- dispatch -----------------------------------------------------------------------------

    def serve(self, request: Request) -> Response:
        """The answer to one request (synchronous: runs in a worker thread)."""
        try:
            return self._serve(request)
        except Exception as exc:
            # Neither the exception's text nor the form may reach the log: either could hold
            # a secret. The type and the route are enough to find the bug.
            logger.error(
                "unexpected %s while serving console %s %s",
                type(exc).__name__,
                request.method,
                request.path.split("/")[1] if "/" in request.path else "-",
            )
            return self.error_page(500, "Something went wrong on the server.")

    def _serve(self, request: Request) -> Response:
        path = request.path
        if request.method == "GET" and path.startswith("/static/"):
            return self._static_file(path[len("/static/") :])
        if path == "/signin":
            if request.method == "POST":
                return self._signin_post(self, request)
            if request.method == "GET":
                return self._signin(self, request)
            return self._not_allowed()
        matched = self._match(request)
        if matched is None:
            return self.error_page(404, "There is no such page.")
        page, params = matched
        if page is None:
            return self._not_allowed()
        cookie = request.cookies.get(SESSION_COOKIE)
        session, timed_out = self.sessions.find(cookie)
        if session is None:
            if request.method != "GET":
                return self.error_page(401, "Sign in first: your session has ended.")
            where = "/signin?expired=1" if timed_out else "/signin"
            return redirect(self.url(where))
        try:
            principal = self.services.identity.principal_for_key(session.key_id, session.account)
        except Unauthorized:
            self.sessions.close(cookie)
            if request.method != "GET":
                return self.error_page(
                    401, "Sign in again: the API key of this session is disabled or deleted."
                )
            return redirect(self.url("/signin?revoked=1"))
        context = Context(self, request, self.services, principal, session, params)
        self.sessions.forget_pending(session, keep=page.pending(params) if page.pending else "")
        try:
            if request.method == "POST":
                self.check_form(request, session.csrf)
            return page.handler(context)
        except Refused as exc:
            return self.error_page(exc.status, exc.message, signed_in=context)
        except ServiceError as exc:
            return self.error_page(exc.status, exc.message, signed_in=context)

    def _match(self, request: Request) -> tuple[Page | None, dict[str, str]] | None:
        """The page for this method and path; ``(None, {})`` when only the method is wrong."""
        path_known = False
        for page in self._pages:
            found = page.pattern.fullmatch(request.path)
            if found is None:
                continue
            if page.method == request.method:
                return page, found.groupdict()
            path_known = True
        return (None, {}) if path_known else None

    def _not_allowed(self) -> Response:
        return self.error_page(405, "This page does not take that kind of request.")

    def check_form(self, request: Request, expected: str) -> None:
        """Refuse a form that did not come from a page of this console (CSRF)."""
        origin = request.headers.get("origin")
        if origin is not None and origin != request.origin():
            raise Refused(403, "This form was sent from another site and was refused.")
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            raise Refused(403, "This form was sent from another site and was refused.")
        sent = request.form.get("csrf", "")
        if not sent or not expected or not same_secret(sent, expected):
            raise Refused(
                403, "This form has expired or did not come from this console: reload the page."
            )

    def session_cookie(
        self, request: Request, value: str, *, max_age: int | None = None
    ) -> tuple[str, str]:
        return cookie_header(
            SESSION_COOKIE, value, path=self.prefix, secure=request.secure, max_age=max_age
        )

    def signin_cookie(self, request: Request, value: str, *, max_age: int) -> tuple[str, str]:
        return cookie_header(
            SIGNIN_COOKIE, value, path=self.prefix, secure=request.secure, max_age=max_age
        )

    def _static_file(self, name: str) -> Response:
        found = self._static.get(name)
        if found is None:
            return self.error_page(404, "There is no such file.")
        body, content_type = found
        return Response(200, body, content_type=content_type, cacheable=True)

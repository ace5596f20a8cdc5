"""The console's pages: each handler reads its form, calls the services once or twice, and
renders a template or redirects (a change is always followed by a redirect, so a reload never
repeats it).

A token is named by its id (the lookup) in every URL and form. Its value reaches a page only on
occasions a person asked for: right after creating it, on an explicit reveal or install line,
and in a downloaded ``config.json`` or Kubernetes Secret (the answer to a POST); all but the
first are audited as reveals.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Final

from lacework_tokens import delivery, limits, wire
from lacework_tokens.agent_tokens import soft_delete_name
from lacework_tokens.server.console.app import (
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    ConsoleApp,
    Context,
    Handler,
    Page,
    Refused,
)
from lacework_tokens.server.console.present import (
    CHART_DAYS,
    TokenState,
    agent_rows,
    audit_rows,
    filter_tokens,
    key_rows,
    token_row,
    usage_chart,
)
from lacework_tokens.server.console.web import Request, Response, redirect
from lacework_tokens.server.ratelimit import LoginBackingOff, retry_after_header
from lacework_tokens.server.services import ServiceError, Unauthorized
from lacework_tokens.server.services.identity import INVALID_KEY_MESSAGE, Principal
from lacework_tokens.server.storage.records import Role, TokenRecord

__all__ = ["PAGES", "signin", "signin_page"]

OS_CHOICES: Final = ("linux", "windows")
# Expiry choices of + Add New: duration (as ``limits.duration_seconds`` reads it) → words.
EXPIRY_CHOICES: Final = (
    ("", "Never"),
    ("1h", "In 1 hour"),
    ("24h", "In 24 hours"),
    ("7d", "In 7 days"),
    ("30d", "In 30 days"),
    ("90d", "In 90 days"),
)
_EMPTY_TOKEN_FORM: Final = {
    "name": "",
    "description": "",
    "os": "linux",
    "expires_in": "",
    "single_use": "",
    "scope": "",
}
# Active agents in the tokens table and on a token's page: within a day, as ``token list``.
ACTIVE_SPAN: Final = timedelta(hours=24)
# Disabling a token stops the agents seen this recently (``lacework agent list``'s window).
IMPACT_SPAN: Final = timedelta(days=7)
# A token's page lists and charts its agents seen within the chart's days.
CHART_SPAN: Final = timedelta(days=CHART_DAYS)
TOKEN_AGENTS_SHOWN: Final = 1000
AGENTS_SHOWN: Final = 1000
STATUS_CHOICES: Final = ("ACTIVE", "INACTIVE", "TOKEN_DISABLED")
AUDIT_ROWS_DEFAULT: Final = 100
AUDIT_ROWS_MAX: Final = 1000
TOKEN_EVENTS_SHOWN: Final = 50
SIGNIN_COOKIE_SECONDS: Final = 3600
SECRET_WARNING: Final = (
    "Treat this token as a secret: anyone who has it can enroll agents in this account. "
    "Store it in a secrets manager, not in source code or tickets."
)


# --- sign-in and sign-out -------------------------------------------------------------------


def _signin_form(
    console: ConsoleApp, request: Request, *, status: int = 200, message: str = "", key_id: str = ""
) -> Response:
    """The sign-in page with a fresh anti-forgery value, set both as a cookie and in the form
    (a forged cross-site form cannot know the cookie's value)."""
    nonce = secrets.token_urlsafe(32)
    response = console.render(
        "signin.html",
        status,
        principal=None,
        notice="",
        message=message,
        key_id=key_id,
        signin_csrf=nonce,
    )
    response.headers.append(console.signin_cookie(request, nonce, max_age=SIGNIN_COOKIE_SECONDS))
    return response


def signin_page(console: ConsoleApp, request: Request) -> Response:
    session, _ = console.sessions.find(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        return redirect(console.url("/tokens"))
    message = ""
    if "expired" in request.query:
        message = "Your session ended after a while without activity: sign in again."
    elif "revoked" in request.query:
        message = "The API key of your session was disabled or deleted: sign in again."
    elif "signed_out" in request.query:
        message = "You are signed out."
    return _signin_form(console, request, message=message)


def _credentials(request: Request) -> tuple[str, str]:
    """The key id and secret from the form's fields or from an uploaded key file."""
    key_file = request.files.get("key_file", b"")
    if key_file:
        try:
            parsed = wire.parse(json.loads(key_file), wire.ApiKeyFile)
        except (ValueError, wire.WireError):
            raise Refused(
                400,
                "That file is not an API key file: Lacework's JSON with keyId, secret and account.",
            ) from None
        return parsed.key_id, parsed.secret
    return request.form.get("key_id", "").strip(), request.form.get("secret", "").strip()


def signin(console: ConsoleApp, request: Request) -> Response:
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    try:
        console.check_form(request, expected)
    except Refused as exc:
        return _signin_form(console, request, status=exc.status, message=exc.message)
    if console.login_limiter is not None:
        wait = console.login_limiter.take(request.client)
        if wait:
            return _too_many(console, request, wait, "Too many sign-in attempts from this address")
    try:
        key_id, secret = _credentials(request)
    except Refused as exc:
        return _signin_form(console, request, status=exc.status, message=exc.message)

    def sign_in() -> Principal:
        return console.services.identity.sign_in(key_id, secret, address=request.client)

    backoff = console.login_backoff
    try:
        principal = (
            sign_in() if backoff is None else backoff.attempt(key_id, sign_in, failure=Unauthorized)
        )
    except LoginBackingOff as held:
        return _too_many(
            console,
            request,
            held.wait,
            "Too many failed sign-ins for this API key",
            key_id=key_id[:128],
        )
    except Unauthorized:
        return _signin_form(
            console, request, status=401, message=INVALID_KEY_MESSAGE, key_id=key_id[:128]
        )
    # A new session on every sign-in: a cookie planted before sign-in is worth nothing after.
    console.sessions.close(request.cookies.get(SESSION_COOKIE))
    cookie, _ = console.sessions.open(principal.key_id, principal.account)
    response = redirect(console.url("/tokens"))
    response.headers.append(console.session_cookie(request, cookie))
    response.headers.append(console.signin_cookie(request, "", max_age=0))
    return response


def _too_many(
    console: ConsoleApp, request: Request, wait: float, why: str, key_id: str = ""
) -> Response:
    """The sign-in form again, 429 with ``Retry-After``: ``<why>: wait N seconds.``"""
    seconds = retry_after_header(wait).decode()
    response = _signin_form(
        console, request, status=429, message=f"{why}: wait {seconds} seconds.", key_id=key_id
    )
    response.headers.append(("retry-after", seconds))
    return response


def signout(ctx: Context) -> Response:
    ctx.console.sessions.close(ctx.request.cookies.get(SESSION_COOKIE))
    response = redirect(ctx.console.url("/signin?signed_out=1"))
    response.headers.append(ctx.console.session_cookie(ctx.request, "", max_age=0))
    return response


# --- agent tokens ---------------------------------------------------------------------------


def home(ctx: Context) -> Response:
    return redirect(ctx.console.url("/tokens"))


def tokens_page(ctx: Context) -> Response:
    search = ctx.request.query.get("q", "")[: limits.ALIAS_MAX_LENGTH]
    state = ctx.request.query.get("state", "")
    if state not in {s.value for s in TokenState}:
        state = ""
    now = ctx.services.clock.precise()
    records = ctx.services.tokens.records(ctx.principal)
    usage = ctx.services.agents.usage_by_id(ctx.principal, records, since=now - ACTIVE_SPAN)
    rows = filter_tokens(records, usage, now=now, search=search, state=state)
    return ctx.render(
        "tokens.html",
        rows=rows,
        total=len(records),
        search=search,
        state=state,
        states=[s.value for s in TokenState],
    )


def new_token_page(ctx: Context) -> Response:
    if not ctx.may.create_tokens:
        raise Refused(
            403, f"API key role '{ctx.principal.role.value}' may not create agent access tokens."
        )
    return _new_token_form(ctx, _EMPTY_TOKEN_FORM)


def _new_token_form(
    ctx: Context, form: dict[str, str], *, status: int = 200, message: str = ""
) -> Response:
    return ctx.render(
        "token_new.html",
        status,
        form=form,
        os_choices=OS_CHOICES,
        expiry_choices=EXPIRY_CHOICES,
        message=message,
    )


def create_token(ctx: Context) -> Response:
    form = {name: ctx.form(name).strip() for name in _EMPTY_TOKEN_FORM}
    form["os"] = form["os"] or limits.DEFAULT_OS
    offered = {duration for duration, _ in EXPIRY_CHOICES if duration}
    expires_in = limits.duration_seconds(form["expires_in"]) if form["expires_in"] else None
    if form["expires_in"] and (form["expires_in"] not in offered or expires_in is None):
        return _new_token_form(ctx, form, status=400, message="Choose an expiry from the list.")
    props = wire.TokenProps(
        description=form["description"] or None,
        os=form["os"],
        expires_at=ctx.services.clock.precise() + timedelta(seconds=expires_in)
        if expires_in
        else wire.KEEP,
        max_enrollments=1 if form["single_use"] else wire.KEEP,
        scope=form["scope"] or wire.KEEP,
    )
    request = wire.CreateAgentTokenRequest(
        token_alias=form["name"], token_enabled=True, props=props
    )
    try:
        created = ctx.services.tokens.create_token(ctx.principal, request)
    except ServiceError as exc:
        if exc.status == 403:
            raise
        return _new_token_form(ctx, form, status=exc.status, message=exc.message)
    token_id = ctx.services.tokens.id_of(created.token)
    ctx.console.sessions.keep_pending(ctx.session, f"token:{token_id}", created.token)
    return redirect(ctx.console.url(f"/tokens/{token_id}/created"))


def _token_page(
    ctx: Context,
    *,
    value: str | None = None,
    install_line: str | None = None,
    install_note: str = "",
    server_url: str = "",
    status: int = 200,
    message: str = "",
) -> Response:
    record = ctx.services.tokens.record(ctx.principal, ctx.params["id"])
    now = ctx.services.clock.precise()
    usage = ctx.services.agents.usage_by_id(ctx.principal, [record], since=now - ACTIVE_SPAN)
    listing = ctx.services.agents.list_agents(
        ctx.principal, token_lookup=record.lookup, window=CHART_SPAN, limit=TOKEN_AGENTS_SHOWN
    )
    agents = agent_rows(listing.agents, {record.lookup: record.alias})
    events = ctx.services.audit.list_token_events(
        ctx.principal.account, record.lookup, TOKEN_EVENTS_SHOWN
    )
    return ctx.render(
        "token.html",
        status,
        token=token_row(record, usage.get(record.lookup), now=now),
        week_active=_stopping(ctx, record),
        agents=agents,
        agents_total=listing.total,
        chart=usage_chart(agents, now),
        events=audit_rows(events),
        value=value,
        install_line=install_line,
        install_note=install_note,
        server_url=server_url,
        warning=SECRET_WARNING,
        message=message,
    )


def token_page(ctx: Context) -> Response:
    return _token_page(ctx)


def token_created(ctx: Context) -> Response:
    token_id = ctx.params["id"]
    record = ctx.services.tokens.record(ctx.principal, token_id)
    value = ctx.console.sessions.take_pending(ctx.session, f"token:{token_id}")
    if value is None:
        return ctx.done(
            f"/tokens/{token_id}",
            "The value was shown once, after the token was created; reveal it here if you "
            "need it again.",
        )
    return ctx.render(
        "token_created.html",
        token=token_row(record, now=ctx.services.clock.precise()),
        value=value,
        warning=SECRET_WARNING,
    )


def reveal_token(ctx: Context) -> Response:
    record = ctx.services.tokens.record(ctx.principal, ctx.params["id"])
    value = ctx.services.tokens.reveal(ctx.principal, record.lookup, why="revealed in the console")
    if record.os != limits.DEFAULT_OS:  # install.sh is for Linux: the page says so
        return _token_page(ctx, value=value)
    line, note = _install_line(value, "")
    return _token_page(ctx, value=value, install_line=line, install_note=note)


# --- install options: each puts the value in what is shown or downloaded, so each is audited
# as a reveal. What a person typed is checked first: a refused option reveals nothing.

# Stands for the value while the options of a download are checked, before the value is read.
_VALUE_TO_COME: Final = "value"
CONFIG_FILE: Final = "config.json"
KUBERNETES_SECRET_FILE: Final = f"{delivery.KUBERNETES_SECRET_NAME}.yaml"


def _server_url(ctx: Context) -> str:
    return ctx.form("server_url").strip()


def _install_line(value: str, server_url: str) -> tuple[str | None, str]:
    """The install line of a Linux token, or why install.sh would refuse it."""
    try:
        return delivery.install_command(value, server_url=server_url or None), ""
    except ValueError as exc:
        return None, str(exc)


def install_token(ctx: Context) -> Response:
    record = ctx.services.tokens.record(ctx.principal, ctx.params["id"])
    server_url = _server_url(ctx)
    problem = delivery.install_script_server_url_problem(server_url) if server_url else None
    if record.os != limits.DEFAULT_OS:
        problem = (
            f"install.sh installs Linux agents; this is a {record.os} token: give its agents "
            "the config.json."
        )
    if problem is not None:
        return _token_page(ctx, status=400, message=problem, server_url=server_url)
    value = ctx.services.tokens.reveal(
        ctx.principal, record.lookup, why="install line shown in the console"
    )
    line, note = _install_line(value, server_url)
    return _token_page(
        ctx, value=value, install_line=line, install_note=note, server_url=server_url
    )


def _agent_config(ctx: Context, why: str) -> delivery.AgentConfig | Response:
    """The token's ``config.json`` with the server URL of the form, or the page saying why the
    URL was refused (then nothing is revealed)."""
    server_url = _server_url(ctx) or None
    try:
        delivery.agent_config(_VALUE_TO_COME, server_url=server_url)
    except ValueError as exc:
        return _token_page(ctx, status=400, message=str(exc), server_url=server_url or "")
    value = ctx.services.tokens.reveal(ctx.principal, ctx.params["id"], why=why)
    return delivery.agent_config(value, server_url=server_url)


def download_config(ctx: Context) -> Response:
    config = _agent_config(ctx, "config.json downloaded from the console")
    if isinstance(config, Response):
        return config
    return _download(config.to_json(), "application/json", CONFIG_FILE)


def download_kubernetes_secret(ctx: Context) -> Response:
    config = _agent_config(ctx, "Kubernetes Secret downloaded from the console")
    if isinstance(config, Response):
        return config
    manifest = delivery.kubernetes_secret(config)
    return _download(manifest, "application/yaml", KUBERNETES_SECRET_FILE)


def _download(body: str, content_type: str, filename: str) -> Response:
    """A file the browser saves, never shows: a POST's answer, so no URL or history holds it."""
    return Response(
        200,
        body.encode(),
        content_type=f"{content_type}; charset=utf-8",
        headers=[("content-disposition", f'attachment; filename="{filename}"')],
    )


def edit_token(ctx: Context) -> Response:
    record = ctx.services.tokens.record(ctx.principal, ctx.params["id"])
    name = ctx.form("name").strip()
    description = ctx.form("description").strip()
    request = wire.UpdateAgentTokenRequest(
        token_alias=name if name != record.alias else None,
        props=wire.TokenProps(description=description)
        if description != record.description
        else None,
    )
    if request.token_alias is None and request.props is None:
        return ctx.done(f"/tokens/{record.lookup}", "Nothing changed.")
    try:
        ctx.services.tokens.update_token_by_id(ctx.principal, record.lookup, request)
    except ServiceError as exc:
        if exc.status == 403:
            raise
        return _token_page(ctx, status=exc.status, message=exc.message)
    return ctx.done(f"/tokens/{record.lookup}", "Token saved.")


def _confirm(
    ctx: Context,
    *,
    title: str,
    question: str,
    consequences: list[str],
    action: str,
    button: str,
    back: str,
    impact: str = "",
) -> Response:
    return ctx.render(
        "confirm.html",
        title=title,
        question=question,
        impact=impact,
        consequences=consequences,
        action=action,
        button=button,
        back=back,
    )


def _require_confirmed(ctx: Context) -> None:
    if ctx.form("confirm") != "yes":
        raise Refused(400, "This change needs the confirmation of its page.")


def impact_words(stopping: int) -> str:
    """What disabling a token does to its agents, as the confirmation says it."""
    days = IMPACT_SPAN.days
    if not stopping:
        return f"No agent checked in with this token during the last {days} days."
    agents = "1 agent" if stopping == 1 else f"{stopping} agents"
    return f"{agents} checked in during the last {days} days and will stop reporting."


def _stopping(ctx: Context, record: TokenRecord) -> int:
    """How many of the token's agents checked in within ``IMPACT_SPAN``."""
    now = ctx.services.clock.precise()
    usage = ctx.services.agents.usage_by_id(ctx.principal, [record], since=now - IMPACT_SPAN)
    return usage[record.lookup].active if record.lookup in usage else 0


def confirm_disable(ctx: Context) -> Response:
    record = ctx.services.tokens.record(ctx.principal, ctx.params["id"])
    return _confirm(
        ctx,
        title=f"Disable {record.alias}",
        question=f"Disable the agent access token {record.alias}?",
        impact=impact_words(_stopping(ctx, record)),
        consequences=[
            "Agents using this token can no longer communicate with the account.",
            "New agents cannot enroll with it. You can enable it again later.",
        ],
        action=f"/tokens/{record.lookup}/disable",
        button="Disable token",
        back=f"/tokens/{record.lookup}",
    )


def disable_token(ctx: Context) -> Response:
    _require_confirmed(ctx)
    record = ctx.services.tokens.update_token_by_id(
        ctx.principal, ctx.params["id"], wire.UpdateAgentTokenRequest(token_enabled=False)
    )
    return ctx.done(f"/tokens/{record.lookup}", f"Token {record.alias} disabled.")


def enable_token(ctx: Context) -> Response:
    record = ctx.services.tokens.update_token_by_id(
        ctx.principal, ctx.params["id"], wire.UpdateAgentTokenRequest(token_enabled=True)
    )
    return ctx.done(f"/tokens/{record.lookup}", f"Token {record.alias} enabled.")


def confirm_delete(ctx: Context) -> Response:
    record = ctx.services.tokens.record(ctx.principal, ctx.params["id"])
    return _confirm(
        ctx,
        title=f"Delete {record.alias}",
        question=f"Delete the agent access token {record.alias}?",
        impact=impact_words(_stopping(ctx, record)) if record.enabled else "",
        consequences=[
            "Tokens are never erased: like Terraform's destroy, the token is disabled and "
            f"renamed {record.alias}-xxxxx-deleted, which frees its name for a new token.",
            "Agents using this token can no longer communicate with the account.",
        ],
        action=f"/tokens/{record.lookup}/delete",
        button="Delete token",
        back=f"/tokens/{record.lookup}",
    )


def delete_token(ctx: Context) -> Response:
    _require_confirmed(ctx)
    record = ctx.services.tokens.record(ctx.principal, ctx.params["id"])
    ctx.services.tokens.update_token_by_id(
        ctx.principal,
        record.lookup,
        wire.UpdateAgentTokenRequest(
            token_enabled=False, token_alias=soft_delete_name(record.alias)
        ),
    )
    return ctx.done("/tokens", f"Token {record.alias} deleted (disabled and renamed).")


# --- agents ---------------------------------------------------------------------------------


def agents_page(ctx: Context) -> Response:
    records = ctx.services.tokens.records(ctx.principal)
    names = {record.lookup: record.alias for record in records}
    token = ctx.request.query.get("token", "")
    status = ctx.request.query.get("status", "")
    listing = ctx.services.agents.list_agents(
        ctx.principal,
        token_lookup=token if token in names else None,
        status=status if status in STATUS_CHOICES else None,
        limit=AGENTS_SHOWN,
    )
    return ctx.render(
        "agents.html",
        agents=agent_rows(listing.agents, names),
        total=listing.total,
        tokens=sorted(names.items(), key=lambda item: item[1].casefold()),
        token=token if token in names else "",
        statuses=STATUS_CHOICES,
        status_filter=status if status in STATUS_CHOICES else "",
        days=IMPACT_SPAN.days,
    )


# --- audit ----------------------------------------------------------------------------------


def audit_page(ctx: Context) -> Response:
    try:
        limit = int(ctx.request.query.get("limit", AUDIT_ROWS_DEFAULT))
    except ValueError:
        limit = AUDIT_ROWS_DEFAULT
    limit = max(1, min(limit, AUDIT_ROWS_MAX))
    events = ctx.services.audit.list_events(ctx.principal.account, limit)
    return ctx.render(
        "audit.html",
        events=audit_rows(events),
        limit=limit,
        more=len(events) == limit and limit < AUDIT_ROWS_MAX,
        next_limit=min(limit * 2, AUDIT_ROWS_MAX),
    )


# --- API keys -------------------------------------------------------------------------------

ROLE_CHOICES: Final = tuple(role.value for role in Role)


def _keys_page(
    ctx: Context, *, status: int = 200, message: str = "", user: str = "", role: str = "read-only"
) -> Response:
    keys = ctx.services.identity.list_api_keys_as(ctx.principal)
    own = next((key for key in keys if key.key_id == ctx.principal.key_id), None)
    return ctx.render(
        "keys.html",
        status,
        keys=key_rows(keys, ctx.principal.key_id),
        roles=ROLE_CHOICES,
        role=role,
        user=user or (own.user if own else ""),
        message=message,
    )


def keys_page(ctx: Context) -> Response:
    return _keys_page(ctx)


def create_key(ctx: Context) -> Response:
    role_name = ctx.form("role")
    user = ctx.form("user").strip()
    if role_name not in ROLE_CHOICES:
        return _keys_page(ctx, status=400, message="Choose a role.", user=user)
    try:
        created = ctx.services.identity.create_api_key_as(
            ctx.principal, role=Role(role_name), user=user or None
        )
    except ServiceError as exc:
        if exc.status == 403:
            raise
        return _keys_page(ctx, status=exc.status, message=exc.message, user=user, role=role_name)
    key_file = json.dumps(wire.converter.unstructure(created), indent=2) + "\n"
    ctx.console.sessions.keep_pending(ctx.session, f"key:{created.key_id}", key_file)
    return redirect(ctx.console.url(f"/keys/{created.key_id}/created"))


def _pending_key(ctx: Context) -> wire.ApiKeyFile | None:
    held = ctx.console.sessions.pending(ctx.session, f"key:{ctx.params['key']}")
    return None if held is None else wire.parse(json.loads(held), wire.ApiKeyFile)


def key_created(ctx: Context) -> Response:
    key = _pending_key(ctx)
    if key is None:
        return ctx.done("/keys", "The secret was shown once, when the key was created.")
    return ctx.render("key_created.html", key=key)


def download_key(ctx: Context) -> Response:
    held = ctx.console.sessions.pending(ctx.session, f"key:{ctx.params['key']}")
    if held is None:
        return ctx.done(
            "/keys", "The key file can only be downloaded right after creating the key."
        )
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", ctx.params["key"])
    return Response(
        200,
        held.encode(),
        content_type="application/json",
        headers=[("content-disposition", f'attachment; filename="{name}.json"')],
    )


def enable_key(ctx: Context) -> Response:
    ctx.services.identity.set_api_key_enabled_as(ctx.principal, ctx.params["key"], True)
    return ctx.done("/keys", f"API key {ctx.params['key']} enabled.")


def disable_key(ctx: Context) -> Response:
    ctx.services.identity.set_api_key_enabled_as(ctx.principal, ctx.params["key"], False)
    return ctx.done(
        "/keys", f"API key {ctx.params['key']} disabled: its bearer tokens and sessions stopped."
    )


def confirm_delete_key(ctx: Context) -> Response:
    key_id = ctx.params["key"]
    if not ctx.may.manage_keys:
        raise Refused(403, f"API key role '{ctx.principal.role.value}' may not delete API keys.")
    return _confirm(
        ctx,
        title=f"Delete API key {key_id}",
        question=f"Delete the API key {key_id}?",
        consequences=[
            "Its bearer tokens and console sessions stop working at once.",
            "A deleted key cannot be restored: disable it instead if you may need it again.",
        ],
        action=f"/keys/{key_id}/delete",
        button="Delete API key",
        back="/keys",
    )


def delete_key(ctx: Context) -> Response:
    _require_confirmed(ctx)
    ctx.services.identity.delete_api_key_as(ctx.principal, ctx.params["key"])
    return ctx.done("/keys", f"API key {ctx.params['key']} deleted.")


# --- the table ------------------------------------------------------------------------------

_TOKEN: Final = r"/tokens/(?P<id>[0-9a-f]{64})"
_KEY: Final = r"/keys/(?P<key>[^/]{1,256})"


def _token_secret(params: dict[str, str]) -> str:
    return f"token:{params['id']}"


def _key_secret(params: dict[str, str]) -> str:
    return f"key:{params['key']}"


def _page(
    method: str,
    pattern: str,
    handler: Handler,
    pending: Callable[[dict[str, str]], str] | None = None,
) -> Page:
    return Page(method, re.compile(pattern), handler, pending)


PAGES: Final = (
    _page("GET", r"/?", home),
    _page("POST", r"/signout", signout),
    _page("GET", r"/tokens", tokens_page),
    _page("POST", r"/tokens", create_token),
    _page("GET", r"/tokens/new", new_token_page),
    _page("GET", _TOKEN, token_page),
    _page("GET", f"{_TOKEN}/created", token_created, _token_secret),
    _page("POST", f"{_TOKEN}/reveal", reveal_token),
    _page("POST", f"{_TOKEN}/install", install_token),
    _page("POST", f"{_TOKEN}/config.json", download_config),
    _page("POST", f"{_TOKEN}/kubernetes-secret", download_kubernetes_secret),
    _page("POST", f"{_TOKEN}/edit", edit_token),
    _page("GET", f"{_TOKEN}/disable", confirm_disable),
    _page("POST", f"{_TOKEN}/disable", disable_token),
    _page("POST", f"{_TOKEN}/enable", enable_token),
    _page("GET", f"{_TOKEN}/delete", confirm_delete),
    _page("POST", f"{_TOKEN}/delete", delete_token),
    _page("GET", r"/agents", agents_page),
    _page("GET", r"/audit", audit_page),
    _page("GET", r"/keys", keys_page),
    _page("POST", r"/keys", create_key),
    _page("GET", f"{_KEY}/created", key_created, _key_secret),
    _page("POST", f"{_KEY}/download", download_key, _key_secret),
    _page("POST", f"{_KEY}/enable", enable_key),
    _page("POST", f"{_KEY}/disable", disable_key),
    _page("GET", f"{_KEY}/delete", confirm_delete_key),
    _page("POST", f"{_KEY}/delete", delete_key),
)

"""The HTTP client: one ``requests`` session, the bearer-token lifecycle and retries.

- Bearer tokens are fetched from ``POST /api/v2/access/tokens`` on first use, shared by every
  thread (one fetch at a time), refreshed shortly before ``expiresAt``, and fetched once more
  when an API call answers 401. A static ``api_token`` is used as given.
- Connection failures, timeouts, 429 (after ``Retry-After``) and 502/503/504 are retried with
  exponential backoff and jitter, at most ``max_attempts`` times in all. Before each wait the
  client calls ``on_retry`` (if given) with a ``RetryNotice`` and logs it at INFO on
  ``lacework_tokens.client``; a library stays silent unless its user asks. A host name that does
  not resolve is not retried: the error names DNS and the setting that chose the host.
- Against a server other than the account's own (``LW_API_SERVER_URL``), ``check_account`` (on
  in ``from_env``) asks ``GET /api/v2/UserProfile`` once whose key this is, and refuses a key of
  another account than the configured one, naming both.
- A request that must not run twice (creating a token) is retried only after asking the server
  whether the first attempt took effect: see ``request(..., recover=...)``.
- ``request`` answers parsed JSON (``Json``); ``request_one`` and ``request_list`` answer models of
  ``wire``, read from the API v2 envelope ``{"data": ...}``; ``request_whole`` reads the whole
  answer as one model (an AgentInfo page: ``data`` and ``paging``).
- Errors become ``lacework_tokens.errors`` exceptions carrying the server's message; a token
  value in a path is masked and secrets are never part of a message.
- urllib3 logs every request line at DEBUG, and a token value is the last segment of a
  ``GET``/``PATCH`` path: a filter on urllib3's logger masks it before any handler sees it.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeAlias, TypeVar
from urllib.parse import urlsplit

import requests
import tenacity
from attrs import frozen

from lacework_tokens import __version__, errors, limits, wire
from lacework_tokens.config import (
    SERVER_URL_VARIABLE,
    ClientSettings,
    default_base_url,
    resolve_settings,
)

if TYPE_CHECKING:
    from lacework_tokens.agent_tokens import AgentTokens
    from lacework_tokens.agents import Agents

__all__ = ["ACCESS_TOKEN_PATH", "USER_PROFILE_PATH", "Client", "Json", "RetryNotice"]

ACCESS_TOKEN_PATH: Final = "/api/v2/access/tokens"
USER_PROFILE_PATH: Final = "/api/v2/UserProfile"
RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})
# A gateway error or timeout does not say whether the server acted on the request.
UNCERTAIN_STATUSES: Final = frozenset({502, 503, 504})
REFRESH_MARGIN: Final = timedelta(seconds=60)
SNIPPET_LENGTH: Final = 200

# Parsed JSON, as ``json.loads`` returns it.
Json: TypeAlias = dict[str, "Json"] | list["Json"] | str | int | float | bool | None
T = TypeVar("T")

logger = logging.getLogger("lacework_tokens.client")


@frozen
class RetryNotice:
    """One failed attempt, told before the client waits ``wait`` seconds to try again.

    ``elapsed`` is the time since the first attempt of this call began, so ``elapsed + wait``
    is how long the caller will have waited when the next attempt starts.
    """

    method: str
    path: str  # token values masked
    failure: errors.LaceworkError
    attempt: int  # the attempt that failed, from 1
    max_attempts: int
    elapsed: float
    wait: float

    def __str__(self) -> str:
        return (
            f"{self.failure}; retrying in {self.wait:.1f} s "
            f"(attempt {self.attempt + 1} of {self.max_attempts})"
        )


# A token value in a request path, as urllib3 logs it ("GET /api/v2/AgentAccessTokens/<value>").
_TOKEN_IN_PATH: Final = re.compile(r"(/AgentAccessTokens/)(?!search(?:[\s\"?/]|$))([^/\s\"?#]+)")


class _MaskTokenPaths(logging.Filter):
    """Masks token values in urllib3's request-line log records (only built at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _TOKEN_IN_PATH.sub(lambda m: m.group(1) + wire.mask(m.group(2)), message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def _mask_token_paths_in_urllib3_logs() -> None:
    target = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _MaskTokenPaths) for f in target.filters):
        target.addFilter(_MaskTokenPaths())


_mask_token_paths_in_urllib3_logs()


class _RetryableFailure(Exception):
    """One failed attempt worth repeating. Internal: callers see ``errors`` exceptions."""

    def __init__(self, final: errors.LaceworkError, *, uncertain: bool) -> None:
        super().__init__(final.message)
        self.final = final
        # True when the server may have acted on the request before the failure.
        self.uncertain = uncertain


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_LENGTH else flat[:SNIPPET_LENGTH] + "…"


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _server_message(response: requests.Response) -> str:
    """``data.message``, else ``message`` (as ``laceworksdk`` reads them), else a snippet."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        data = body.get("data")
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return str(data["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    text = _snippet(response.text) if response.text else ""
    reason = response.reason or "error"
    return f"{reason}: {text}" if text else str(reason)


class Client:
    """A client for the Lacework API v2 agent-token surface (the real service or a backend).

    ``base_url`` defaults to ``LW_API_SERVER_URL`` when set, else ``https://{account}.lacework.net``.
    Use ``Client.from_env()`` to read ``LW_*`` variables and ``~/.lacework.toml`` profiles, or
    pass resolved ``settings=`` (a ``ClientSettings``) instead of account and credentials.
    """

    def __init__(
        self,
        account: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        subaccount: str | None = None,
        api_token: str | None = None,
        base_url: str | None = None,
        organization: bool = False,
        settings: ClientSettings | None = None,
        timeout: float = 30.0,
        max_attempts: int = 4,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        retry_after_cap: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
        check_account: bool = False,
    ) -> None:
        if settings is None:
            settings = ClientSettings.given(
                account,
                api_key,
                api_secret,
                api_token=api_token,
                subaccount=subaccount,
                organization=organization,
                base_url=base_url,
            )
        elif any((account, api_key, api_secret, subaccount, api_token, base_url, organization)):
            raise TypeError("pass either settings or the account and its credentials, not both")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.settings = settings
        self.timeout = timeout
        self.max_attempts = max_attempts
        # Exponential growth plus up to one second of jitter, so clients that failed together
        # do not retry together.
        self._backoff = tenacity.wait_exponential(
            multiplier=backoff_initial, max=backoff_max
        ) + tenacity.wait_random(0, min(1.0, backoff_max))
        self._retry_after_cap = retry_after_cap
        self._sleep = sleep
        self._clock = clock or (lambda: datetime.now(UTC))
        self._bearer: str | None = None
        self._refresh_at: datetime | None = None
        self._bearer_lock = threading.Lock()
        self._bearer_fetches = 0
        self._on_retry = on_retry
        # The real service has the account in its host name; any other server is asked once.
        self._account_checked = not (
            check_account and _names_an_account(settings.account) and not self._own_server()
        )
        self._account_lock = threading.Lock()
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": f"lacework-tokens/{__version__}",
            }
        )
        # requests would read proxies, the CA bundle and ~/.netrc from the environment on every
        # request: two walks over os.environ each time, and a netrc entry would replace the
        # Authorization header. Read the environment once, here, the way requests reads it.
        self.session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self.session.verify = bundle
        self.session.trust_env = False
        if settings.subaccount:
            self.session.headers["Account-Name"] = settings.subaccount
        if settings.organization:
            self.session.headers["Org-Access"] = "true"

    @classmethod
    def from_env(
        cls,
        profile: str | None = None,
        *,
        account: str | None = None,
        subaccount: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        api_token: str | None = None,
        organization: bool | None = None,
        base_url: str | None = None,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> Client:
        """Explicit values > ``LW_*`` variables > the profile in ``~/.lacework.toml``.

        ``options`` go to the constructor unchanged (``timeout``, ``max_attempts``, ...);
        ``check_account`` is on unless ``options`` turn it off.
        """
        settings = resolve_settings(
            profile,
            account=account,
            subaccount=subaccount,
            api_key=api_key,
            api_secret=api_secret,
            api_token=api_token,
            organization=organization,
            base_url=base_url,
            environ=environ,
        )
        options.setdefault("check_account", True)
        return cls(settings=settings, **options)

    @property
    def account(self) -> str:
        return self.settings.account

    @property
    def subaccount(self) -> str | None:
        return self.settings.subaccount

    @property
    def organization(self) -> bool:
        return self.settings.organization

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    def __repr__(self) -> str:
        return f"Client(account={self.account!r}, base_url={self.base_url!r})"

    # --- lifecycle ------------------------------------------------------------------------

    @cached_property
    def agent_tokens(self) -> AgentTokens:
        """The agent access token lifecycle: create, get, list, search, update, soft delete."""
        from lacework_tokens.agent_tokens import AgentTokens

        return AgentTokens(self)

    @cached_property
    def agents(self) -> Agents:
        """Agents as AgentInfo shows them: search and list, following pages lazily."""
        from lacework_tokens.agents import Agents

        return Agents(self)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- bearer tokens --------------------------------------------------------------------

    @property
    def bearer_fetches(self) -> int:
        """How many bearer tokens this client has fetched (0 with a static ``api_token``)."""
        return self._bearer_fetches

    def authenticate(self) -> None:
        """Fetch a bearer token now rather than on the first call (no-op with ``api_token``),
        and check the key's account when ``check_account`` asks for it.

        Wrong credentials, a key of another account or an unreachable server surface here,
        once, as the usual errors.
        """
        self._current_bearer()
        self._check_account_once()

    def _own_server(self) -> bool:
        return self.base_url == default_base_url(self.account).rstrip("/")

    def _check_account_once(self) -> None:
        if self._account_checked:
            return
        with self._account_lock:
            if self._account_checked:
                return
            profile = self._user_profile()
            if profile is not None:
                self._refuse_another_account(profile)
            self._account_checked = True

    def _user_profile(self) -> wire.UserProfile | None:
        """Whose key this is, or ``None`` from a server that cannot say (404, 405)."""
        where = f"GET {USER_PROFILE_PATH}"

        def ask() -> list[wire.UserProfile]:
            headers = {"Authorization": f"Bearer {self._current_bearer()}"}
            answer = self._send("GET", USER_PROFILE_PATH, None, headers, USER_PROFILE_PATH)
            return _parsed_list(answer, wire.UserProfile, where)

        try:
            profiles = self._with_retries(
                ask, "GET", USER_PROFILE_PATH, recover=None, idempotent=True
            )
        except errors.ApiError as exc:
            if exc.status in (404, 405):
                return None
            raise
        return profiles[0] if profiles else None

    def _refuse_another_account(self, profile: wire.UserProfile) -> None:
        configured = self.account.strip().lower()
        own = profile.account_name
        if configured == own:
            return
        key = f"API key {self.settings.api_key}" if self.settings.api_key else "The API token"
        subs = profile.sub_account_names
        listed = f" (sub-accounts: {', '.join(subs)})" if subs else ""
        advice = f"set LW_ACCOUNT={own}"
        if configured in subs:
            advice += f" and LW_SUBACCOUNT={configured} to act in {configured}"
        raise errors.ConfigurationError(
            f"the account is set to '{self.account}', but {key} belongs to account "
            f"'{own}'{listed}: {advice} (or the account in the profile or options)"
        )

    def _current_bearer(self) -> str:
        if self.settings.api_token is not None:
            return self.settings.api_token
        with self._bearer_lock:
            # One thread fetches; the others wait on the lock and then reuse its token.
            if (
                self._bearer is None
                or self._refresh_at is None
                or self._clock() >= self._refresh_at
            ):
                self._fetch_bearer()
            assert self._bearer is not None
            return self._bearer

    def _invalidate_bearer(self, rejected: str) -> None:
        with self._bearer_lock:
            # Another thread may already have replaced the rejected token.
            if self._bearer == rejected:
                self._bearer = None
                self._refresh_at = None

    def new_access_token(
        self, expiry_seconds: int = limits.EXPIRY_DEFAULT_SECONDS
    ) -> wire.AccessTokenResponse:
        """A new bearer token for the API key, minted now, for another program to use.

        What the official Terraform provider's ``lacework_api_token`` data source hands out.
        The client keeps its own token. Needs the API key and secret: a client given only a
        static ``api_token`` raises ``ConfigurationError``.
        """
        if self.settings.api_key is None or self.settings.api_secret is None:
            raise errors.ConfigurationError(
                "minting an access token needs an API key and secret, not only an api_token"
            )
        return self._mint(self.settings.api_key, self.settings.api_secret, expiry_seconds)

    def _mint(self, key: str, secret: str, expiry_seconds: int) -> wire.AccessTokenResponse:
        body = wire.converter.unstructure(
            wire.AccessTokenRequest(key_id=key, expiry_time=expiry_seconds)
        )
        headers = {"X-LW-UAKS": secret}
        where = f"POST {ACCESS_TOKEN_PATH}"
        return self._with_retries(
            lambda: _parsed(
                self._send("POST", ACCESS_TOKEN_PATH, body, headers, ACCESS_TOKEN_PATH),
                wire.AccessTokenResponse,
                where,
            ),
            "POST",
            ACCESS_TOKEN_PATH,
            recover=None,
            idempotent=True,
        )

    def _fetch_bearer(self) -> None:
        key, secret = self.settings.api_key, self.settings.api_secret
        assert key is not None and secret is not None  # ClientSettings guarantees one or the other
        fetched_at = self._clock()
        issued = self._mint(key, secret, limits.EXPIRY_DEFAULT_SECONDS)
        lifetime = max(issued.expires_at - fetched_at, timedelta(0))
        self._bearer = issued.token
        self._refresh_at = issued.expires_at - min(REFRESH_MARGIN, lifetime / 2)
        self._bearer_fetches += 1

    # --- requests -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Json = None,
        *,
        secret_in_path: str | None = None,
        idempotent: bool | None = None,
        recover: Callable[[], Json | None] | None = None,
    ) -> Json:
        """Send one API call with retries and return its parsed JSON (``None`` when empty).

        ``secret_in_path`` is masked wherever the path is shown. A non-idempotent request
        (POST by default) is repeated only after a failure that proves the server did not act on
        it, or, when the outcome is unknown, after ``recover()`` found no trace of it; whatever
        ``recover()`` returns instead (not ``None``) becomes the result.
        """
        return self._call(
            method,
            path,
            body,
            lambda raw, _where: raw,
            secret_in_path=secret_in_path,
            idempotent=idempotent,
            recover=recover,
        )

    def request_one(
        self,
        method: str,
        path: str,
        model: type[T],
        body: Json = None,
        *,
        secret_in_path: str | None = None,
        idempotent: bool | None = None,
        recover: Callable[[], T | None] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """``request``, answering the one ``model`` in ``{"data": ...}``.

        Some deployments wrap the object in a one-item list; that is accepted. ``recover``
        answers a ``model`` (or ``None``), as ``request``'s does JSON. An answer that is not a
        ``model`` is an ``errors.TransportError`` naming the field at fault. ``headers`` are
        sent besides the client's own (``wire.RETIRE_HEADER``).
        """
        return self._call(
            method,
            path,
            body,
            lambda raw, where: _parsed(_single(_data(raw)), model, where),
            secret_in_path=secret_in_path,
            idempotent=idempotent,
            recover=recover,
            headers=headers,
        )

    def request_list(
        self,
        method: str,
        path: str,
        model: type[T],
        body: Json = None,
        *,
        idempotent: bool | None = None,
    ) -> list[T]:
        """``request``, answering the list of ``model`` in ``{"data": [...]}``.

        No answer, or ``"data": null``, is an empty list; a missing or non-list ``data`` and any
        item that is not a ``model`` are an ``errors.TransportError``: nothing is dropped silently.
        """
        return self._call(
            method,
            path,
            body,
            lambda raw, where: _parsed_list(raw, model, where),
            idempotent=idempotent,
            recover=None,
        )

    def request_whole(
        self,
        method: str,
        path: str,
        model: type[T],
        body: Json = None,
        *,
        idempotent: bool | None = None,
    ) -> T:
        """``request``, answering the whole answer as one ``model`` (no ``data`` envelope to
        unwrap); an answer that is not a ``model`` is an ``errors.TransportError``."""
        return self._call(
            method,
            path,
            body,
            lambda raw, where: _parsed(raw, model, where),
            idempotent=idempotent,
            recover=None,
        )

    def _call(
        self,
        method: str,
        path: str,
        body: Json,
        read: Callable[[Json, str], T],
        *,
        secret_in_path: str | None = None,
        idempotent: bool | None,
        recover: Callable[[], T | None] | None,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """One API call with retries; ``read(parsed JSON, "METHOD shown-path")`` makes the
        answer, inside each attempt, so a recovered answer and a fresh one are alike."""
        shown = path.replace(secret_in_path, wire.mask(secret_in_path)) if secret_in_path else path
        if idempotent is None:
            idempotent = method.upper() != "POST"
        where = f"{method} {shown}"
        return self._with_retries(
            lambda: read(self._authorized(method, path, body, shown, headers), where),
            method,
            shown,
            recover=recover,
            idempotent=idempotent,
        )

    def _with_retries(
        self,
        attempt_once: Callable[[], T],
        method: str,
        shown_path: str,
        *,
        recover: Callable[[], T | None] | None,
        idempotent: bool,
    ) -> T:
        started = time.monotonic()
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_RetryableFailure),
            sleep=self._sleep,
            before_sleep=lambda state: self._tell_retry(state, method, shown_path, started),
            reraise=True,
        )
        uncertain: _RetryableFailure | None = None
        try:
            for attempt in retrying:
                with attempt:
                    if uncertain is not None and recover is not None:
                        recovered = self._recover(recover, uncertain, method, shown_path)
                        if recovered is not None:
                            return recovered
                        uncertain = None
                    try:
                        return attempt_once()
                    except _RetryableFailure as failure:
                        if failure.uncertain and not idempotent:
                            if recover is None:
                                # Nothing can tell whether it took effect: never repeat it.
                                raise failure.final from None
                            uncertain = failure
                        raise
        except _RetryableFailure as failure:
            if uncertain is not None and recover is not None:
                # Out of attempts, but the last one may have worked: look before failing.
                recovered = self._recover(recover, uncertain, method, shown_path)
                if recovered is not None:
                    return recovered
            attempts = retrying.statistics.get("attempt_number", 1)
            raise _after_attempts(failure.final, attempts, time.monotonic() - started) from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    @staticmethod
    def _recover(
        recover: Callable[[], T | None], failure: _RetryableFailure, method: str, shown_path: str
    ) -> T | None:
        """Ask the server whether an attempt with an unknown outcome took effect."""
        try:
            return recover()
        except (errors.TransportError, errors.ServerError, errors.RateLimitedError) as exc:
            raise errors.TransportError(
                f"{method} {shown_path} may or may not have taken effect ({failure.final}); "
                f"checking failed: {exc}"
            ) from None

    def _tell_retry(
        self, state: tenacity.RetryCallState, method: str, shown_path: str, started: float
    ) -> None:
        outcome = state.outcome
        failure = outcome.exception() if outcome is not None else None
        if not isinstance(failure, _RetryableFailure):
            return
        notice = RetryNotice(
            method=method,
            path=shown_path,
            failure=failure.final,
            attempt=state.attempt_number,
            max_attempts=self.max_attempts,
            elapsed=time.monotonic() - started,
            wait=state.next_action.sleep if state.next_action is not None else 0.0,
        )
        logger.info("%s", notice)
        if self._on_retry is not None:
            self._on_retry(notice)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        failure = outcome.exception() if outcome is not None else None
        if (
            isinstance(failure, _RetryableFailure)
            and isinstance(failure.final, errors.RateLimitedError)
            and failure.final.retry_after is not None
        ):
            return min(failure.final.retry_after, self._retry_after_cap)
        return float(self._backoff(state))

    def _authorized(
        self,
        method: str,
        path: str,
        body: Json,
        shown_path: str,
        headers: Mapping[str, str] | None = None,
    ) -> Json:
        self._check_account_once()
        bearer = self._current_bearer()
        try:
            sent = {**(headers or {}), "Authorization": f"Bearer {bearer}"}
            return self._send(method, path, body, sent, shown_path)
        except errors.AuthenticationError:
            if self.settings.api_token is not None:
                raise
            # The bearer was revoked or expired early (clock skew): fetch a new one, once.
            self._invalidate_bearer(bearer)
            bearer = self._current_bearer()
            sent = {**(headers or {}), "Authorization": f"Bearer {bearer}"}
            return self._send(method, path, body, sent, shown_path)

    def _send(
        self,
        method: str,
        path: str,
        body: Json,
        headers: Mapping[str, str],
        shown_path: str,
    ) -> Json:
        """One HTTP exchange: the parsed JSON, or an exception (``_RetryableFailure`` if worth
        another attempt)."""
        url = self.base_url + path
        data = None if body is None else json.dumps(body, separators=(",", ":"))
        try:
            response = self.session.request(
                method, url, data=data, headers=dict(headers), timeout=self.timeout
            )
        except requests.exceptions.ConnectTimeout:
            raise self._transport_failure(
                method, shown_path, "timed out connecting", False
            ) from None
        except requests.exceptions.Timeout:
            raise self._transport_failure(method, shown_path, "timed out", True) from None
        except requests.exceptions.SSLError as exc:
            # Nothing was sent, and another attempt would fail the same way.
            host = urlsplit(self.base_url).netloc or self.base_url
            reason = (
                "the server's certificate is not trusted (set REQUESTS_CA_BUNDLE to its CA)"
                if "CERTIFICATE_VERIFY_FAILED" in str(exc)
                else "the TLS handshake failed"
            )
            raise errors.TransportError(f"{method} {shown_path} to {host}: {reason}") from None
        except requests.exceptions.ConnectionError as exc:
            if _name_not_resolved(exc):
                # Another attempt would ask the resolver the same question.
                raise errors.TransportError(self._unresolved(method, shown_path)) from None
            # Refused before anything was sent; anything else may have reached the server.
            never_sent = _connection_refused(exc)
            what = "connection refused" if never_sent else "connection failed"
            raise self._transport_failure(method, shown_path, what, not never_sent) from None
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ):
            raise self._transport_failure(method, shown_path, "response cut short", True) from None
        except requests.exceptions.RequestException as exc:
            raise errors.TransportError(
                f"{method} {shown_path} failed: {type(exc).__name__}"
            ) from None
        return self._read(response, method, shown_path)

    def _unresolved(self, method: str, shown_path: str) -> str:
        parts = urlsplit(self.base_url)
        host = parts.hostname or parts.netloc
        where = f"{method} {shown_path} to {parts.netloc or self.base_url}"
        if self._own_server():
            return (
                f"{where}: cannot resolve the host name {host} (DNS); it comes from the account "
                f"'{self.account}', so to reach a local backend set {SERVER_URL_VARIABLE} to its "
                f"URL, e.g. {SERVER_URL_VARIABLE}=http://127.0.0.1:8080"
            )
        return (
            f"{where}: cannot resolve the host name {host} (DNS); check the server URL "
            f"{self.base_url} ({SERVER_URL_VARIABLE} or base_url)"
        )

    def _transport_failure(
        self, method: str, shown_path: str, what: str, uncertain: bool
    ) -> _RetryableFailure:
        host = urlsplit(self.base_url).netloc or self.base_url
        error = errors.TransportError(f"{method} {shown_path} to {host}: {what}")
        return _RetryableFailure(error, uncertain=uncertain)

    def _read(self, response: requests.Response, method: str, shown_path: str) -> Json:
        status = response.status_code
        if 200 <= status < 300:
            if not response.content:
                return None
            try:
                parsed: Json = response.json()
            except ValueError:
                raise errors.TransportError(
                    f"{method} {shown_path} answered {status} with a body that is not JSON: "
                    f"{_snippet(response.text)!r}"
                ) from None
            return parsed
        retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
        error = errors.error_for_status(
            status,
            self._scrub(_server_message(response)),
            method=method,
            path=shown_path,
            retry_after=retry_after,
        )
        if status in RETRYABLE_STATUSES:
            raise _RetryableFailure(error, uncertain=status in UNCERTAIN_STATUSES)
        raise error

    def _scrub(self, message: str) -> str:
        """Remove any secret this client knows from text the server sent back."""
        for secret in (self.settings.api_secret, self.settings.api_token, self._bearer):
            if secret and secret in message:
                message = message.replace(secret, wire.mask(secret))
        return message


def _data(raw: Json) -> Json:
    """The ``data`` of an API v2 answer (``None`` when the answer has none)."""
    return raw.get("data") if isinstance(raw, dict) else None


def _single(data: Json) -> Json:
    # Some deployments wrap a single object in a list.
    if isinstance(data, list) and len(data) == 1:
        return data[0]
    return data


def _parsed(data: Json, model: type[T], where: str, at: str = "") -> T:
    """``data`` as a ``model``, or a ``TransportError`` naming the call and the field at fault."""
    try:
        return wire.parse(data, model)
    except wire.WireError as exc:
        raise errors.TransportError(f"unexpected answer from {where}: {at}{exc}") from None


def _parsed_list(raw: Json, model: type[T], where: str) -> list[T]:
    if raw is None:  # an empty body: no tokens
        return []
    if not isinstance(raw, dict) or "data" not in raw:
        # Not ``{"data": ...}``: reading it as "nothing" would hide a broken server.
        raise errors.TransportError(f"unexpected answer from {where}: no data")
    data = _data(raw)
    if data is None:
        return []
    if not isinstance(data, list):
        raise errors.TransportError(f"unexpected answer from {where}: data is no list")
    return [_parsed(item, model, where, f"data[{index}].") for index, item in enumerate(data)]


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: urllib3's ``reason``, a wrapped first argument, the cause."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
            continue
        nested = current.args[0] if current.args else None
        current = nested if isinstance(nested, BaseException) else current.__cause__


def _connection_refused(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never established, so the request was never sent."""
    return any(
        isinstance(cause, ConnectionRefusedError)
        or type(cause).__name__ in ("NewConnectionError", "NameResolutionError")
        for cause in _causes(exc)
    )


def _name_not_resolved(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the server's host name could not be resolved."""
    return any(
        isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError"
        for cause in _causes(exc)
    )


def _names_an_account(account: str) -> bool:
    """False for an "account" that is a host (``127.0.0.1:8443#``, as the Go SDK is pointed
    at a local server): there is no account name to compare."""
    return not any(c in account for c in ".:#/")


def _after_attempts(
    error: errors.LaceworkError, attempts: int, elapsed: float
) -> errors.LaceworkError:
    """A transport error that says how long the client tried; other errors as they are."""
    if attempts < 2 or type(error) is not errors.TransportError:
        return error
    return errors.TransportError(
        f"{errors.as_clause(error.message)} (gave up after {attempts} attempts in {elapsed:.1f} s)"
    )

"""The HTTP client: one ``requests`` session, the bearer-token lifecycle and retries.

- Bearer tokens are fetched from ``POST /api/v2/access/tokens`` on first use, shared by every
  thread (one fetch at a time), refreshed shortly before ``expiresAt``, and fetched once more
  when an API call answers 401. A static ``api_token`` is used as given.
- Connection failures, timeouts, 429 (after ``Retry-After``) and 502/503/504 are retried with
  exponential backoff and jitter, at most ``max_attempts`` times in all.
- A request that must not run twice (creating a token) is retried only after asking the server
  whether the first attempt took effect: see ``request(..., recover=...)``.
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
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import urlsplit

import requests
import tenacity

from lacework_tokens import __version__, errors, limits, wire
from lacework_tokens.config import default_base_url, resolve_settings

if TYPE_CHECKING:
    from lacework_tokens.agent_tokens import AgentTokens

__all__ = ["ACCESS_TOKEN_PATH", "Client"]

ACCESS_TOKEN_PATH: Final = "/api/v2/access/tokens"
RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})
# A gateway error or timeout does not say whether the server acted on the request.
UNCERTAIN_STATUSES: Final = frozenset({502, 503, 504})
REFRESH_MARGIN: Final = timedelta(seconds=60)
SNIPPET_LENGTH: Final = 200

Recover = Callable[[], Any | None]

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
    Use ``Client.from_env()`` to read ``LW_*`` variables and ``~/.lacework.toml`` profiles.
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
        timeout: float = 30.0,
        max_attempts: int = 4,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        retry_after_cap: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not account:
            raise errors.ConfigurationError("no account configured: pass account or set LW_ACCOUNT")
        if not api_token and not (api_key and api_secret):
            missing = "api_key" if not api_key else "api_secret"
            variable = "LW_API_KEY" if not api_key else "LW_API_SECRET"
            raise errors.ConfigurationError(
                f"no {missing} configured: pass {missing} (or api_token) or set {variable}"
            )
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.account = account
        self.subaccount = subaccount or None
        self.organization = organization
        self.base_url = (
            base_url or os.environ.get("LW_API_SERVER_URL") or default_base_url(account)
        ).rstrip("/")
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._api_key = api_key
        self._api_secret = api_secret
        self._static_token = api_token or None
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
        if self.subaccount:
            self.session.headers["Account-Name"] = self.subaccount
        if organization:
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

        ``options`` go to the constructor unchanged (``timeout``, ``max_attempts``, ...).
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
        return cls(
            settings.account,
            settings.api_key,
            settings.api_secret,
            subaccount=settings.subaccount,
            api_token=settings.api_token,
            base_url=settings.base_url,
            organization=settings.organization,
            **options,
        )

    def __repr__(self) -> str:
        return f"Client(account={self.account!r}, base_url={self.base_url!r})"

    # --- lifecycle ------------------------------------------------------------------------

    @cached_property
    def agent_tokens(self) -> AgentTokens:
        """The agent access token lifecycle: create, get, list, search, update, soft delete."""
        from lacework_tokens.agent_tokens import AgentTokens

        return AgentTokens(self)

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
        """Fetch a bearer token now rather than on the first call (no-op with ``api_token``).

        Wrong credentials or an unreachable server surface here, once, as the usual errors.
        """
        self._current_bearer()

    def _current_bearer(self) -> str:
        if self._static_token is not None:
            return self._static_token
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

    def _fetch_bearer(self) -> None:
        assert self._api_key is not None and self._api_secret is not None
        body = wire.converter.unstructure(
            wire.AccessTokenRequest(key_id=self._api_key, expiry_time=limits.EXPIRY_DEFAULT_SECONDS)
        )
        headers = {"X-LW-UAKS": self._api_secret}
        fetched_at = self._clock()
        raw = self._with_retries(
            lambda: self._send("POST", ACCESS_TOKEN_PATH, body, headers, ACCESS_TOKEN_PATH),
            "POST",
            ACCESS_TOKEN_PATH,
            recover=None,
            idempotent=True,
        )
        try:
            issued = wire.parse(raw, wire.AccessTokenResponse)
        except wire.WireError as exc:
            raise errors.TransportError(
                f"unexpected answer from POST {ACCESS_TOKEN_PATH}: {exc}"
            ) from None
        lifetime = max(issued.expires_at - fetched_at, timedelta(0))
        self._bearer = issued.token
        self._refresh_at = issued.expires_at - min(REFRESH_MARGIN, lifetime / 2)
        self._bearer_fetches += 1

    # --- requests -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        secret_in_path: str | None = None,
        idempotent: bool | None = None,
        recover: Recover | None = None,
    ) -> Any:
        """Send one API call with retries and return its parsed JSON (``None`` when empty).

        ``secret_in_path`` is masked wherever the path is shown. A non-idempotent request
        (POST by default) is repeated only after a failure that proves the server did not act on
        it, or, when the outcome is unknown, after ``recover()`` found no trace of it; whatever
        ``recover()`` returns instead (not ``None``) becomes the result.
        """
        shown = path.replace(secret_in_path, wire.mask(secret_in_path)) if secret_in_path else path
        if idempotent is None:
            idempotent = method.upper() != "POST"
        return self._with_retries(
            lambda: self._authorized(method, path, body, shown),
            method,
            shown,
            recover=recover,
            idempotent=idempotent,
        )

    def _with_retries(
        self,
        attempt_once: Callable[[], Any],
        method: str,
        shown_path: str,
        *,
        recover: Recover | None,
        idempotent: bool,
    ) -> Any:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_RetryableFailure),
            sleep=self._sleep,
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
            raise failure.final from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    @staticmethod
    def _recover(
        recover: Recover, failure: _RetryableFailure, method: str, shown_path: str
    ) -> Any | None:
        """Ask the server whether an attempt with an unknown outcome took effect."""
        try:
            return recover()
        except (errors.TransportError, errors.ServerError, errors.RateLimitedError) as exc:
            raise errors.TransportError(
                f"{method} {shown_path} may or may not have taken effect ({failure.final}); "
                f"checking failed: {exc}"
            ) from None

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

    def _authorized(self, method: str, path: str, body: Any, shown_path: str) -> Any:
        bearer = self._current_bearer()
        try:
            return self._send(method, path, body, {"Authorization": f"Bearer {bearer}"}, shown_path)
        except errors.AuthenticationError:
            if self._static_token is not None:
                raise
            # The bearer was revoked or expired early (clock skew): fetch a new one, once.
            self._invalidate_bearer(bearer)
            bearer = self._current_bearer()
            return self._send(method, path, body, {"Authorization": f"Bearer {bearer}"}, shown_path)

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        headers: Mapping[str, str],
        shown_path: str,
    ) -> Any:
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

    def _transport_failure(
        self, method: str, shown_path: str, what: str, uncertain: bool
    ) -> _RetryableFailure:
        host = urlsplit(self.base_url).netloc or self.base_url
        error = errors.TransportError(f"{method} {shown_path} to {host}: {what}")
        return _RetryableFailure(error, uncertain=uncertain)

    def _read(self, response: requests.Response, method: str, shown_path: str) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise errors.TransportError(
                    f"{method} {shown_path} answered {status} with a body that is not JSON: "
                    f"{_snippet(response.text)!r}"
                ) from None
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
        for secret in (self._api_secret, self._static_token, self._bearer):
            if secret and secret in message:
                message = message.replace(secret, wire.mask(secret))
        return message


def _connection_refused(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never established, so the request was never sent."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        name = type(current).__name__
        if name in ("NewConnectionError", "NameResolutionError"):
            return True
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
            continue
        nested = current.args[0] if current.args else None
        current = nested if isinstance(nested, BaseException) else current.__cause__
    return False

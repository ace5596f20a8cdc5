"""Exceptions: one class per failure a caller handles differently.

```
LaceworkError
├── ConfigurationError        no account, key or secret could be found
├── TransportError            the server could not be reached or answered garbage
└── ApiError                  the server answered with an error status
    ├── AuthenticationError   401
    ├── PermissionDeniedError 403
    ├── NotFoundError         404
    ├── ConflictError         409
    │   └── TokenInUseError   retire: agents still check in with the token
    ├── InvalidRequestError   400, 405, 413, 422
    ├── RateLimitedError      429, with ``retry_after`` seconds
    └── ServerError           5xx
```

Messages carry the server's text and the status, never a secret. ``str(error)`` is a clause
without a closing full stop (``[401] Invalid API key or secret``), so it reads the same at the end
of a line and inside a longer sentence ("answered [401] Invalid API key or secret while …");
``message`` is the text as the server sent it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime, timedelta

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "InvalidRequestError",
    "LaceworkError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServerError",
    "TokenInUseError",
    "TransportError",
    "as_clause",
    "error_for_status",
]


def as_clause(text: str) -> str:
    """``text`` without surrounding blanks or one closing full stop (an ellipsis stays)."""
    text = text.strip()
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1].rstrip()
    return text


class LaceworkError(Exception):
    """Base of every error this package raises."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        text = as_clause(self.message)
        return f"[{self.status}] {text}" if self.status else text


class ConfigurationError(LaceworkError):
    """The client lacks an account, API key or secret, or a profile is malformed."""


class TransportError(LaceworkError):
    """Connection refused, timed out, or a response that is not the API's JSON."""


class ApiError(LaceworkError):
    """The server answered with an error status."""

    def __init__(self, message: str, *, status: int, method: str = "", path: str = "") -> None:
        super().__init__(message, status=status)
        self.method = method
        self.path = path


class AuthenticationError(ApiError):
    """401: wrong API key or secret, or an expired or unknown bearer token."""


class PermissionDeniedError(ApiError):
    """403: the key's role does not allow this operation."""


class NotFoundError(ApiError):
    """404: no such agent access token in this account."""


class ConflictError(ApiError):
    """409: the name is already taken by another token in this account."""


class TokenInUseError(ConflictError):
    """``retire`` refused: ``active`` agents enrolled with the token checked in within
    ``idle_for``, the last at ``last_checkin``; ``hostnames`` names them when they are known."""

    def __init__(
        self,
        message: str,
        *,
        token_name: str,
        active: int,
        idle_for: timedelta,
        last_checkin: datetime | None = None,
        hostnames: tuple[str, ...] = (),
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(message, status=409, method=method, path=path)
        self.token_name = token_name
        self.active = active
        self.idle_for = idle_for
        self.last_checkin = last_checkin
        self.hostnames = hostnames


class InvalidRequestError(ApiError):
    """400 and friends: the request was malformed; the message names the field."""


class RateLimitedError(ApiError):
    """429: too many requests; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 429,
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, method=method, path=path)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: the server failed."""


_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
}


def error_for_status(
    status: int,
    message: str,
    *,
    method: str = "",
    path: str = "",
    retry_after: float | None = None,
) -> ApiError:
    """The exception for an error response."""
    if status == 429:
        return RateLimitedError(message, method=method, path=path, retry_after=retry_after)
    if status >= 500:
        return ServerError(message, status=status, method=method, path=path)
    cls = _BY_STATUS.get(status, InvalidRequestError)
    return cls(message, status=status, method=method, path=path)

"""Failures the services report: each carries the HTTP ``status`` and a ``message`` safe to show
(never a secret: token values appear only masked)."""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "ServiceError",
    "Unauthorized",
    "check_field",
]


class ServiceError(Exception):
    """A failure to report to the client: ``status`` and a ``message`` safe to show."""

    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadRequest(ServiceError):
    """400: the request is malformed; ``field`` is the wire name of the culprit."""

    status = 400

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


def check_field(field: str, problem: str | None) -> None:
    """Raise ``BadRequest`` naming ``field`` when a ``limits`` check found a ``problem``."""
    if problem is not None:
        raise BadRequest(f"{field} {problem}.", field)

"""Terraform diagnostics, and the one translation of SDK errors into diagnostics a person can
act on (``sdk_errors``): resources name what they were doing, never how an error reads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from lacework_tokens import errors

__all__ = ["Diagnostic", "ProviderError", "from_sdk_error", "sdk_errors"]

CONFIGURATION_HELP = (
    "Set api_key and api_secret (or api_token) and account in the provider block, the "
    "LW_ACCOUNT, LW_API_KEY and LW_API_SECRET environment variables, or a profile in "
    "~/.lacework.toml (chosen with profile or LW_PROFILE)."
)


@dataclass(frozen=True)
class Diagnostic:
    summary: str
    detail: str = ""
    severity: Literal["error", "warning"] = "error"
    # The attribute path (attribute names from the top), empty for the whole resource.
    attribute: tuple[str, ...] = ()


class ProviderError(Exception):
    """A failure to report as one error diagnostic."""

    def __init__(self, summary: str, detail: str = "", attribute: tuple[str, ...] = ()) -> None:
        super().__init__(summary)
        self.diagnostic = Diagnostic(summary, detail, "error", attribute)


def from_sdk_error(error: errors.LaceworkError, *, server: str, doing: str) -> ProviderError:
    """A diagnostic for an SDK failure while ``doing`` something (e.g. "creating 'prod'")."""
    if isinstance(error, errors.ConfigurationError):
        return ProviderError(
            "Unable to create Lacework API client",
            f"{error.message}.\n\n{CONFIGURATION_HELP}",
        )
    if isinstance(error, errors.TransportError):
        return ProviderError(
            f"Unable to reach the Lacework API at {server}",
            f"Error while {doing}: {error.message}.\n\nCheck that the server is running and "
            "that LW_API_SERVER_URL (or the account) points at it.",
        )
    if isinstance(error, errors.AuthenticationError):
        return ProviderError(
            "Lacework rejected the API credentials",
            f"The server at {server} answered {error} while {doing}.\n\n"
            "Check the API key and secret (or api_token) and the account they belong to. "
            + CONFIGURATION_HELP,
        )
    if isinstance(error, errors.PermissionDeniedError):
        return ProviderError(
            "The API key may not manage agent access tokens",
            f"The server at {server} answered {error} while {doing}. Use an API key of a user "
            "allowed to manage agent access tokens in this account.",
        )
    if isinstance(error, errors.RateLimitedError):
        return ProviderError(
            "Lacework API rate limit reached",
            f"The server at {server} answered {error} while {doing}. Retry later or lower "
            "terraform's -parallelism.",
        )
    return ProviderError(f"Error while {doing}", f"The server at {server} answered {error}.")


@contextmanager
def sdk_errors(*, server: str, doing: str) -> Iterator[None]:
    """Turn any SDK error raised inside the block into a ``ProviderError`` about ``doing``.

    Errors a caller gives its own meaning (a 404 on refresh, a 409 on create) are caught
    inside the block and never get here.
    """
    try:
        yield
    except errors.LaceworkError as error:
        raise from_sdk_error(error, server=server, doing=doing) from None

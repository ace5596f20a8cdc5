"""``lacework_agent_access_token``: the official provider's semantics on the SDK.

Every function takes and returns Terraform objects (``dict`` of attribute name to value, see
``values``) and raises ``ProviderError`` for a failure the user should see as a diagnostic.

- plan: ``os`` defaults to ``"linux"`` and ``enabled`` to true *whenever the configuration
  leaves them out*, so removing ``enabled = false`` plans re-enabling the token;
- create, then disable when ``enabled = false``;
- read: a token that no longer exists, or whose name changed outside Terraform, leaves the
  state (Terraform then plans to create it again);
- name, description and enabled change in place; ``os`` cannot change (the API keeps it);
- destroy is a soft delete: the token is disabled and renamed ``<name>-xxxxx-deleted``;
- import takes the token value itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

from lacework_tokens import errors
from lacework_tokens.agent_tokens import soft_delete_name
from lacework_tokens.limits import DEFAULT_OS
from lacework_tokens.provider.diagnostics import ProviderError, from_sdk_error
from lacework_tokens.provider.schema import DATA_SOURCE, RESOURCE
from lacework_tokens.provider.values import UNKNOWN, Object, is_known
from lacework_tokens.wire import mask

if TYPE_CHECKING:
    from lacework_tokens.agent_tokens import AgentTokens
    from lacework_tokens.wire import AgentAccessToken

__all__ = [
    "DEFAULT_OS",
    "Tokens",
    "plan",
]

DEFAULT_ENABLED: Final = True
# How long one listing of the account answers refreshes (a refresh walk takes seconds).
SNAPSHOT_SECONDS: Final = 30.0
_IN_PLACE: Final = ("name", "description", "enabled")
_T = TypeVar("_T")


def _time(value: datetime) -> str:
    # The official provider formats with Go's time.RFC3339: whole seconds, UTC as "Z".
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _description(server_value: str, expected: Any) -> str | None:
    """The server says "" for "no description"; keep null when the configuration says null."""
    if server_value:
        return server_value
    return "" if expected == "" else None


def to_state(token: AgentAccessToken, *, expected_description: Any = None) -> Object:
    state: Object = {
        "id": token.name,
        "name": token.name,
        "description": _description(token.description, expected_description),
        "os": token.os,
        "enabled": token.enabled,
        "last_updated_time": _time(token.last_updated_time),
        "created_time": _time(token.created_time),
        "version": token.version,
        "token": token.token,
    }
    assert tuple(state) == RESOURCE.names
    return state


def plan(prior: Object | None, config: Object) -> Object:
    """The planned state for ``config``: a create when ``prior`` is None, else an update."""
    name = config["name"]
    os_name = config["os"] if config["os"] is not None else DEFAULT_OS
    enabled = config["enabled"] if config["enabled"] is not None else DEFAULT_ENABLED
    if prior is None:
        return {
            "id": name,
            "name": name,
            "description": config["description"],
            "os": os_name,
            "enabled": enabled,
            "last_updated_time": UNKNOWN,
            "created_time": UNKNOWN,
            "version": UNKNOWN,
            "token": UNKNOWN,
        }
    if is_known(os_name) and prior["os"] is not None and os_name != prior["os"]:
        raise ProviderError(
            "The os of an agent access token cannot change",
            f"Agent access token '{prior['name']}' was created for {prior['os']!r}; the Lacework "
            f'API keeps a token\'s os for its lifetime. Set os = "{prior["os"]}", or create a '
            f"new token for {os_name!r} (see the rotation example) and destroy this one.",
            ("os",),
        )
    planned = dict(prior)
    planned.update(name=name, description=config["description"], enabled=enabled)
    if any(_differs(prior[key], planned[key]) for key in _IN_PLACE):
        planned["id"] = name
        planned["last_updated_time"] = UNKNOWN
        planned["version"] = UNKNOWN
    return planned


def _differs(before: Any, after: Any) -> bool:
    return not (is_known(before) and is_known(after) and before == after)


class Tokens:
    """The resource and data source operations against one account."""

    def __init__(self, tokens: AgentTokens, server: str) -> None:
        self._tokens = tokens
        self._server = server
        self._snapshot: dict[str, AgentAccessToken] | None = None
        self._snapshot_taken = 0.0
        self._snapshot_lock = threading.Lock()

    def _get_for_refresh(self, token_value: str) -> AgentAccessToken:
        """The token as the server has it, for a refresh.

        Terraform refreshes every resource in parallel in a process that writes nothing, so
        the first read lists the account once and the others are answered from that list
        (100 resources: one request instead of 100). A token missing from the list is asked
        for by value, so "not found" always comes from the server itself. Any write in this
        process drops the list.
        """
        with self._snapshot_lock:
            if self._snapshot is None or time.monotonic() - self._snapshot_taken > SNAPSHOT_SECONDS:
                self._snapshot = {token.token: token for token in self._tokens.list()}
                self._snapshot_taken = time.monotonic()
            found = self._snapshot.get(token_value)
        return found if found is not None else self._tokens.get(token_value)

    def _wrote(self) -> None:
        with self._snapshot_lock:
            self._snapshot = None

    def _call(self, doing: str, operation: Callable[[], _T]) -> _T:
        try:
            return operation()
        except errors.LaceworkError as error:
            raise from_sdk_error(error, server=self._server, doing=doing) from None

    # --- resource -------------------------------------------------------------------------

    def create(self, planned: Object) -> Object:
        self._wrote()
        name = planned["name"]
        try:
            token = self._tokens.create(
                name,
                description=planned["description"] or "",
                os=planned["os"],
                enabled=planned["enabled"],
            )
        except errors.ConflictError:
            raise _name_taken(name) from None
        except errors.LaceworkError as error:
            raise from_sdk_error(
                error, server=self._server, doing=f"creating agent access token '{name}'"
            ) from None
        return to_state(token, expected_description=planned["description"])

    def read(self, current: Object) -> Object | None:
        try:
            token = self._get_for_refresh(current["token"])
        except errors.NotFoundError:
            return None
        except errors.LaceworkError as error:
            raise from_sdk_error(
                error,
                server=self._server,
                doing=f"reading agent access token '{current['id']}'",
            ) from None
        if token.name != current["id"]:
            # Renamed outside Terraform: the resource this configuration manages is gone.
            return None
        return to_state(token, expected_description=current["description"])

    def update(self, prior: Object, planned: Object) -> Object:
        self._wrote()

        def changed(key: str) -> bool:
            return bool(prior[key] != planned[key])

        try:
            token = self._tokens.update(
                prior["token"],
                name=planned["name"] if changed("name") else None,
                # An empty string clears the description; None leaves it alone.
                description=(planned["description"] or "") if changed("description") else None,
                enabled=planned["enabled"] if changed("enabled") else None,
            )
        except errors.ConflictError:
            raise _name_taken(planned["name"]) from None
        except errors.NotFoundError:
            raise ProviderError(
                f"Agent access token '{prior['id']}' was not found.",
                "It no longer exists in the account. Run `terraform apply -refresh-only` to "
                "forget it, then apply again to create it.",
            ) from None
        except errors.LaceworkError as error:
            raise from_sdk_error(
                error, server=self._server, doing=f"updating agent access token '{prior['id']}'"
            ) from None
        return to_state(token, expected_description=planned["description"])

    def delete(self, prior: Object) -> None:
        self._wrote()
        # One PATCH, named from the state as the official provider does: the refresh before
        # destroy has just confirmed the name, so asking the server again would add a GET.
        try:
            self._tokens.update(prior["token"], name=soft_delete_name(prior["name"]), enabled=False)
        except errors.NotFoundError:
            return  # already gone: nothing to disable
        except errors.LaceworkError as error:
            raise from_sdk_error(
                error,
                server=self._server,
                doing=f"disabling agent access token '{prior['id']}'",
            ) from None

    def import_(self, token_value: str) -> Object:
        try:
            token = self._tokens.import_token(token_value)
        except (errors.NotFoundError, errors.InvalidRequestError):
            raise ProviderError(
                "Unable to import Lacework resource. Agent access token "
                f"'{mask(token_value)}' was not found.",
                "Import takes the token value itself (not its name), from the same account "
                "the provider is configured for.",
            ) from None
        except errors.LaceworkError as error:
            raise from_sdk_error(
                error, server=self._server, doing="importing an agent access token"
            ) from None
        return to_state(token)

    # --- data source ----------------------------------------------------------------------

    def lookup(self, config: Object) -> Object:
        name = config["name"]
        found = self._call(
            f"looking up agent access token '{name}'", lambda: self._tokens.find(name)
        )
        if found is None:
            raise ProviderError(f"Agent access token with name '{name}' was not found.")
        state: Object = {"id": found.name, "name": found.name, "token": found.token}
        assert tuple(state) == DATA_SOURCE.names
        return state


def _name_taken(name: str) -> ProviderError:
    return ProviderError(
        f"An agent access token named '{name}' already exists",
        "Token names are unique in an account. Choose another name, or manage the existing "
        "token with an import block (id = the token value) or `terraform import`.",
        ("name",),
    )

"""``lacework_agent_access_token``: the official provider's resource, on the SDK.

- plan: ``os`` defaults to ``"linux"`` and ``enabled`` to true *whenever the configuration
  leaves them out* (declared defaults), so removing ``enabled = false`` plans re-enabling the
  token;
- create, disabled from the start when ``enabled = false``;
- read: a token that no longer exists, or whose name changed outside Terraform, leaves the
  state (Terraform then plans to create it again);
- name, description and enabled change in place; ``os`` cannot change (the API keeps it);
- destroy is a soft delete: the token is disabled and renamed ``<name>-xxxxx-deleted``;
- import takes the token value itself;
- extensions of this plugin (the official provider has none of them; the backend serves them,
  Lacework ignores them): ``expires_at`` (RFC 3339), ``max_enrollments`` and ``scope``, the
  token's enrollment policy, changed in place and removed by leaving them out. How many agents
  use a token is not an attribute: a check-in never shows as a change outside Terraform.

The SDK's models are imported where they are used: ``GetProviderSchema`` loads this module in
processes that never configure the provider.
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import attrs

from lacework_tokens import errors, limits
from lacework_tokens.limits import (
    DEFAULT_OS,
    OS_VALUES,
    alias_problem,
    description_problem,
    os_problem,
)
from lacework_tokens.provider.diagnostics import ProviderError
from lacework_tokens.provider.framework import (
    BOOL,
    NUMBER,
    STRING,
    Attribute,
    Plan,
    Resource,
    Schema,
)
from lacework_tokens.provider.values import is_known

if TYPE_CHECKING:
    from lacework_tokens.agent_tokens import AgentTokens
    from lacework_tokens.provider.configure import Connection
    from lacework_tokens.wire import AgentAccessToken

__all__ = ["SCHEMA", "TYPE_NAME", "AgentAccessTokenResource", "Arguments", "State"]

TYPE_NAME: Final = "lacework_agent_access_token"
DEFAULT_ENABLED: Final = True
# How long one listing of the account answers refreshes (a refresh walk takes seconds).
SNAPSHOT_SECONDS: Final = 30.0
# What an update changes in place; a change to any of them plans a new update time and version.
IN_PLACE: Final = ("name", "description", "enabled", "expires_at", "max_enrollments", "scope")
EXTENSION: Final = " An extension of this plugin: the official provider does not have it."


def _rfc3339_problem(value: str) -> str | None:
    from lacework_tokens.wire import parse_time

    try:
        parse_time(value)
    except ValueError:
        return "must be an RFC 3339 time, e.g. 2027-01-31T00:00:00Z"
    return None


SCHEMA: Final = Schema(
    description="A Lacework agent access token. Destroying it disables and renames it: "
    "agent access tokens cannot be deleted.",
    attributes=(
        Attribute("id", STRING, "The token's name (its alias).", computed=True),
        Attribute(
            "name",
            STRING,
            "The token's name, unique in the account.",
            required=True,
            validators=(alias_problem,),
        ),
        Attribute(
            "description",
            STRING,
            "A description of the token.",
            optional=True,
            validators=(description_problem,),
        ),
        Attribute(
            "os",
            STRING,
            "The operating system of the agents using the token: "
            f'{" or ".join(OS_VALUES)}. Defaults to "{DEFAULT_OS}".',
            optional=True,
            computed=True,
            default=DEFAULT_OS,
            validators=(os_problem,),
        ),
        Attribute(
            "enabled",
            BOOL,
            "Whether agents may use the token. Defaults to true.",
            optional=True,
            computed=True,
            default=DEFAULT_ENABLED,
        ),
        Attribute(
            "expires_at",
            STRING,
            "No agent enrolls with the token from this time on (RFC 3339); agents enrolled "
            "before keep checking in." + EXTENSION,
            optional=True,
            validators=(_rfc3339_problem,),
        ),
        Attribute(
            "max_enrollments",
            NUMBER,
            "How many agents may enroll with the token; 1 makes it single-use." + EXTENSION,
            optional=True,
            validators=(limits.max_enrollments_problem,),
        ),
        Attribute(
            "scope",
            STRING,
            "The asset group agents enrolled with the token join (their tag Scope)." + EXTENSION,
            optional=True,
            validators=(limits.scope_problem,),
        ),
        Attribute("last_updated_time", STRING, "When the token last changed.", computed=True),
        Attribute("created_time", STRING, "When the token was created.", computed=True),
        Attribute("version", STRING, "The token's version.", computed=True),
        Attribute("token", STRING, "The agent access token itself.", computed=True, sensitive=True),
    ),
)


@attrs.frozen
class Arguments:
    """What the configuration sets, defaults filled in: what create and update act on."""

    name: str
    description: str | None
    os: str
    enabled: bool
    expires_at: str | None
    max_enrollments: int | None
    scope: str | None


@attrs.frozen
class State:
    """The token as Terraform stores it."""

    id: str
    name: str
    description: str | None
    # Null only in a state this provider did not write (an upgraded state without ``os``).
    os: str | None
    enabled: bool
    expires_at: str | None
    max_enrollments: int | None
    scope: str | None
    last_updated_time: str
    created_time: str
    version: str
    token: str


def _time(value: datetime) -> str:
    # The official provider formats with Go's time.RFC3339: whole seconds, UTC as "Z".
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _description(server_value: str, expected: str | None) -> str | None:
    """The server says "" for "no description"; keep null when the configuration says null."""
    if server_value:
        return server_value
    return "" if expected == "" else None


def _expires_at(server_value: datetime | None, expected: str | None) -> str | None:
    """The configured spelling of the expiry while it names the server's instant (so a
    refresh shows no change), else the server's, in whole seconds when it has no fraction."""
    if server_value is None:
        return None
    if expected is not None:
        from lacework_tokens.wire import parse_time

        with contextlib.suppress(ValueError):
            if parse_time(expected) == server_value:
                return expected
    if server_value.microsecond:
        from lacework_tokens.wire import format_time

        return format_time(server_value)
    return _time(server_value)


def _parsed_time(value: str | None) -> datetime | None:
    from lacework_tokens.wire import parse_time

    return None if value is None else parse_time(value)


def to_state(
    token: AgentAccessToken,
    *,
    expected_description: str | None = None,
    expected_expires_at: str | None = None,
) -> State:
    return State(
        id=token.name,
        name=token.name,
        description=_description(token.description, expected_description),
        os=token.os,
        enabled=token.enabled,
        expires_at=_expires_at(token.expires_at, expected_expires_at),
        max_enrollments=token.max_enrollments,
        scope=token.scope,
        last_updated_time=_time(token.last_updated_time),
        created_time=_time(token.created_time),
        version=token.version,
        token=token.token,
    )


def _name_taken(name: str) -> ProviderError:
    return ProviderError(
        f"An agent access token named '{name}' already exists",
        "Token names are unique in an account. Choose another name, or manage the existing "
        "token with an import block (id = the token value) or `terraform import`.",
        ("name",),
    )


def _policy_changes(prior: State, arguments: Arguments) -> dict[str, Any]:
    """The policy arguments that changed, for ``AgentTokens.update`` (None removes one)."""
    changes: dict[str, Any] = {}
    if _parsed_time(arguments.expires_at) != _parsed_time(prior.expires_at):
        changes["expires_at"] = _parsed_time(arguments.expires_at)
    if arguments.max_enrollments != prior.max_enrollments:
        changes["max_enrollments"] = arguments.max_enrollments
    if arguments.scope != prior.scope:
        changes["scope"] = arguments.scope
    return changes


def _refused(exc: errors.LaceworkError) -> ProviderError:
    return ProviderError(
        "The server refused the agent access token",
        f"{exc.message} (expires_at, max_enrollments and scope are extensions of this plugin, "
        "served by lacework-tokens' backend)",
    )


class AgentAccessTokenResource(Resource[State, Arguments]):
    type_name = TYPE_NAME
    schema = SCHEMA
    state_model = State
    arguments_model = Arguments
    import_hint = "Use an import block with the token value instead."

    def __init__(self) -> None:
        super().__init__()
        self._snapshot: dict[str, AgentAccessToken] | None = None
        self._snapshot_taken = 0.0
        self._snapshot_lock = threading.Lock()

    def configure(self, connection: Connection) -> None:
        super().configure(connection)
        # A long-lived plugin is configured again for every terraform command: a refresh never
        # answers from a listing an earlier command took.
        self._forget_snapshot()

    @property
    def _tokens(self) -> AgentTokens:
        return self.connection.client.agent_tokens

    # --- plan -----------------------------------------------------------------------------

    def modify_plan(self, prior: State | None, plan: Plan) -> None:
        if prior is None:
            plan["id"] = plan["name"]
            return
        planned_os = plan["os"]
        if is_known(planned_os) and prior.os is not None and planned_os != prior.os:
            raise ProviderError(
                "The os of an agent access token cannot change",
                f"Agent access token '{prior.name}' was created for {prior.os!r}; the Lacework "
                f'API keeps a token\'s os for its lifetime. Set os = "{prior.os}", or create a '
                f"new token for {planned_os!r} (see the rotation example) and destroy this one.",
                ("os",),
            )
        plan["os"] = prior.os
        if plan.differs(prior, *IN_PLACE):
            plan["id"] = plan["name"]
            plan.set_unknown("last_updated_time", "version")

    # --- lifecycle ------------------------------------------------------------------------

    def create(self, arguments: Arguments) -> State:
        self._forget_snapshot()
        with self.connection.doing(f"creating agent access token '{arguments.name}'"):
            try:
                token = self._tokens.create(
                    arguments.name,
                    description=arguments.description or "",
                    os=arguments.os,
                    enabled=arguments.enabled,
                    expires_at=_parsed_time(arguments.expires_at),
                    max_enrollments=arguments.max_enrollments,
                    scope=arguments.scope,
                )
            except errors.ConflictError:
                raise _name_taken(arguments.name) from None
            except errors.InvalidRequestError as exc:
                raise _refused(exc) from None
        return to_state(
            token,
            expected_description=arguments.description,
            expected_expires_at=arguments.expires_at,
        )

    def read(self, state: State) -> State | None:
        with self.connection.doing(f"reading agent access token '{state.id}'"):
            try:
                token = self._get_for_refresh(state.token)
            except errors.NotFoundError:
                return None
        if token.name != state.id:
            # Renamed outside Terraform: the resource this configuration manages is gone.
            return None
        return to_state(
            token, expected_description=state.description, expected_expires_at=state.expires_at
        )

    def update(self, prior: State, arguments: Arguments) -> State:
        self._forget_snapshot()
        with self.connection.doing(f"updating agent access token '{prior.id}'"):
            try:
                token = self._tokens.update(
                    prior.token,
                    name=arguments.name if arguments.name != prior.name else None,
                    # An empty string clears the description; None leaves it alone.
                    description=(arguments.description or "")
                    if arguments.description != prior.description
                    else None,
                    enabled=arguments.enabled if arguments.enabled != prior.enabled else None,
                    **_policy_changes(prior, arguments),
                )
            except errors.ConflictError:
                raise _name_taken(arguments.name) from None
            except errors.InvalidRequestError as exc:
                raise _refused(exc) from None
            except errors.NotFoundError:
                raise ProviderError(
                    f"Agent access token '{prior.id}' was not found.",
                    "It no longer exists in the account. Run `terraform apply -refresh-only` "
                    "to forget it, then apply again to create it.",
                ) from None
        return to_state(
            token,
            expected_description=arguments.description,
            expected_expires_at=arguments.expires_at,
        )

    def delete(self, prior: State) -> None:
        self._forget_snapshot()
        # One PATCH, named from the state as the official provider does: the refresh before
        # destroy has just confirmed the name, so asking the server again would add a GET. A
        # soft-deleted name already taken is retried with another suffix by the SDK.
        with self.connection.doing(f"disabling agent access token '{prior.id}'"):
            try:
                self._tokens.soft_delete(prior.token, name=prior.name)
            except errors.NotFoundError:
                return  # already gone: nothing to disable

    def import_state(self, import_id: str) -> State:
        from lacework_tokens.wire import mask

        with self.connection.doing("importing an agent access token"):
            try:
                token = self._tokens.import_token(import_id)
            except (errors.NotFoundError, errors.InvalidRequestError):
                raise ProviderError(
                    "Unable to import Lacework resource. Agent access token "
                    f"'{mask(import_id)}' was not found.",
                    "Import takes the token value itself (not its name), from the same account "
                    "the provider is configured for.",
                ) from None
        return to_state(token)

    # --- the refresh snapshot -------------------------------------------------------------

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

    def _forget_snapshot(self) -> None:
        with self._snapshot_lock:
            self._snapshot = None

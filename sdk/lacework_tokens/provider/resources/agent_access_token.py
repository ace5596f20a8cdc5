"""``lacework_agent_access_token``: the official provider's resource, on the SDK.

- plan: ``os`` defaults to ``"linux"`` and ``enabled`` to true *whenever the configuration
  leaves them out* (declared defaults), so removing ``enabled = false`` plans re-enabling the
  token;
- create, disabled from the start when ``enabled = false``;
- read: a token that no longer exists, or whose name changed outside Terraform, leaves the
  state (Terraform then plans to create it again);
- name, description and enabled change in place; ``os`` cannot change (the API keeps it);
- destroy is a soft delete: the token is disabled and renamed ``<name>-xxxxx-deleted``;
- import takes the token value itself.

The SDK's models are imported where they are used: ``GetProviderSchema`` loads this module in
processes that never configure the provider.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import attrs

from lacework_tokens import errors
from lacework_tokens.limits import DEFAULT_OS
from lacework_tokens.provider.diagnostics import ProviderError
from lacework_tokens.provider.framework import BOOL, STRING, Attribute, Plan, Resource, Schema
from lacework_tokens.provider.values import is_known

if TYPE_CHECKING:
    from lacework_tokens.agent_tokens import AgentTokens
    from lacework_tokens.wire import AgentAccessToken

__all__ = ["SCHEMA", "TYPE_NAME", "AgentAccessTokenResource", "Arguments", "State"]

TYPE_NAME: Final = "lacework_agent_access_token"
DEFAULT_ENABLED: Final = True
# How long one listing of the account answers refreshes (a refresh walk takes seconds).
SNAPSHOT_SECONDS: Final = 30.0
# What an update changes in place; a change to any of them plans a new update time and version.
IN_PLACE: Final = ("name", "description", "enabled")

SCHEMA: Final = Schema(
    description="A Lacework agent access token. Destroying it disables and renames it: "
    "agent access tokens cannot be deleted.",
    attributes=(
        Attribute("id", STRING, "The token's name (its alias).", computed=True),
        Attribute("name", STRING, "The token's name, unique in the account.", required=True),
        Attribute("description", STRING, "A description of the token.", optional=True),
        Attribute(
            "os",
            STRING,
            f'The operating system of the agents using the token. Defaults to "{DEFAULT_OS}".',
            optional=True,
            computed=True,
            default=DEFAULT_OS,
        ),
        Attribute(
            "enabled",
            BOOL,
            "Whether agents may use the token. Defaults to true.",
            optional=True,
            computed=True,
            default=DEFAULT_ENABLED,
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


@attrs.frozen
class State:
    """The token as Terraform stores it."""

    id: str
    name: str
    description: str | None
    # Null only in a state this provider did not write (an upgraded state without ``os``).
    os: str | None
    enabled: bool
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


def to_state(token: AgentAccessToken, *, expected_description: str | None = None) -> State:
    return State(
        id=token.name,
        name=token.name,
        description=_description(token.description, expected_description),
        os=token.os,
        enabled=token.enabled,
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
        self._wrote()
        with self.connection.doing(f"creating agent access token '{arguments.name}'"):
            try:
                token = self._tokens.create(
                    arguments.name,
                    description=arguments.description or "",
                    os=arguments.os,
                    enabled=arguments.enabled,
                )
            except errors.ConflictError:
                raise _name_taken(arguments.name) from None
        return to_state(token, expected_description=arguments.description)

    def read(self, state: State) -> State | None:
        with self.connection.doing(f"reading agent access token '{state.id}'"):
            try:
                token = self._get_for_refresh(state.token)
            except errors.NotFoundError:
                return None
        if token.name != state.id:
            # Renamed outside Terraform: the resource this configuration manages is gone.
            return None
        return to_state(token, expected_description=state.description)

    def update(self, prior: State, arguments: Arguments) -> State:
        self._wrote()
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
                )
            except errors.ConflictError:
                raise _name_taken(arguments.name) from None
            except errors.NotFoundError:
                raise ProviderError(
                    f"Agent access token '{prior.id}' was not found.",
                    "It no longer exists in the account. Run `terraform apply -refresh-only` "
                    "to forget it, then apply again to create it.",
                ) from None
        return to_state(token, expected_description=arguments.description)

    def delete(self, prior: State) -> None:
        from lacework_tokens.agent_tokens import soft_delete_name

        self._wrote()
        # One PATCH, named from the state as the official provider does: the refresh before
        # destroy has just confirmed the name, so asking the server again would add a GET.
        with self.connection.doing(f"disabling agent access token '{prior.id}'"):
            try:
                self._tokens.update(prior.token, name=soft_delete_name(prior.name), enabled=False)
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

    def _wrote(self) -> None:
        with self._snapshot_lock:
            self._snapshot = None

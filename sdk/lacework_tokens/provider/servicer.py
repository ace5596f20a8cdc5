"""The Terraform plugin protocol (version 6), dispatched on the registry.

Each RPC decodes Terraform's values, looks the resource or data source up by type name in
``registry.REGISTRY`` and calls it (see ``framework``), then encodes the answer. Failures become
diagnostics: a ``ProviderError`` as written, anything unexpected as an internal error whose
traceback goes to stderr (which Terraform keeps in its debug log), never to the user's screen.

This module is loaded before the handshake; the registry, and with it ``attrs`` and every
resource module, only when the first call arrives.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

from tf.gen import tfplugin_pb2 as pb
from tf.gen import tfplugin_pb2_grpc as rpc

from lacework_tokens.provider import values
from lacework_tokens.provider.diagnostics import Diagnostic, ProviderError

if TYPE_CHECKING:
    from lacework_tokens.provider.configure import Connection
    from lacework_tokens.provider.framework import Attribute, Provider, Schema

__all__ = ["ProviderServicer"]

_Handler = TypeVar("_Handler", bound=Callable[..., Any])

_SEVERITY: Final = {"error": pb.Diagnostic.ERROR, "warning": pb.Diagnostic.WARNING}
# get_provider_schema_optional: Terraform starts the plugin several times per command and, told
# the schema never differs between them, asks for it once per command instead of once per start.
_CAPABILITIES: Final = pb.ServerCapabilities(plan_destroy=False, get_provider_schema_optional=True)


def _attribute_pb(attribute: Attribute) -> Any:
    return pb.Schema.Attribute(
        name=attribute.name,
        type=attribute.cty_type,
        description=attribute.description,
        description_kind=pb.PLAIN,
        required=attribute.required,
        optional=attribute.optional,
        computed=attribute.computed,
        sensitive=attribute.sensitive,
    )


def _schema_pb(schema: Schema) -> Any:
    return pb.Schema(
        version=schema.version,
        block=pb.Schema.Block(
            version=schema.version,
            attributes=[_attribute_pb(attribute) for attribute in schema.attributes],
            description=schema.description,
            description_kind=pb.PLAIN,
        ),
    )


def _diagnostics_pb(items: Sequence[Diagnostic]) -> list[Any]:
    converted = []
    for item in items:
        message = pb.Diagnostic(severity=_SEVERITY[item.severity], summary=item.summary)
        if item.detail:
            message.detail = item.detail
        if item.attribute:
            message.attribute.CopyFrom(
                pb.AttributePath(
                    steps=[pb.AttributePath.Step(attribute_name=name) for name in item.attribute]
                )
            )
        converted.append(message)
    return converted


def _dynamic(value: Any) -> Any:
    return pb.DynamicValue(msgpack=values.encode(value))


def _answer(response_type: Any) -> Callable[[_Handler], _Handler]:
    """Turn any exception from the handler into an error diagnostic on ``response_type``."""

    def decorate(handler: _Handler) -> _Handler:
        @functools.wraps(handler)
        def wrapper(self: ProviderServicer, request: Any, context: Any) -> Any:
            try:
                return handler(self, request, context)
            except ProviderError as error:
                return response_type(diagnostics=_diagnostics_pb([error.diagnostic]))
            except Exception as error:
                traceback.print_exc(file=sys.stderr)
                diagnostic = Diagnostic(
                    "Internal error in the lacework provider",
                    f"{handler.__name__} failed with {type(error).__name__}. The Terraform log "
                    "(TF_LOG=debug) has the details; please report it to lacework-tokens.",
                )
                return response_type(diagnostics=_diagnostics_pb([diagnostic]))

        return wrapper  # type: ignore[return-value]

    return decorate


class ProviderServicer(rpc.ProviderServicer):  # type: ignore[misc]
    """One configured provider instance (Terraform starts a process per provider block).

    ``long_lived``: the process serves many terraform commands through
    ``TF_REATTACH_PROVIDERS``, each configuring the provider again. Calls carry no sign of which
    provider block they belong to, so such a process serves one account: a configuration that
    resolves to other settings is refused rather than mixed up with the first.
    """

    def __init__(self, *, long_lived: bool = False) -> None:
        self._provider: Provider | None = None
        self._loading = threading.Lock()
        self._long_lived = long_lived
        self._connection: Connection | None = None

    def preload(self) -> None:
        """Load the registry ahead of the first call; a failure is left for that call to report."""
        with contextlib.suppress(Exception):
            self._served()

    def _served(self) -> Provider:
        """The registry's resources and data sources, loaded at the first call."""
        with self._loading:
            if self._provider is None:
                from lacework_tokens.provider.framework import Provider
                from lacework_tokens.provider.registry import REGISTRY

                self._provider = Provider(REGISTRY)
            return self._provider

    # --- schema and validation ------------------------------------------------------------

    @_answer(pb.GetMetadata.Response)
    def GetMetadata(self, request: Any, context: Any) -> Any:
        registry = self._served().registry
        return pb.GetMetadata.Response(
            server_capabilities=_CAPABILITIES,
            resources=[
                pb.GetMetadata.ResourceMetadata(type_name=name) for name in registry.resources
            ],
            data_sources=[
                pb.GetMetadata.DataSourceMetadata(type_name=name) for name in registry.data_sources
            ],
        )

    @_answer(pb.GetProviderSchema.Response)
    def GetProviderSchema(self, request: Any, context: Any) -> Any:
        registry = self._served().registry
        return pb.GetProviderSchema.Response(
            provider=_schema_pb(registry.provider_schema),
            resource_schemas={
                name: _schema_pb(kind.schema) for name, kind in registry.resources.items()
            },
            data_source_schemas={
                name: _schema_pb(kind.schema) for name, kind in registry.data_sources.items()
            },
            server_capabilities=_CAPABILITIES,
        )

    @_answer(pb.ValidateProviderConfig.Response)
    def ValidateProviderConfig(self, request: Any, context: Any) -> Any:
        provider = self._served()
        config = provider.registry.provider_schema.object(values.decode(request.config)) or {}
        return pb.ValidateProviderConfig.Response(
            diagnostics=_diagnostics_pb(provider.validate_config(config))
        )

    @_answer(pb.ValidateResourceConfig.Response)
    def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
        resource = self._served().resource(request.type_name)
        config = resource.schema.object(values.decode(request.config)) or {}
        return pb.ValidateResourceConfig.Response(
            diagnostics=_diagnostics_pb(resource.validate_config(config))
        )

    @_answer(pb.ValidateDataResourceConfig.Response)
    def ValidateDataResourceConfig(self, request: Any, context: Any) -> Any:
        data_source = self._served().data_source(request.type_name)
        config = data_source.schema.object(values.decode(request.config)) or {}
        return pb.ValidateDataResourceConfig.Response(
            diagnostics=_diagnostics_pb(data_source.validate_config(config))
        )

    @_answer(pb.UpgradeResourceState.Response)
    def UpgradeResourceState(self, request: Any, context: Any) -> Any:
        resource = self._served().resource(request.type_name)
        raw = json.loads(request.raw_state.json) if request.raw_state.json else {}
        return pb.UpgradeResourceState.Response(
            upgraded_state=_dynamic(resource.schema.object(raw))
        )

    # --- configuration --------------------------------------------------------------------

    @_answer(pb.ConfigureProvider.Response)
    def ConfigureProvider(self, request: Any, context: Any) -> Any:
        from lacework_tokens.provider.configure import ProviderConfig, connect

        provider = self._served()
        config = provider.registry.provider_schema.object(values.decode(request.config)) or {}
        connection = connect(ProviderConfig.from_object(config), request.terraform_version)
        with self._loading:
            previous = self._connection
            if previous is not None and self._long_lived:
                if not previous.usable:
                    previous.close()  # its login failed: the new configuration replaces it
                elif previous.settings != connection.settings:
                    raise ProviderError(
                        "This lacework plugin already serves another provider configuration",
                        "The plugin named by TF_REATTACH_PROVIDERS runs for many terraform "
                        f"commands and serves one configuration: account "
                        f"{previous.settings.account} at {previous.server}. This provider "
                        f"block resolves to other settings (account "
                        f"{connection.settings.account} at {connection.server}). Run this "
                        "configuration without TF_REATTACH_PROVIDERS, or under its own "
                        "`lacework-tokens terraform run`.",
                    )
                else:
                    connection = previous  # keeps its bearer token: no login per command
            self._connection = connection
        provider.configure(connection)
        return pb.ConfigureProvider.Response()

    # --- resource lifecycle ---------------------------------------------------------------

    @_answer(pb.ReadResource.Response)
    def ReadResource(self, request: Any, context: Any) -> Any:
        resource = self._served().resource(request.type_name)
        current = resource.schema.object(values.decode(request.current_state))
        if current is None:
            return pb.ReadResource.Response(new_state=request.current_state)
        new_state = resource.read_object(current)
        return pb.ReadResource.Response(new_state=_dynamic(new_state), private=request.private)

    @_answer(pb.PlanResourceChange.Response)
    def PlanResourceChange(self, request: Any, context: Any) -> Any:
        resource = self._served().resource(request.type_name)
        config = resource.schema.object(values.decode(request.config))
        if config is None:
            # Destroy: nothing to plan.
            return pb.PlanResourceChange.Response(planned_state=request.proposed_new_state)
        prior = resource.schema.object(values.decode(request.prior_state))
        planned = resource.plan_change(prior, config)
        return pb.PlanResourceChange.Response(planned_state=_dynamic(planned))

    @_answer(pb.ApplyResourceChange.Response)
    def ApplyResourceChange(self, request: Any, context: Any) -> Any:
        resource = self._served().resource(request.type_name)
        prior = resource.schema.object(values.decode(request.prior_state))
        planned = resource.schema.object(values.decode(request.planned_state))
        new_state = resource.apply_change(prior, planned)
        return pb.ApplyResourceChange.Response(new_state=_dynamic(new_state))

    @_answer(pb.ImportResourceState.Response)
    def ImportResourceState(self, request: Any, context: Any) -> Any:
        resource = self._served().resource(request.type_name)
        state = resource.import_object(request.id)
        return pb.ImportResourceState.Response(
            imported_resources=[
                pb.ImportResourceState.ImportedResource(
                    type_name=request.type_name, state=_dynamic(state)
                )
            ]
        )

    @_answer(pb.MoveResourceState.Response)
    def MoveResourceState(self, request: Any, context: Any) -> Any:
        resource = self._served().resource(request.target_type_name)
        raise ProviderError(
            f"Moving state into {resource.type_name} is not supported", resource.import_hint
        )

    # --- data sources ---------------------------------------------------------------------

    @_answer(pb.ReadDataSource.Response)
    def ReadDataSource(self, request: Any, context: Any) -> Any:
        data_source = self._served().data_source(request.type_name)
        config = data_source.schema.object(values.decode(request.config))
        if config is None:
            raise ValueError("ReadDataSource without a configuration")
        return pb.ReadDataSource.Response(state=_dynamic(data_source.read_object(config)))

    # --- functions and shutdown -----------------------------------------------------------

    @_answer(pb.GetFunctions.Response)
    def GetFunctions(self, request: Any, context: Any) -> Any:
        return pb.GetFunctions.Response()

    @_answer(pb.StopProvider.Response)
    def StopProvider(self, request: Any, context: Any) -> Any:
        # Calls in flight finish on their own (each is one short HTTP exchange).
        return pb.StopProvider.Response()

"""The Terraform plugin protocol (version 6) for the lacework provider.

Each RPC decodes Terraform's values, calls ``tokens`` and encodes the answer. Failures become
diagnostics: a ``ProviderError`` as written, anything unexpected as an internal error whose
traceback goes to stderr (which Terraform keeps in its debug log), never to the user's screen.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

from tf.gen import tfplugin_pb2 as pb
from tf.gen import tfplugin_pb2_grpc as rpc

from lacework_tokens import __version__
from lacework_tokens.provider import values
from lacework_tokens.provider.diagnostics import Diagnostic, Diagnostics, ProviderError
from lacework_tokens.provider.schema import (
    DATA_SOURCE,
    PROVIDER,
    RESOURCE,
    TOKEN_TYPE_NAME,
    Attribute,
    Block,
)

if TYPE_CHECKING:
    from lacework_tokens.provider.tokens import Tokens

__all__ = ["ProviderServicer"]

_Handler = TypeVar("_Handler", bound=Callable[..., Any])

_TYPES: Final = {"string": b'"string"', "bool": b'"bool"'}
_SEVERITY: Final = {"error": pb.Diagnostic.ERROR, "warning": pb.Diagnostic.WARNING}


def _attribute_pb(attribute: Attribute) -> Any:
    return pb.Schema.Attribute(
        name=attribute.name,
        type=_TYPES[attribute.type],
        description=attribute.description,
        description_kind=pb.PLAIN,
        required=attribute.required,
        optional=attribute.optional,
        computed=attribute.computed,
        sensitive=attribute.sensitive,
    )


def _schema_pb(block: Block) -> Any:
    return pb.Schema(
        version=block.version,
        block=pb.Schema.Block(
            version=block.version,
            attributes=[_attribute_pb(attribute) for attribute in block.attributes],
            description=block.description,
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


def _object(dynamic_value: Any, block: Block) -> values.Object | None:
    """A decoded object with exactly the block's attributes (missing ones null)."""
    decoded = values.decode(dynamic_value)
    if decoded is None:
        return None
    return {name: decoded.get(name) for name in block.names}


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
    """One configured provider instance (Terraform starts a process per provider block)."""

    def __init__(self) -> None:
        self._tokens: Tokens | None = None

    # --- schema and validation ------------------------------------------------------------

    @_answer(pb.GetMetadata.Response)
    def GetMetadata(self, request: Any, context: Any) -> Any:
        return pb.GetMetadata.Response(
            server_capabilities=pb.ServerCapabilities(plan_destroy=False),
            resources=[pb.GetMetadata.ResourceMetadata(type_name=TOKEN_TYPE_NAME)],
            data_sources=[pb.GetMetadata.DataSourceMetadata(type_name=TOKEN_TYPE_NAME)],
        )

    @_answer(pb.GetProviderSchema.Response)
    def GetProviderSchema(self, request: Any, context: Any) -> Any:
        return pb.GetProviderSchema.Response(
            provider=_schema_pb(PROVIDER),
            resource_schemas={TOKEN_TYPE_NAME: _schema_pb(RESOURCE)},
            data_source_schemas={TOKEN_TYPE_NAME: _schema_pb(DATA_SOURCE)},
            server_capabilities=pb.ServerCapabilities(plan_destroy=False),
        )

    @_answer(pb.ValidateProviderConfig.Response)
    def ValidateProviderConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateProviderConfig.Response()

    @_answer(pb.ValidateResourceConfig.Response)
    def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
        self._expect_type(request.type_name)
        return pb.ValidateResourceConfig.Response()

    @_answer(pb.ValidateDataResourceConfig.Response)
    def ValidateDataResourceConfig(self, request: Any, context: Any) -> Any:
        self._expect_type(request.type_name)
        return pb.ValidateDataResourceConfig.Response()

    @_answer(pb.UpgradeResourceState.Response)
    def UpgradeResourceState(self, request: Any, context: Any) -> Any:
        self._expect_type(request.type_name)
        import json

        raw = json.loads(request.raw_state.json) if request.raw_state.json else {}
        state = {name: raw.get(name) for name in RESOURCE.names}
        return pb.UpgradeResourceState.Response(upgraded_state=_dynamic(state))

    # --- configuration --------------------------------------------------------------------

    @_answer(pb.ConfigureProvider.Response)
    def ConfigureProvider(self, request: Any, context: Any) -> Any:
        config = _object(request.config, PROVIDER) or {}
        diagnostics = Diagnostics()
        from lacework_tokens.provider.configure import connect

        self._tokens = connect(config, request.terraform_version, diagnostics)
        return pb.ConfigureProvider.Response(diagnostics=_diagnostics_pb(diagnostics.items))

    def _connected(self) -> Tokens:
        if self._tokens is None:
            raise ProviderError(
                "The lacework provider is not configured",
                "Terraform called the provider before configuring it successfully; see the "
                "provider configuration errors above.",
            )
        return self._tokens

    @staticmethod
    def _expect_type(type_name: str) -> None:
        if type_name != TOKEN_TYPE_NAME:
            raise ProviderError(
                f"Unsupported type {type_name!r}",
                f"lacework-tokens {__version__} serves only {TOKEN_TYPE_NAME}.",
            )

    # --- resource lifecycle ---------------------------------------------------------------

    @_answer(pb.ReadResource.Response)
    def ReadResource(self, request: Any, context: Any) -> Any:
        self._expect_type(request.type_name)
        current = _object(request.current_state, RESOURCE)
        if current is None:
            return pb.ReadResource.Response(new_state=request.current_state)
        new_state = self._connected().read(current)
        return pb.ReadResource.Response(new_state=_dynamic(new_state), private=request.private)

    @_answer(pb.PlanResourceChange.Response)
    def PlanResourceChange(self, request: Any, context: Any) -> Any:
        self._expect_type(request.type_name)
        config = _object(request.config, RESOURCE)
        if config is None:
            # Destroy: nothing to plan.
            return pb.PlanResourceChange.Response(planned_state=request.proposed_new_state)
        from lacework_tokens.provider.tokens import plan

        prior = _object(request.prior_state, RESOURCE)
        return pb.PlanResourceChange.Response(planned_state=_dynamic(plan(prior, config)))

    @_answer(pb.ApplyResourceChange.Response)
    def ApplyResourceChange(self, request: Any, context: Any) -> Any:
        self._expect_type(request.type_name)
        prior = _object(request.prior_state, RESOURCE)
        planned = _object(request.planned_state, RESOURCE)
        tokens = self._connected()
        new_state: values.Object | None
        if planned is None:
            assert prior is not None
            tokens.delete(prior)
            new_state = None
        elif prior is None:
            new_state = tokens.create(planned)
        else:
            new_state = tokens.update(prior, planned)
        return pb.ApplyResourceChange.Response(new_state=_dynamic(new_state))

    @_answer(pb.ImportResourceState.Response)
    def ImportResourceState(self, request: Any, context: Any) -> Any:
        self._expect_type(request.type_name)
        state = self._connected().import_(request.id)
        return pb.ImportResourceState.Response(
            imported_resources=[
                pb.ImportResourceState.ImportedResource(
                    type_name=TOKEN_TYPE_NAME, state=_dynamic(state)
                )
            ]
        )

    @_answer(pb.MoveResourceState.Response)
    def MoveResourceState(self, request: Any, context: Any) -> Any:
        raise ProviderError(
            "Moving state into lacework_agent_access_token is not supported",
            "Use an import block with the token value instead.",
        )

    # --- data source ----------------------------------------------------------------------

    @_answer(pb.ReadDataSource.Response)
    def ReadDataSource(self, request: Any, context: Any) -> Any:
        self._expect_type(request.type_name)
        config = _object(request.config, DATA_SOURCE)
        assert config is not None
        state = self._connected().lookup(config)
        return pb.ReadDataSource.Response(state=_dynamic(state))

    # --- functions and shutdown -----------------------------------------------------------

    @_answer(pb.GetFunctions.Response)
    def GetFunctions(self, request: Any, context: Any) -> Any:
        return pb.GetFunctions.Response()

    @_answer(pb.StopProvider.Response)
    def StopProvider(self, request: Any, context: Any) -> Any:
        # Calls in flight finish on their own (each is one short HTTP exchange).
        return pb.StopProvider.Response()

"""The plugin's protocol layer without Terraform: what the servicer answers for plans, unknown
types and unconfigured calls, how the framework reports validator problems and refuses a model
that does not match its schema, and what the plugin loads before its handshake."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from tf.gen import tfplugin_pb2 as pb

from lacework_tokens import limits
from lacework_tokens.provider import values
from lacework_tokens.provider.configure import SCHEMA as PROVIDER_SCHEMA
from lacework_tokens.provider.configure import ProviderConfig
from lacework_tokens.provider.framework import (
    STRING,
    Attribute,
    Registry,
    Resource,
    Schema,
    validate,
)
from lacework_tokens.provider.registry import REGISTRY
from lacework_tokens.provider.server import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE
from lacework_tokens.provider.servicer import ProviderServicer
from lacework_tokens.provider.values import UNKNOWN

TOKEN = "lacework_agent_access_token"


def _config(**given: Any) -> dict[str, Any]:
    """A resource configuration as Terraform sends it: every attribute, null unless given."""
    schema = REGISTRY.resources[TOKEN].schema
    return {name: given.get(name) for name in schema.names}


def _prior(**changes: Any) -> dict[str, Any]:
    state = {
        "id": "prod",
        "name": "prod",
        "description": None,
        "os": "linux",
        "enabled": False,
        "expires_at": None,
        "max_enrollments": None,
        "scope": None,
        "last_updated_time": "2026-01-02T03:04:05Z",
        "created_time": "2026-01-01T00:00:00Z",
        "version": "0.1",
        "token": "a" * 56,
    }
    return {**state, **changes}


def _dynamic(value: Any) -> Any:
    return pb.DynamicValue(msgpack=values.encode(value))


def _plan(config: dict[str, Any], prior: dict[str, Any] | None, type_name: str = TOKEN) -> Any:
    request = pb.PlanResourceChange.Request(
        type_name=type_name, config=_dynamic(config), prior_state=_dynamic(prior)
    )
    return ProviderServicer().PlanResourceChange(request, None)


def _errors(response: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (item.summary, item.detail, tuple(step.attribute_name for step in item.attribute.steps))
        for item in response.diagnostics
        if item.severity == pb.Diagnostic.ERROR
    ]


def test_a_create_plans_the_declared_defaults_and_leaves_server_values_unknown() -> None:
    response = _plan(_config(name="prod"), None)

    assert _errors(response) == []
    planned = values.decode(response.planned_state)
    assert planned["id"] == "prod"
    assert planned["os"] == limits.DEFAULT_OS
    assert planned["enabled"] is True
    assert planned["description"] is None
    for computed in ("token", "created_time", "last_updated_time", "version"):
        assert planned[computed] is UNKNOWN


def test_leaving_enabled_out_plans_re_enabling_and_keeps_the_token() -> None:
    prior = _prior(enabled=False)
    response = _plan(_config(name="prod"), prior)

    planned = values.decode(response.planned_state)
    assert planned["enabled"] is True
    assert planned["token"] == prior["token"]
    assert planned["created_time"] == prior["created_time"]
    assert planned["last_updated_time"] is UNKNOWN and planned["version"] is UNKNOWN


def test_an_unchanged_configuration_plans_exactly_the_prior_state() -> None:
    prior = _prior(enabled=True, description="d")
    response = _plan(_config(name="prod", description="d", os="linux"), prior)

    assert values.decode(response.planned_state) == prior


def test_a_name_known_only_at_apply_plans_an_unknown_id() -> None:
    response = _plan(_config(name=UNKNOWN), _prior())

    planned = values.decode(response.planned_state)
    assert planned["id"] is UNKNOWN and planned["name"] is UNKNOWN


def test_changing_os_is_refused_at_plan_on_the_os_attribute() -> None:
    response = _plan(_config(name="prod", os="windows"), _prior(os="linux"))

    ((summary, detail, path),) = _errors(response)
    assert summary == "The os of an agent access token cannot change"
    assert 'Set os = "linux"' in detail
    assert path == ("os",)


def test_an_unknown_type_names_the_types_served() -> None:
    response = _plan(_config(name="prod"), None, type_name="lacework_nothing")

    ((summary, detail, _),) = _errors(response)
    assert summary == "Unsupported type 'lacework_nothing'"
    assert detail.endswith(f"serves only {TOKEN}.")


def test_a_call_before_the_provider_is_configured_is_a_diagnostic() -> None:
    request = pb.ReadDataSource.Request(type_name=TOKEN, config=_dynamic({"id": None, "name": "x"}))
    response = ProviderServicer().ReadDataSource(request, None)

    ((summary, _, _),) = _errors(response)
    assert summary == "The lacework provider is not configured"


def test_the_schema_answer_lists_every_registered_type() -> None:
    servicer = ProviderServicer()
    schema = servicer.GetProviderSchema(pb.GetProviderSchema.Request(), None)
    metadata = servicer.GetMetadata(pb.GetMetadata.Request(), None)

    assert set(schema.resource_schemas) == set(REGISTRY.resources) == {TOKEN}
    assert set(schema.data_source_schemas) == set(REGISTRY.data_sources)
    assert set(REGISTRY.data_sources) == {TOKEN, "lacework_api_token"}
    assert {item.type_name for item in metadata.resources} == set(REGISTRY.resources)
    attributes = {item.name: item for item in schema.resource_schemas[TOKEN].block.attributes}
    # A declared default makes the attribute optional and computed on the wire.
    assert attributes["os"].optional and attributes["os"].computed
    assert attributes["token"].sensitive and attributes["token"].computed
    assert json.loads(attributes["enabled"].type) == "bool"


def test_a_validator_problem_is_an_error_at_its_attribute() -> None:
    schema = Schema(
        (
            Attribute("name", STRING, "A name.", required=True, validators=(limits.alias_problem,)),
            Attribute("os", STRING, "An os.", optional=True, validators=(limits.os_problem,)),
        )
    )

    (problem,) = validate(schema, {"name": "", "os": None})
    assert problem.attribute == ("name",)
    assert problem.summary == "Invalid value for name"
    assert problem.detail == f"name must be 1 to {limits.ALIAS_MAX_LENGTH} characters long."
    # Unknown values are validated once Terraform knows them.
    assert validate(schema, {"name": UNKNOWN, "os": " linux"})[0].attribute == ("os",)
    assert validate(schema, {"name": "prod", "os": "linux"}) == []


@attrs.frozen
class _Named:
    name: str


@attrs.frozen
class _NamedWithId:
    id: str
    name: str


def _resource(schema: Schema, state: type[Any], arguments: type[Any]) -> type[Resource[Any, Any]]:
    class Toy(Resource[Any, Any]):
        type_name = "lacework_toy"

        def create(self, arguments: Any) -> Any:
            return _NamedWithId(id=arguments.name, name=arguments.name)

        def read(self, state: Any) -> Any:
            return state

        def update(self, prior: Any, arguments: Any) -> Any:
            return prior

        def delete(self, prior: Any) -> None:
            return None

    Toy.schema = schema
    Toy.state_model = state
    Toy.arguments_model = arguments
    return Toy


_TOY_SCHEMA = Schema(
    (
        Attribute("id", STRING, "The id.", computed=True),
        Attribute("name", STRING, "The name.", required=True),
    )
)


def _registry(*resources: type[Resource[Any, Any]]) -> Registry:
    return Registry(
        provider_schema=PROVIDER_SCHEMA,
        provider_model=ProviderConfig,
        resources=resources,
        data_sources=(),
    )


def test_the_registry_accepts_a_resource_whose_models_match_its_schema() -> None:
    toy = _resource(_TOY_SCHEMA, _NamedWithId, _Named)
    assert _registry(toy).resources == {"lacework_toy": toy}


@pytest.mark.parametrize(
    ("schema", "state", "arguments", "complaint"),
    [
        (_TOY_SCHEMA, _Named, _Named, "_Named has fields ['name'], the schema ['id', 'name']"),
        (_TOY_SCHEMA, _NamedWithId, _NamedWithId, "the schema ['name']"),
        (
            Schema((Attribute("name", STRING, "The name.", optional=True, default="x"),)),
            _Named,
            _Named,
            "name: an attribute with a default is optional and computed",
        ),
        (
            Schema((Attribute("name", STRING, "The name.", required=True, computed=True),)),
            _Named,
            _Named,
            "name: a required attribute is neither optional nor computed",
        ),
    ],
)
def test_the_registry_refuses_a_resource_whose_declaration_does_not_hold(
    schema: Schema, state: type[Any], arguments: type[Any], complaint: str
) -> None:
    with pytest.raises(TypeError, match="lacework_toy") as refused:
        _registry(_resource(schema, state, arguments))
    assert complaint in str(refused.value)


def test_a_type_registered_twice_is_refused() -> None:
    toy = _resource(_TOY_SCHEMA, _NamedWithId, _Named)
    with pytest.raises(TypeError, match="lacework_toy is registered twice"):
        _registry(toy, toy)


HANDSHAKE_PROBE = """
import json, os, sys
from lacework_tokens.provider import server

class Handshake:
    # The plugin writes its handshake line here: report what is loaded at that moment.
    def write(self, text):
        sys.__stdout__.write(json.dumps(sorted(sys.modules)) + "\\n")
        sys.__stdout__.flush()
        os._exit(0)

    def flush(self):
        pass

sys.stdout = Handshake()
server.main()
"""


def test_the_plugin_reaches_its_handshake_without_loading_the_sdk_stack(tmp_path: Path) -> None:
    # Terraform starts the plugin several times per command and waits for the handshake line
    # each time: the protocol's stubs, the servicer, the HTTP client, the wire models and the
    # resource modules load after it.
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "TMPDIR": str(tmp_path),  # the socket directory outlives the probe
        MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
        "PLUGIN_PROTOCOL_VERSIONS": "6",
    }

    def modules_at_handshake() -> set[str]:
        result = subprocess.run(
            [sys.executable, "-P", "-c", HANDSHAKE_PROBE],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return set(json.loads(result.stdout))

    modules_at_handshake()  # the first start creates the cached TLS identity, once per user
    loaded = modules_at_handshake()

    assert {"grpc", "lacework_tokens.provider.tls"} <= loaded  # the probe reached the handshake
    late = {
        "tf.gen.tfplugin_pb2",
        "lacework_tokens.provider.servicer",
        "requests",
        "cattrs",
        "attrs",
        "tenacity",
        "lacework_tokens.client",
        "lacework_tokens.wire",
        "lacework_tokens.provider.framework",
        "lacework_tokens.provider.registry",
    }
    assert loaded & late == set()


# --- configuration: no call at configure, one login, one account per long-lived plugin --------


def _configure(servicer: ProviderServicer, **given: Any) -> Any:
    config = {name: given.get(name) for name in PROVIDER_SCHEMA.names}
    request = pb.ConfigureProvider.Request(terraform_version="1.11.4", config=_dynamic(config))
    return servicer.ConfigureProvider(request, None)


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_configuring_makes_no_call_and_a_failed_login_is_every_calls_one_diagnostic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LW_API_SERVER_URL", _closed_port_url())
    servicer = ProviderServicer()
    configured = _configure(servicer, account="acme", api_key="KEY", api_secret="_secret")
    assert _errors(configured) == []  # nothing listens there, and nothing was asked

    read = pb.ReadDataSource.Request(type_name=TOKEN, config=_dynamic({"id": None, "name": "x"}))
    first = _errors(servicer.ReadDataSource(read, None))
    second = _errors(servicer.ReadDataSource(read, None))
    assert first == second
    ((summary, detail, _),) = first
    assert summary.startswith("Unable to reach the Lacework API at http://127.0.0.1:")
    assert "exchanging the API key for an access token" in detail


def test_a_long_lived_plugin_serves_one_account_and_keeps_its_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LW_API_SERVER_URL", _closed_port_url())
    servicer = ProviderServicer(long_lived=True)
    acme = {"account": "acme", "api_key": "KEY", "api_secret": "_secret"}
    assert _errors(_configure(servicer, **acme)) == []
    connection = servicer._connection
    assert _errors(_configure(servicer, **acme)) == []  # the next terraform command
    assert servicer._connection is connection

    ((summary, detail, _),) = _errors(_configure(servicer, **{**acme, "account": "other"}))
    assert summary == "This lacework plugin already serves another provider configuration"
    assert "account acme at http://127.0.0.1:" in detail and "account other" in detail
    assert servicer._connection is connection

    # Once its login has failed, the next command may bring other settings.
    read = pb.ReadDataSource.Request(type_name=TOKEN, config=_dynamic({"id": None, "name": "x"}))
    assert _errors(servicer.ReadDataSource(read, None))  # nothing listens at the server URL
    assert _errors(_configure(servicer, **{**acme, "account": "other"})) == []
    assert servicer._connection is not connection


def test_lacework_api_token_has_the_official_schema() -> None:
    schema = ProviderServicer().GetProviderSchema(pb.GetProviderSchema.Request(), None)
    block = schema.data_source_schemas["lacework_api_token"].block
    attributes = {item.name: item for item in block.attributes}
    assert set(attributes) == {"id", "token"}
    assert attributes["token"].computed and attributes["token"].sensitive
    assert not any(item.required or item.optional for item in attributes.values())

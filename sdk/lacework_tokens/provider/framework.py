"""Resources and data sources in the shape of HashiCorp's terraform-plugin-framework.

A resource is one module, ``resources/<type>.py``, holding:

- its models, ``attrs`` classes whose field names are attribute names: the *state* (every
  attribute, as Terraform stores it) and the *arguments* (the attributes a configuration sets,
  declared defaults filled in), which ``create`` and ``update`` act on;
- its ``Schema``: each ``Attribute`` with its type, required/optional/computed/sensitive, its
  declared default and its validators;
- a ``Resource`` subclass: ``modify_plan`` (what differs from the default plan), ``create``,
  ``read``, ``update``, ``delete`` and ``import_state``.

A data source, ``data_sources/<type>.py``, has a config model, a state model, a schema and
``read``. ``registry.REGISTRY`` lists both kinds; the servicer dispatches every RPC on it.

Terraform values cross the protocol as ``values.Object`` (attribute name to value). The final
methods the servicer calls (``plan_change``, ``apply_change``, ``read_object``, …) convert them
to and from the models, so resource code meets a plain mapping only in ``Plan``, the one place
where values may be ``UNKNOWN``.

Validation: a validator maps an attribute's value to a problem phrase, or None when the value is
fine (the checks in ``lacework_tokens.limits`` have this shape); ``validate`` reports each
problem as an error at the attribute's path, when Terraform validates a configuration.

Importing this module imports ``attrs``; the servicer loads it after the handshake.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, Literal, NamedTuple, TypeVar, final

import attrs
from attrs import AttrsInstance

from lacework_tokens import __version__
from lacework_tokens.provider.diagnostics import Diagnostic, ProviderError
from lacework_tokens.provider.values import UNKNOWN, Object, is_known

if TYPE_CHECKING:
    from lacework_tokens.provider.configure import Connection

__all__ = [
    "BOOL",
    "NUMBER",
    "STRING",
    "Attribute",
    "AttributeType",
    "DataSource",
    "Plan",
    "Provider",
    "Registry",
    "Resource",
    "Schema",
    "Validator",
    "model_from",
    "object_from",
    "validate",
]


AttributeType = Literal["string", "bool", "number"]
STRING: Final = "string"
BOOL: Final = "bool"
NUMBER: Final = "number"  # whole numbers only here: cty sends them as msgpack integers
_PYTHON_TYPES: Final[Mapping[str, type]] = {STRING: str, BOOL: bool, NUMBER: int}

Validator = Callable[[Any], str | None]
"""A known, non-null value in; None when it is fine, else what is wrong ("must be …")."""

# Attribute and Schema are named tuples, the cheapest immutable classes to define: the plugin
# loads every schema in each process Terraform starts. ``Registry`` checks them.


class Attribute(NamedTuple):
    name: str
    type: AttributeType
    description: str
    required: bool = False
    optional: bool = False
    computed: bool = False
    sensitive: bool = False
    # Planned when the configuration leaves the attribute out. Protocol 6 has no schema
    # defaults: such an attribute is optional and computed, and the provider plans the value.
    default: str | bool | None = None
    validators: tuple[Validator, ...] = ()

    @property
    def configurable(self) -> bool:
        """Whether a configuration may set it."""
        return self.required or self.optional

    @property
    def cty_type(self) -> bytes:
        """The type as the plugin protocol spells it (cty's JSON type encoding)."""
        return json.dumps(self.type).encode()

    def problem(self) -> str | None:
        """What makes this declaration invalid, if anything."""
        if self.type not in _PYTHON_TYPES:
            return f"unknown type {self.type!r}"
        if self.required and (self.optional or self.computed):
            return "a required attribute is neither optional nor computed"
        if not (self.required or self.optional or self.computed):
            return "give required, optional or computed"
        if self.default is not None:
            if not (self.optional and self.computed):
                return "an attribute with a default is optional and computed"
            if not isinstance(self.default, _PYTHON_TYPES[self.type]):
                return f"the default is not a {self.type}"
        return None


class Schema(NamedTuple):
    attributes: tuple[Attribute, ...]
    description: str = ""
    version: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(attribute.name for attribute in self.attributes)

    @property
    def configurable_names(self) -> tuple[str, ...]:
        return tuple(attribute.name for attribute in self.attributes if attribute.configurable)

    def object(self, decoded: Any) -> Object | None:
        """A decoded Terraform object with exactly this schema's attributes (missing ones null),
        or None for a null object."""
        if decoded is None:
            return None
        return {name: decoded.get(name) for name in self.names}


def _check_schema(owner: str, schema: Schema) -> None:
    if len(set(schema.names)) != len(schema.names):
        raise TypeError(f"{owner}: attribute names repeat: {schema.names}")
    for attribute in schema.attributes:
        problem = attribute.problem()
        if problem is not None:
            raise TypeError(f"{owner}.{attribute.name}: {problem}")


def validate(schema: Schema, config: Object) -> list[Diagnostic]:
    """Every validator's problem with a known, non-null value of ``config``."""
    problems = []
    for attribute in schema.attributes:
        value = config.get(attribute.name)
        if value is None or not is_known(value):
            continue  # required-ness is Terraform's check; unknown values are checked at apply
        for validator in attribute.validators:
            problem = validator(value)
            if problem is not None:
                problems.append(
                    Diagnostic(
                        f"Invalid value for {attribute.name}",
                        f"{attribute.name} {problem}.",
                        attribute=(attribute.name,),
                    )
                )
    return problems


# --- models ---------------------------------------------------------------------------------

Model = TypeVar("Model", bound=AttrsInstance)
State = TypeVar("State", bound=AttrsInstance)
Arguments = TypeVar("Arguments", bound=AttrsInstance)
Config = TypeVar("Config", bound=AttrsInstance)


def model_from(model: type[Model], values: Object) -> Model:
    """The model of a Terraform object, each field from the attribute of its name.

    Every value it takes must be known: state always is, and configuration is at apply time.
    """
    names = attrs.fields_dict(model)
    unknown = [name for name in names if not is_known(values[name])]
    if unknown:
        raise ValueError(f"{model.__name__} from unknown values of {', '.join(unknown)}")
    return model(**{name: values[name] for name in names})


def object_from(schema: Schema, model: AttrsInstance) -> Object:
    """The Terraform object of a model, attributes in schema order."""
    return {name: getattr(model, name) for name in schema.names}


def _check_model(owner: str, model: type[AttrsInstance], expected: Iterable[str]) -> None:
    fields = set(attrs.fields_dict(model))
    if fields != set(expected):
        raise TypeError(
            f"{owner}: {model.__name__} has fields {sorted(fields)}, the schema {sorted(expected)}"
        )


class Plan:
    """The planned new state of one resource instance, by attribute name.

    Any value may be ``UNKNOWN`` (Terraform knows it only after apply), which is why this is a
    mapping checked against the schema rather than a model.
    """

    def __init__(self, schema: Schema, values: Object) -> None:
        self._values = {name: values[name] for name in schema.names}

    def __getitem__(self, name: str) -> Any:
        return self._values[self._checked(name)]

    def __setitem__(self, name: str, value: Any) -> None:
        self._values[self._checked(name)] = value

    def set_unknown(self, *names: str) -> None:
        for name in names:
            self[name] = UNKNOWN

    def differs(self, prior: AttrsInstance, *names: str) -> bool:
        """Whether any of ``names`` may change from ``prior`` (unknown counts as a change)."""
        return any(
            not (is_known(self[name]) and self[name] == getattr(prior, name)) for name in names
        )

    def to_object(self) -> Object:
        return dict(self._values)

    def _checked(self, name: str) -> str:
        if name not in self._values:
            raise KeyError(f"{name!r} is not an attribute of this resource")
        return name


# --- resources and data sources -------------------------------------------------------------


class _Configured:
    """What resources and data sources share: the schema, and the provider's connection."""

    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    def __init__(self) -> None:
        self._connection: Connection | None = None

    def configure(self, connection: Connection) -> None:
        """Called once the provider block is configured, before any call that needs the API."""
        self._connection = connection

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise ProviderError(
                "The lacework provider is not configured",
                "Terraform called the provider before configuring it successfully; see the "
                "provider configuration errors above.",
            )
        return self._connection

    @final
    def validate_config(self, config: Object) -> list[Diagnostic]:
        return validate(self.schema, config)


class Resource(_Configured, Generic[State, Arguments], abc.ABC):
    """A managed resource. Subclasses set ``type_name``, ``schema``, ``state_model`` and
    ``arguments_model`` and implement the lifecycle."""

    state_model: type[State]
    arguments_model: type[Arguments]
    # What the diagnostic for an unsupported state move suggests instead.
    import_hint: ClassVar[str] = "Use an import block instead."

    def modify_plan(self, prior: State | None, plan: Plan) -> None:
        """Adjust the default plan (see ``plan_change``); raise ``ProviderError`` to refuse it."""

    @abc.abstractmethod
    def create(self, arguments: Arguments) -> State: ...

    @abc.abstractmethod
    def read(self, state: State) -> State | None:
        """The resource as it is now, or None when it is gone (Terraform plans to create it)."""

    @abc.abstractmethod
    def update(self, prior: State, arguments: Arguments) -> State: ...

    @abc.abstractmethod
    def delete(self, prior: State) -> None: ...

    def import_state(self, import_id: str) -> State:
        raise ProviderError(f"{self.type_name} cannot be imported")

    # --- what the servicer calls: Terraform objects in and out --------------------------------

    @final
    def plan_change(self, prior: Object | None, config: Object) -> Object:
        """The planned state for ``config``: a create when ``prior`` is None, else an update.

        The default plan, attribute by attribute: the configured value; else the declared
        default; else, for a computed attribute, the prior value (unknown on create). Then
        ``modify_plan`` adjusts it.
        """
        prior_state = None if prior is None else model_from(self.state_model, prior)
        planned: Object = {}
        for attribute in self.schema.attributes:
            value = config[attribute.name] if attribute.configurable else None
            if value is None and attribute.default is not None:
                value = attribute.default
            if value is None and attribute.computed:
                value = UNKNOWN if prior_state is None else getattr(prior_state, attribute.name)
            planned[attribute.name] = value
        plan = Plan(self.schema, planned)
        self.modify_plan(prior_state, plan)
        return plan.to_object()

    @final
    def apply_change(self, prior: Object | None, planned: Object | None) -> Object | None:
        """Carry out a planned change. The protocol says which: no planned state destroys, no
        prior state creates, both update."""
        if planned is None:
            if prior is not None:
                self.delete(model_from(self.state_model, prior))
            return None
        arguments = model_from(self.arguments_model, planned)
        if prior is None:
            state = self.create(arguments)
        else:
            state = self.update(model_from(self.state_model, prior), arguments)
        return object_from(self.schema, state)

    @final
    def read_object(self, current: Object) -> Object | None:
        state = self.read(model_from(self.state_model, current))
        return None if state is None else object_from(self.schema, state)

    @final
    def import_object(self, import_id: str) -> Object:
        return object_from(self.schema, self.import_state(import_id))


class DataSource(_Configured, Generic[Config, State], abc.ABC):
    """A data source. Subclasses set ``type_name``, ``schema``, ``config_model`` and
    ``state_model`` and implement ``read``."""

    config_model: type[Config]
    state_model: type[State]

    @abc.abstractmethod
    def read(self, config: Config) -> State: ...

    @final
    def read_object(self, config: Object) -> Object:
        """What the servicer calls: the configuration in, the state out."""
        return object_from(self.schema, self.read(model_from(self.config_model, config)))


AnyResource = Resource[Any, Any]
AnyDataSource = DataSource[Any, Any]


class Registry:
    """Every resource and data source the provider serves, by type name.

    Checks on construction that each schema is well formed and each model has exactly the
    attributes of its schema, so a model and its schema cannot drift apart unnoticed.
    """

    def __init__(
        self,
        *,
        provider_schema: Schema,
        provider_model: type[AttrsInstance],
        resources: Iterable[type[AnyResource]],
        data_sources: Iterable[type[AnyDataSource]],
    ) -> None:
        _check_schema("provider", provider_schema)
        _check_model("provider", provider_model, provider_schema.names)
        self.provider_schema = provider_schema
        self.resources: dict[str, type[AnyResource]] = {}
        self.data_sources: dict[str, type[AnyDataSource]] = {}
        for resource in resources:
            _check_schema(resource.type_name, resource.schema)
            _check_model(resource.type_name, resource.state_model, resource.schema.names)
            _check_model(
                resource.type_name, resource.arguments_model, resource.schema.configurable_names
            )
            _add(self.resources, resource.type_name, resource)
        for data_source in data_sources:
            _check_schema(data_source.type_name, data_source.schema)
            _check_model(data_source.type_name, data_source.state_model, data_source.schema.names)
            _check_model(
                data_source.type_name,
                data_source.config_model,
                data_source.schema.configurable_names,
            )
            _add(self.data_sources, data_source.type_name, data_source)


_Implementation = TypeVar("_Implementation")


def _add(
    table: dict[str, _Implementation], type_name: str, implementation: _Implementation
) -> None:
    if type_name in table:
        raise TypeError(f"{type_name} is registered twice")
    table[type_name] = implementation


class Provider:
    """What one plugin process serves: an instance of each registered resource and data
    source, configured together when Terraform configures the provider."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._resources = {name: kind() for name, kind in registry.resources.items()}
        self._data_sources = {name: kind() for name, kind in registry.data_sources.items()}

    def validate_config(self, config: Object) -> list[Diagnostic]:
        """Problems with the provider block."""
        return validate(self.registry.provider_schema, config)

    def configure(self, connection: Connection) -> None:
        for implementation in (*self._resources.values(), *self._data_sources.values()):
            implementation.configure(connection)

    def resource(self, type_name: str) -> AnyResource:
        return _lookup(self._resources, type_name)

    def data_source(self, type_name: str) -> AnyDataSource:
        return _lookup(self._data_sources, type_name)


def _lookup(table: Mapping[str, _Implementation], type_name: str) -> _Implementation:
    found = table.get(type_name)
    if found is None:
        raise ProviderError(
            f"Unsupported type {type_name!r}",
            f"lacework-tokens {__version__} serves only {', '.join(sorted(table))}.",
        )
    return found

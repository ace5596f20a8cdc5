"""Where token values flow: from a token's ``token`` attribute to outputs and resource
attributes, through locals, module variables, module outputs and ``terraform_data``.

Two kinds of evidence, merged per destination:

- *reference*: the configuration's expressions, as the plan lists their references (and the
  ``.tf`` files for ``locals``, which plan JSON leaves out). A reference to ``x.token`` carries
  the value for certain; a reference to the whole object (``x``, ``x[count.index]``, a ``for``
  over tokens) only possibly, and counts where Terraform marks the destination sensitive, or
  where the source shows ``nonsensitive(``;
- *value*: a planned value that contains a token value the plan already knows.

Each destination is then classified: a known plaintext sink (a rule), a known secret store
(kept secret), or something else (``LWT209``).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import attrs

from lacework_tokens.review.changes import Anchor, Draft
from lacework_tokens.review.model import Flow
from lacework_tokens.review.plan import (
    TOKEN_TYPE,
    ModuleConfig,
    Plan,
    ResourceChange,
    iter_expressions,
    marked,
    module_prefix,
    parse_traversal,
)
from lacework_tokens.review.rules import RULES
from lacework_tokens.review.source import SourceTree

__all__ = ["Carry", "Resolver", "classify", "flows"]

_IGNORED_ROOTS: Final = frozenset({"count", "path", "terraform", "self"})
_TAG_ATTRIBUTES: Final = frozenset({"tags", "tags_all", "labels", "default_tags"})
_USER_DATA_TYPES: Final = frozenset(
    {"aws_instance", "aws_launch_template", "aws_launch_configuration", "aws_spot_instance_request"}
)
_CONFIG_MAP_TYPES: Final = frozenset({"kubernetes_config_map", "kubernetes_config_map_v1"})
_CI_VARIABLE_TYPES: Final = frozenset(
    {
        "github_actions_variable",
        "github_actions_environment_variable",
        "github_actions_organization_variable",
    }
)
# (resource type, top attribute) pairs that keep a value secret.
SECRET_STORES: Final = frozenset(
    {
        ("local_sensitive_file", "content"),
        ("local_sensitive_file", "content_base64"),
        ("kubernetes_secret", "data"),
        ("kubernetes_secret", "binary_data"),
        ("kubernetes_secret_v1", "data"),
        ("kubernetes_secret_v1", "binary_data"),
        ("github_actions_secret", "plaintext_value"),
        ("github_actions_environment_secret", "plaintext_value"),
        ("github_actions_organization_secret", "plaintext_value"),
        ("github_dependabot_secret", "plaintext_value"),
        ("aws_secretsmanager_secret_version", "secret_string"),
        ("aws_secretsmanager_secret_version", "secret_binary"),
        ("google_secret_manager_secret_version", "secret_data"),
        ("azurerm_key_vault_secret", "value"),
        ("vault_generic_secret", "data_json"),
        ("vault_kv_secret_v2", "data_json"),
    }
)


@attrs.frozen
class Carry:
    """A token value reaching an expression: which token, through what, for certain or not."""

    token: str  # the token block's address, e.g. module.a.lacework_agent_access_token.x
    hops: tuple[str, ...]
    definite: bool

    def via(self, hop: str, definite: bool = True) -> Carry:
        return Carry(self.token, (*self.hops, hop), self.definite and definite)


def _group(references: Sequence[str]) -> dict[tuple[str, ...], set[str | None]]:
    """References by what they name, with the attributes read from it (None: the whole).

    Terraform lists ``a.b.token`` together with ``a.b``: a name read with a specific attribute
    anywhere is read for that attribute, not whole.
    """
    groups: dict[tuple[str, ...], set[str | None]] = {}
    for reference in references:
        names = [(name, key) for name, key in parse_traversal(reference)]
        if not names or not names[0][0]:
            continue
        root = names[0][0]
        if root in _IGNORED_ROOTS:
            continue
        rest = [name for name, _ in names[1:]]
        if root in ("var", "local"):
            if rest and rest[0]:
                groups.setdefault((root, rest[0]), set())
            continue
        if root == "each":
            if rest and rest[0] == "value":
                groups.setdefault(("each",), set()).add(
                    rest[1] if len(rest) > 1 and rest[1] else None
                )
            continue
        if root in ("module", "data"):
            if len(rest) < 2 if root == "data" else len(rest) < 1:
                continue
            head = (root, rest[0], rest[1]) if root == "data" else (root, rest[0])
            tail = [name for name in rest[len(head) - 1 :] if name]
        else:
            if not rest or not rest[0]:
                continue
            head = ("resource", root, rest[0])
            tail = [name for name in rest[1:] if name]
        groups.setdefault(head, set()).add(tail[0] if tail else None)
    for attributes in groups.values():
        if len(attributes) > 1:
            attributes.discard(None)
    return groups


class Resolver:
    """Follows references back to tokens, across modules, locals and ``terraform_data``."""

    def __init__(self, plan: Plan, sources: SourceTree | None) -> None:
        self.plan = plan
        self.sources = sources
        self.unfollowed_locals: set[str] = set()
        self._memo: dict[tuple[Any, ...], list[Carry]] = {}
        self._active: set[tuple[Any, ...]] = set()

    def resolve(
        self,
        module: ModuleConfig,
        references: Sequence[str],
        each: Sequence[str] = (),
    ) -> list[Carry]:
        carries: dict[tuple[str, bool], Carry] = {}
        for head, attributes in _group(references).items():
            for carry in self._resolve_group(module, head, frozenset(attributes), tuple(each)):
                key = (carry.token, carry.definite)
                if key not in carries or len(carry.hops) < len(carries[key].hops):
                    carries[key] = carry
        # A token known to arrive for certain makes the possible arrival of it redundant.
        return [
            carry
            for (token, definite), carry in sorted(carries.items())
            if definite or (token, True) not in carries
        ]

    def _resolve_group(
        self,
        module: ModuleConfig,
        head: tuple[str, ...],
        attributes: frozenset[str | None],
        each: tuple[str, ...],
    ) -> list[Carry]:
        key = (module.path, head, attributes, each if head == ("each",) else ())
        if key in self._memo:
            return self._memo[key]
        if key in self._active:  # a cycle (Terraform refuses them; a damaged plan may not)
            return []
        self._active.add(key)
        try:
            found = self._follow(module, head, attributes, each)
        finally:
            self._active.discard(key)
        self._memo[key] = found
        return found

    def _follow(
        self,
        module: ModuleConfig,
        head: tuple[str, ...],
        attributes: frozenset[str | None],
        each: tuple[str, ...],
    ) -> list[Carry]:
        prefix = module_prefix(module.path)
        whole = attributes <= {None}
        kind = head[0]
        if kind in ("resource", "data") and head[1] == TOKEN_TYPE:
            if "token" not in attributes and not whole:
                return []
            local = (
                f"{TOKEN_TYPE}.{head[2]}" if kind == "resource" else f"data.{TOKEN_TYPE}.{head[2]}"
            )
            return [Carry(prefix + local, (), definite="token" in attributes)]
        if kind == "resource" and head[1] == "terraform_data":
            if not (whole or attributes & {"input", "output"}):
                return []
            resource = module.resources.get(f"terraform_data.{head[2]}") or {}
            expression = (resource.get("expressions") or {}).get("input") or {}
            hop = f"{prefix}terraform_data.{head[2]}.output"
            return [
                carry.via(hop, definite=not whole)
                for carry in self.resolve(module, expression.get("references") or ())
            ]
        if kind == "var":
            if not module.path:
                return []  # a root variable's value comes from outside the configuration
            parent = self.plan.configuration.find(module.path[:-1])
            call = parent.calls.get(module.path[-1]) if parent else None
            expression = ((call or {}).get("expressions") or {}).get(head[1]) or {}
            if parent is None or not expression:
                return []
            call_each = ((call or {}).get("for_each_expression") or {}).get("references") or ()
            hop = f"{prefix}var.{head[1]}"
            return [
                carry.via(hop)
                for carry in self.resolve(parent, expression.get("references") or (), call_each)
            ]
        if kind == "local":
            source = self.sources.module(module.path) if self.sources else None
            attribute = source.local(head[1]) if source else None
            if attribute is None:
                self.unfollowed_locals.add(f"{prefix}local.{head[1]}")
                return []
            hop = f"{prefix}local.{head[1]}"
            # Locals are module-wide: each.value cannot appear in them.
            return [carry.via(hop) for carry in self.resolve(module, attribute.references)]
        if kind == "module":
            child = module.children.get(head[1])
            if child is None:
                return []
            names = [name for name in attributes if name] or list(child.outputs)
            found = []
            for name in names:
                output = child.outputs.get(name) or {}
                references = (output.get("expression") or {}).get("references") or ()
                hop = f"{module_prefix(child.path)}output.{name}"
                found += [
                    carry.via(hop, definite=not whole) for carry in self.resolve(child, references)
                ]
            return found
        if kind == "each":
            if attributes == {"token"}:
                # each.value.token over a collection of tokens: the element's token attribute.
                references = [_with_token(reference) for reference in each]
            elif whole:
                references = list(each)
            else:
                return []
            return [carry.via("each.value") for carry in self.resolve(module, references)]
        return []


def _with_token(reference: str) -> str:
    """``lacework_agent_access_token.x`` (a for_each collection) -> ``....x.token``."""
    steps = [name for name, _ in parse_traversal(reference) if name]
    if len(steps) == 2 and steps[0] == TOKEN_TYPE:
        return f"{reference}.token"
    if len(steps) == 3 and steps[:2] == ["data", TOKEN_TYPE]:
        return f"{reference}.token"
    return reference


# --- destinations ---------------------------------------------------------------------------


def classify(resource_type: str, attribute: Sequence[str], after: Any) -> tuple[str | None, str]:
    """(rule id or None when kept secret, words about the destination)."""
    top = attribute[0]
    if any(step in _TAG_ATTRIBUTES for step in attribute):
        return "LWT207", "tags and labels are plain metadata"
    if resource_type == "local_file" and top in ("content", "content_base64", "sensitive_content"):
        return "LWT202", "a local_file, readable on disk"
    if resource_type == "aws_ssm_parameter" and top in ("value", "insecure_value"):
        kind = after.get("type") if isinstance(after, Mapping) else None
        if top == "value" and kind == "SecureString":
            return None, "a SecureString parameter"
        # Only the three SSM types are ever named: a planned value is never echoed as is.
        shown = (
            f"a {kind} parameter"
            if kind in ("String", "StringList")
            else "a parameter whose type is not known to be SecureString"
        )
        return "LWT203", shown
    if resource_type in _USER_DATA_TYPES and top in ("user_data", "user_data_base64"):
        return "LWT204", "EC2 user data"
    if resource_type in _CONFIG_MAP_TYPES and top in ("data", "binary_data"):
        return "LWT205", "a Kubernetes ConfigMap"
    if resource_type in _CI_VARIABLE_TYPES and top == "value":
        return "LWT206", "a GitHub Actions variable"
    if resource_type == "terraform_data" and top in ("triggers_replace", "input"):
        return "LWT208", "terraform_data, kept in state as a change marker"
    if resource_type == "null_resource" and top == "triggers":
        return "LWT208", "null_resource triggers"
    if (resource_type, top) in SECRET_STORES:
        return None, "a secret store"
    return "LWT209", "an attribute not known to keep secrets"


@attrs.frozen
class _Destination:
    sink: str
    anchor: Anchor
    resource_type: str | None  # None for an output
    attribute: tuple[str, ...]
    after: Any
    sensitive_output: bool = False


def _source_code(sources: SourceTree | None, anchor: Anchor, attribute: Sequence[str]) -> str:
    module = sources.module(anchor.module) if sources else None
    found = module.block(anchor.kind, anchor.labels) if module else None
    if found is None:
        return ""
    for path, item in found[2].walk_attributes():
        if path == tuple(attribute):
            return item.code
    return ""


def _strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, path)


_BASE64: Final = re.compile(r"^[A-Za-z0-9+/]{16,}={0,2}$")


def _readable(text: str) -> str:
    """The text, and what it decodes to when it is base64 (user data usually is)."""
    if len(text) % 4 == 0 and _BASE64.match(text):
        try:
            return text + "\n" + base64.b64decode(text, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            pass
    return text


def _config_address(instance_address: str) -> str:
    """``module.a["x"].t.n[0]`` -> ``module.a.t.n``."""
    return ".".join(name for name, _ in parse_traversal(instance_address) if name)


class _Collector:
    def __init__(self, sources: SourceTree | None) -> None:
        self.sources = sources
        self.found: dict[tuple[str, str], tuple[_Destination, Carry, set[str]]] = {}

    def add(self, destination: _Destination, carry: Carry, evidence: str) -> None:
        key = (destination.sink, _config_address(carry.token))
        if key in self.found:
            self.found[key][2].add(evidence)
        else:
            self.found[key] = (destination, carry, {evidence})

    def results(self) -> tuple[list[Flow], list[Draft]]:
        flows: list[Flow] = []
        drafts: list[Draft] = []
        for destination, carry, evidence in self.found.values():
            source = f"{carry.token}.token"
            path = (source, *carry.hops, destination.sink)
            if destination.resource_type is None:
                rule_id = None if destination.sensitive_output else "LWT201"
                words = "an output"
            else:
                rule_id, words = classify(
                    destination.resource_type, destination.attribute, destination.after
                )
            flows.append(
                Flow(
                    token=carry.token,
                    sink=destination.sink,
                    path=path,
                    kept_secret=rule_id is None,
                    rule=rule_id,
                    evidence="+".join(sorted(evidence, key=("reference", "value").index)),
                )
            )
            if rule_id is not None:
                rule = RULES[rule_id]
                message = (
                    f"The value of {source} reaches {destination.sink} ({words})"
                    + (" and is printed in plan and apply output" if rule_id == "LWT201" else "")
                    + "."
                )
                drafts.append(
                    Draft(
                        rule.id, rule.severity, destination.sink, message, destination.anchor, path
                    )
                )
        return flows, drafts


def flows(
    plan: Plan, sources: SourceTree | None, token_values: Mapping[str, str]
) -> tuple[list[Flow], list[Draft], set[str]]:
    """Every flow of a token value to a destination, the findings on them, and the locals
    that could not be followed (no ``.tf`` files)."""
    resolver = Resolver(plan, sources)
    collector = _Collector(sources)
    for module in plan.configuration.walk():
        _resource_flows(plan, module, resolver, collector)
        _output_flows(plan, module, resolver, collector)
    _value_flows(plan, token_values, collector)
    found_flows, drafts = collector.results()
    found_flows.sort(key=lambda flow: (flow.sink, flow.token))
    return found_flows, drafts, resolver.unfollowed_locals


def _resource_flows(
    plan: Plan, module: ModuleConfig, resolver: Resolver, collector: _Collector
) -> None:
    for address, resource in module.resources.items():
        if resource.get("mode") != "managed":
            continue
        each = (resource.get("for_each_expression") or {}).get("references") or ()
        anchor = Anchor(module.path, "resource", (str(resource["type"]), str(resource["name"])))
        instances: list[ResourceChange] | None = None
        for attribute, references in iter_expressions(resource.get("expressions") or {}):
            carries = resolver.resolve(module, references, each)
            if not carries:
                continue
            if instances is None:
                instances = [
                    item for item in plan.instances_of(module.path, address) if not item.removed
                ]
            possible_confirmed = "nonsensitive" in _source_code(
                collector.sources, anchor, attribute
            )
            for instance in instances:
                destination = _Destination(
                    f"{instance.address}.{'.'.join(attribute)}",
                    anchor,
                    instance.type,
                    attribute,
                    instance.after,
                )
                sensitive = marked(instance.after_sensitive, attribute)
                for carry in carries:
                    if carry.definite or sensitive or possible_confirmed:
                        collector.add(destination, carry, "reference")


def _output_flows(
    plan: Plan, module: ModuleConfig, resolver: Resolver, collector: _Collector
) -> None:
    for name, output in module.outputs.items():
        references = (output.get("expression") or {}).get("references") or ()
        carries = resolver.resolve(module, references)
        if not carries:
            continue
        sensitive = output.get("sensitive") is True
        if sensitive and module.path:
            continue  # a sensitive module output only passes the value on; its readers count
        anchor = Anchor(module.path, "output", (name,))
        stripped = "nonsensitive" in _source_code(collector.sources, anchor, ("value",))
        destination = _Destination(
            f"{module_prefix(module.path)}output.{name}", anchor, None, ("value",), None, sensitive
        )
        for carry in carries:
            if sensitive or carry.definite or stripped:
                collector.add(destination, carry, "reference")


def _value_flows(plan: Plan, token_values: Mapping[str, str], collector: _Collector) -> None:
    if not token_values:
        return
    pattern = re.compile(
        "|".join(re.escape(value) for value in sorted(token_values, key=len, reverse=True))
    )
    root = plan.configuration
    for instance in plan.resource_changes:
        if instance.mode != "managed" or instance.removed:
            continue
        module = root.find(instance.module)
        resource = module.resources.get(instance.config_address) if module else None
        if resource is None:
            continue
        anchor = Anchor(instance.module, "resource", (instance.type, instance.name))
        # Only what the configuration sets: computed copies (tags_all, terraform_data's
        # output) repeat a value the configuration put elsewhere.
        configured = {path[0] for path, _ in iter_expressions(resource.get("expressions") or {})}
        for path, text in _strings(instance.after):
            if not path or path[0] not in configured:
                continue
            for match in set(pattern.findall(_readable(text))):
                attribute = path[:1] + tuple(step for step in path[1:] if step in _TAG_ATTRIBUTES)
                carry = Carry(_config_address(token_values[match]), (), True)
                destination = _Destination(
                    f"{instance.address}.{'.'.join(attribute)}",
                    anchor,
                    instance.type,
                    attribute,
                    instance.after,
                )
                collector.add(destination, carry, "value")
    for name, change in plan.output_changes.items():
        after = change.get("after")
        if change.get("after_unknown") is True or "delete" in (change.get("actions") or ()):
            continue
        for _, text in _strings(after):
            for match in set(pattern.findall(text)):
                carry = Carry(_config_address(token_values[match]), (), True)
                destination = _Destination(
                    f"output.{name}",
                    Anchor((), "output", (name,)),
                    None,
                    ("value",),
                    None,
                    change.get("after_sensitive") is True,
                )
                collector.add(destination, carry, "value")

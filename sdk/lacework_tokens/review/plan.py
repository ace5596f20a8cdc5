"""Reading a Terraform plan: the JSON of ``terraform show -json``, from any Terraform 1.x.

Terraform 1.x writes plan JSON with ``format_version`` 0.2 (1.0), 1.0 to 1.2 (1.1 and later);
a minor version only adds fields, so every 0.x and 1.x document is read and fields a version
lacks (``importing``, ``previous_address``, ``output_changes``) are simply absent.

The plan carries sensitive values in clear (a token's ``token``, anything derived from it):
nothing here ever formats a value into text. ``Plan.token_values()`` collects them so that
output can be checked and scrubbed.

A binary plan file (``terraform plan -out``) is a zip archive: ``load_plan`` runs
``terraform show -json`` on it, and keeps the configuration snapshot the archive holds
(``tfconfig/``) for reading acknowledgements in code.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

import attrs

__all__ = [
    "TOKEN_TYPE",
    "LoadedPlan",
    "ModuleConfig",
    "Plan",
    "PlanError",
    "ResourceChange",
    "load_plan",
    "module_ancestors",
    "module_path",
    "parse_traversal",
]

TOKEN_TYPE: Final = "lacework_agent_access_token"
SUPPORTED_MAJOR_VERSIONS: Final = frozenset({0, 1})
ZIP_MAGIC: Final = b"PK\x03\x04"
SHOW_TIMEOUT_SECONDS: Final = 600


class PlanError(Exception):
    """The input is not a plan this review can read; the message is one line for the user."""


# --- addresses and references ---------------------------------------------------------------

# One step of a traversal: ``.name`` (or a leading ``name``) or ``[key]``.
_STEP: Final = re.compile(r'\.?([A-Za-z_][\w-]*)|\[("(?:[^"\\]|\\.)*"|[^\]]*)\]')

Step = tuple[str, str | None]  # (name, None) or ("", key)


def parse_traversal(text: str) -> list[Step]:
    """``module.a["x"].aws_x.y[0].tags`` as steps: names and index keys, in order.

    Anything unparsable ends the traversal: references only need their leading steps.
    """
    steps: list[Step] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None or match.end() == position:
            break
        if match.group(1) is not None:
            steps.append((match.group(1), None))
        else:
            raw = match.group(2)
            steps.append(("", json.loads(raw) if raw.startswith('"') else raw))
        position = match.end()
    return steps


def module_path(module_address: str | None) -> tuple[str, ...]:
    """The configuration path of a module instance: ``module.a["x"].module.b`` -> (a, b)."""
    if not module_address:
        return ()
    names: list[str] = []
    steps = parse_traversal(module_address)
    for index, (name, _) in enumerate(steps):
        if name == "module" and index + 1 < len(steps) and steps[index + 1][0]:
            names.append(steps[index + 1][0])
    return tuple(names)


_MODULE_STEP: Final = re.compile(r'module\.[A-Za-z_][\w-]*(?:\[(?:"(?:[^"\\]|\\.)*"|[^\]]*)\])?')


def module_ancestors(module_address: str) -> list[str]:
    """``module.a["x"].module.b`` -> ``["", 'module.a["x"]', 'module.a["x"].module.b']``."""
    steps = _MODULE_STEP.findall(module_address or "")
    return ["", *(".".join(steps[: index + 1]) for index in range(len(steps)))]


def module_prefix(path: Sequence[str]) -> str:
    """``("a", "b")`` -> ``"module.a.module.b."``; the root is ``""``."""
    return "".join(f"module.{name}." for name in path)


# --- configuration --------------------------------------------------------------------------


@attrs.frozen
class ModuleConfig:
    """One module of the configuration (``configuration.root_module`` and its calls)."""

    path: tuple[str, ...]
    resources: Mapping[str, Mapping[str, Any]]
    outputs: Mapping[str, Mapping[str, Any]]
    calls: Mapping[str, Mapping[str, Any]]
    children: Mapping[str, ModuleConfig]

    @classmethod
    def build(cls, raw: Mapping[str, Any], path: tuple[str, ...] = ()) -> ModuleConfig:
        calls = dict(raw.get("module_calls") or {})
        return cls(
            path=path,
            resources={item["address"]: item for item in raw.get("resources") or ()},
            outputs=dict(raw.get("outputs") or {}),
            calls=calls,
            children={
                name: cls.build(call.get("module") or {}, (*path, name))
                for name, call in calls.items()
            },
        )

    def walk(self) -> Iterator[ModuleConfig]:
        yield self
        for child in self.children.values():
            yield from child.walk()

    def find(self, path: Sequence[str]) -> ModuleConfig | None:
        current: ModuleConfig | None = self
        for name in path:
            current = current.children.get(name) if current else None
        return current


def iter_expressions(
    expressions: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], list[str]]]:
    """Every attribute expression as (attribute path, references); nested blocks flattened."""
    for key, value in expressions.items():
        if isinstance(value, Mapping):
            if "references" in value or "constant_value" in value:
                yield (*prefix, key), list(value.get("references") or ())
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    yield from iter_expressions(item, (*prefix, key))


# --- resource changes -----------------------------------------------------------------------


@attrs.frozen
class ResourceChange:
    """One entry of ``resource_changes``; values stay as Terraform wrote them."""

    address: str
    module_address: str
    mode: str
    type: str
    name: str
    actions: tuple[str, ...]
    before: Any
    after: Any
    after_unknown: Any
    before_sensitive: Any
    after_sensitive: Any
    importing: Mapping[str, Any] | None
    action_reason: str | None
    previous_address: str | None

    @classmethod
    def build(cls, raw: Mapping[str, Any]) -> ResourceChange:
        change = raw.get("change") or {}
        return cls(
            address=str(raw["address"]),
            module_address=str(raw.get("module_address") or ""),
            mode=str(raw.get("mode") or "managed"),
            type=str(raw["type"]),
            name=str(raw["name"]),
            actions=tuple(change.get("actions") or ()),
            before=change.get("before"),
            after=change.get("after"),
            after_unknown=change.get("after_unknown"),
            before_sensitive=change.get("before_sensitive"),
            after_sensitive=change.get("after_sensitive"),
            importing=change.get("importing"),
            action_reason=raw.get("action_reason"),
            previous_address=raw.get("previous_address"),
        )

    @property
    def module(self) -> tuple[str, ...]:
        return module_path(self.module_address)

    @property
    def config_address(self) -> str:
        """The resource block's address inside its module (``data.x.y`` or ``x.y``)."""
        local = f"{self.type}.{self.name}"
        return f"data.{local}" if self.mode == "data" else local

    @property
    def removed(self) -> bool:
        """Nothing remains of it after the plan (a destroy or a forget, not a replace)."""
        return "create" not in self.actions and (
            "delete" in self.actions or "forget" in self.actions
        )


def value_at(value: Any, path: Sequence[str]) -> list[Any]:
    """The values at an attribute path; nested block lists are flattened."""
    found = [value]
    for step in path:
        following: list[Any] = []
        for item in found:
            items = item if isinstance(item, list) else [item]
            following.extend(
                entry[step] for entry in items if isinstance(entry, Mapping) and step in entry
            )
        found = following
    return [item for entry in found for item in (entry if isinstance(entry, list) else [entry])]


def marked(marks: Any, path: Sequence[str]) -> bool:
    """Whether Terraform marks anything at or below ``path`` (``after_sensitive`` or
    ``after_unknown``), for any element of a nested block list."""
    if marks is True:
        return True
    if len(path) == 1:  # the common case, without building lists
        return isinstance(marks, Mapping) and _any_true(marks.get(path[0]))
    return any(_any_true(item) for item in value_at(marks, path))


def _any_true(marks: Any) -> bool:
    if marks is True:
        return True
    if isinstance(marks, Mapping):
        return any(_any_true(item) for item in marks.values())
    if isinstance(marks, list):
        return any(_any_true(item) for item in marks)
    return False


# --- the plan -------------------------------------------------------------------------------


class Plan:
    """A validated plan document with its changes and configuration parsed once."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        _validate(document)
        self.document = document
        self.format_version = str(document["format_version"])
        self.terraform_version = str(document.get("terraform_version") or "")
        self.errored = bool(document.get("errored"))
        self.resource_changes = tuple(
            ResourceChange.build(raw) for raw in document.get("resource_changes") or ()
        )
        self.output_changes: Mapping[str, Mapping[str, Any]] = dict(
            document.get("output_changes") or {}
        )
        configuration = document.get("configuration") or {}
        self.configuration = ModuleConfig.build(configuration.get("root_module") or {})

    def token_changes(self) -> tuple[ResourceChange, ...]:
        return tuple(
            change
            for change in self.resource_changes
            if change.type == TOKEN_TYPE and change.mode == "managed"
        )

    def instances_of(self, path: Sequence[str], config_address: str) -> list[ResourceChange]:
        """The changes of every instance of one resource block."""
        return [
            change
            for change in self.resource_changes
            if change.config_address == config_address and change.module == tuple(path)
        ]

    def token_values(self) -> dict[str, str]:
        """Every token value the plan holds, to the address of the token it belongs to.

        From resource changes (before and after), the prior state and planned values (data
        sources too) and import ids of tokens (an import id is the token value).
        """
        values: dict[str, str] = {}

        def add(value: Any, address: str) -> None:
            if isinstance(value, str) and value:
                values.setdefault(value, address)

        for change in self.resource_changes:
            if change.type != TOKEN_TYPE:
                continue
            for state in (change.before, change.after):
                if isinstance(state, Mapping):
                    add(state.get("token"), change.address)
            if change.importing:
                add(change.importing.get("id"), change.address)
        for section in ("prior_state", "planned_values"):
            raw = self.document.get(section) or {}
            root = raw.get("values", {}).get("root_module") if section == "prior_state" else None
            for resource in _state_resources(root or raw.get("root_module") or {}):
                if resource.get("type") == TOKEN_TYPE:
                    add((resource.get("values") or {}).get("token"), str(resource.get("address")))
        return values


def _state_resources(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from module.get("resources") or ()
    for child in module.get("child_modules") or ():
        yield from _state_resources(child)


def _validate(document: Any) -> None:
    if not isinstance(document, Mapping) or "format_version" not in document:
        raise PlanError("not a Terraform plan: no format_version (expected `terraform show -json`)")
    version = str(document["format_version"])
    major = version.split(".", 1)[0]
    if not major.isdigit() or int(major) not in SUPPORTED_MAJOR_VERSIONS:
        raise PlanError(
            f"plan format_version {version} is not supported: this review reads 0.x and 1.x, "
            "what Terraform 1.x writes"
        )
    if "planned_values" not in document and "resource_changes" not in document:
        what = "a Terraform state" if "values" in document else "not a Terraform plan"
        raise PlanError(f"this is {what}: no planned_values (expected `terraform show -json PLAN`)")
    for key in ("resource_changes",):
        if not isinstance(document.get(key) or [], list):
            raise PlanError(f"not a Terraform plan: {key} is not a list")


# --- loading --------------------------------------------------------------------------------


@attrs.frozen
class LoadedPlan:
    """A plan document and, for a binary plan file, its configuration snapshot."""

    document: Mapping[str, Any]
    snapshot: zipfile.ZipFile | None = attrs.field(default=None, eq=False)


def load_plan(
    argument: str,
    *,
    stdin: IO[bytes] | None = None,
    terraform: str | None = None,
    chdir: Path | None = None,
) -> LoadedPlan:
    """Read ``argument`` (a path, or ``-`` for stdin): plan JSON or a binary plan file.

    A binary plan is converted with ``terraform show -json`` (``terraform`` on PATH unless
    given), run in ``chdir`` (default: the current directory), which must be the initialised
    working directory the plan was made in.
    """
    name = "stdin" if argument == "-" else argument
    try:
        data = (stdin or _stdin_bytes()).read() if argument == "-" else Path(argument).read_bytes()
    except OSError as error:
        raise PlanError(f"cannot read {name}: {error.strerror or error}") from None
    if data.startswith(ZIP_MAGIC):
        return _binary_plan(
            data, name, None if argument == "-" else Path(argument), terraform, chdir
        )
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PlanError(f"{name} is not a Terraform plan: neither JSON nor a plan file") from None
    _validate(document)
    return LoadedPlan(document)


def _stdin_bytes() -> IO[bytes]:
    import sys

    return sys.stdin.buffer


def _binary_plan(
    data: bytes, name: str, path: Path | None, terraform: str | None, chdir: Path | None
) -> LoadedPlan:
    try:
        snapshot = zipfile.ZipFile(io.BytesIO(data))
        if "tfplan" not in snapshot.namelist():
            raise zipfile.BadZipFile
    except zipfile.BadZipFile:
        raise PlanError(f"{name} is not a Terraform plan: a zip archive without tfplan") from None
    program = terraform or shutil.which("terraform")
    if program is None:
        raise PlanError(
            f"{name} is a binary plan file and reading it needs terraform, which is not on PATH; "
            f"pass the JSON of `terraform show -json {name}` instead"
        )
    with tempfile.TemporaryDirectory(prefix="lacework-tokens-review-") as scratch:
        if path is None:
            path = Path(scratch) / "stdin.tfplan"
            path.write_bytes(data)
        command = [program]
        if chdir is not None:
            command.append(f"-chdir={chdir}")
        command += ["show", "-json", "-no-color", str(path.resolve())]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                timeout=SHOW_TIMEOUT_SECONDS,
                env={**os.environ, "TF_IN_AUTOMATION": "1"},
                check=False,
            )
        except OSError as error:
            raise PlanError(f"cannot run {program}: {error.strerror or error}") from None
    if result.returncode != 0:
        raise PlanError(f"terraform show -json {name} failed: {_terraform_error(result.stderr)}")
    try:
        document = json.loads(result.stdout)
    except ValueError:
        raise PlanError(f"terraform show -json {name} printed something that is not JSON") from None
    _validate(document)
    return LoadedPlan(document, snapshot)


def _terraform_error(stderr: bytes) -> str:
    """Terraform's first diagnostic as one line: "Error: summary: detail"."""
    lines = [
        line.strip().lstrip("│╷╵").strip()
        for line in stderr.decode("utf-8", errors="replace").splitlines()
    ]
    lines = [line for line in lines if line]
    for index, line in enumerate(lines):
        if line.startswith("Error:"):
            detail = lines[index + 1] if index + 1 < len(lines) else ""
            return f"{line} {detail}".strip()[:400]
    return (lines[0] if lines else "no message")[:400]

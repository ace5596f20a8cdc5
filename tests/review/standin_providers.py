"""Offline stand-ins for providers the review knows sinks of: hashicorp/local, hashicorp/null,
hashicorp/kubernetes and integrations/github.

Each serves, over the real plugin protocol 6 (the ``tf`` library), just the resources and
attributes the review's rules look at, with the real providers' names, types and sensitive
marks, so ``terraform plan`` produces the plan JSON those providers would. Resources keep their
state in Terraform's state only; ``id`` is computed at apply.

Run as ``python standin_providers.py local|null|kubernetes|github`` (what the launcher in the
test mirror does); ``install(mirror)`` writes the launchers.
"""

from __future__ import annotations

import os
import shlex
import sys
import uuid
from pathlib import Path
from typing import Any, Final

VERSION: Final = "9.9.9"
ADDRESSES: Final = {
    "local": "registry.terraform.io/hashicorp/local",
    "null": "registry.terraform.io/hashicorp/null",
    "kubernetes": "registry.terraform.io/hashicorp/kubernetes",
    "github": "registry.terraform.io/integrations/github",
}


def install(mirror: Path, platform: str) -> list[str]:
    """Launchers for every stand-in in a filesystem mirror; returns the provider addresses."""
    script = Path(__file__).resolve()
    for name, address in ADDRESSES.items():
        kind = address.rsplit("/", 1)[-1]
        directory = mirror / address / VERSION / platform
        directory.mkdir(parents=True, exist_ok=True)
        launcher = directory / f"terraform-provider-{kind}_v{VERSION}"
        launcher.write_text(
            "#!/bin/sh\n"
            f'exec {shlex.quote(sys.executable)} -P {shlex.quote(str(script))} {name} "$@"\n',
            encoding="utf-8",
        )
        os.chmod(launcher, 0o755)  # noqa: S103 - Terraform executes it
    return list(ADDRESSES.values())


def _provider(name: str) -> Any:
    from tf import blocks, provider, schema, types
    from tf.iface import CreateContext, DeleteContext, ReadContext, UpdateContext

    def attribute(attr: str, kind: Any = None, **flags: Any) -> schema.Attribute:
        return schema.Attribute(attr, kind or types.String(), **flags)

    def computed_id() -> schema.Attribute:
        return attribute("id", computed=True)

    def metadata() -> blocks.SetNestedBlock:
        return blocks.SetNestedBlock(
            "metadata",
            schema.Block(
                attributes=[
                    attribute("name", required=True),
                    attribute("namespace", optional=True),
                    attribute("labels", types.Map(types.String()), optional=True),
                ]
            ),
        )

    def resource(
        resource_name: str, attributes: list[schema.Attribute], nested: list[Any] | None = None
    ) -> type:
        built = schema.Schema(
            version=0, attributes=[computed_id(), *attributes], block_types=nested or []
        )

        class StandIn(provider.Resource):  # type: ignore[misc]
            def __init__(self, _: Any) -> None:
                pass

            @classmethod
            def get_name(cls) -> str:
                return resource_name

            @classmethod
            def get_schema(cls) -> Any:
                return built

            def create(self, ctx: CreateContext, planned: dict[str, Any]) -> dict[str, Any]:
                return {**planned, "id": uuid.uuid4().hex}

            def read(self, ctx: ReadContext, current: dict[str, Any]) -> dict[str, Any]:
                return current

            def update(
                self, ctx: UpdateContext, current: dict[str, Any], planned: dict[str, Any]
            ) -> dict[str, Any]:
                return {**planned, "id": current["id"]}

            def delete(self, ctx: DeleteContext, current: dict[str, Any]) -> None:
                return None

        return StandIn

    string_map = types.Map(types.String())
    resources = {
        "local": [
            resource(
                "file",
                [
                    attribute("filename", required=True),
                    attribute("content", optional=True),
                    attribute("file_permission", optional=True),
                ],
            ),
            resource(
                "sensitive_file",
                [
                    attribute("filename", required=True),
                    attribute("content", optional=True, sensitive=True),
                    attribute("file_permission", optional=True),
                ],
            ),
        ],
        "null": [resource("resource", [attribute("triggers", string_map, optional=True)])],
        "kubernetes": [
            resource(
                "config_map",
                [
                    attribute("data", string_map, optional=True),
                    attribute("binary_data", string_map, optional=True),
                ],
                [metadata()],
            ),
            resource(
                "secret",
                [
                    attribute("data", string_map, optional=True, sensitive=True),
                    attribute("type", optional=True),
                ],
                [metadata()],
            ),
        ],
        "github": [
            resource(
                "actions_variable",
                [
                    attribute("repository", required=True),
                    attribute("variable_name", required=True),
                    attribute("value", required=True),
                ],
            ),
            resource(
                "actions_secret",
                [
                    attribute("repository", required=True),
                    attribute("secret_name", required=True),
                    attribute("plaintext_value", optional=True, sensitive=True),
                ],
            ),
        ],
    }[name]
    address = ADDRESSES[name]

    class StandInProvider(provider.Provider):  # type: ignore[misc]
        def full_name(self) -> str:
            return address

        def get_model_prefix(self) -> str:
            return f"{name}_"

        def get_provider_schema(self, diags: Any) -> Any:
            return schema.Schema(attributes=[])

        def validate_config(self, diags: Any, config: Any) -> None:
            return None

        def configure_provider(self, diags: Any, config: Any) -> None:
            return None

        def get_data_sources(self) -> list[type]:
            return []

        def get_resources(self) -> list[type]:
            return resources

    return StandInProvider()


if __name__ == "__main__":
    from tf.runner import run_provider

    run_provider(_provider(sys.argv[1]), sys.argv[2:])

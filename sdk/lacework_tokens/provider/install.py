"""Place the plugin in a Terraform filesystem mirror so ``terraform init`` works offline.

The mirror uses Terraform's *unpacked* layout::

    <mirror>/registry.terraform.io/lacework/lacework/<version>/<os>_<arch>/terraform-provider-lacework_v<version>

The plugin file is a small launcher that runs this installation's Python on
``lacework_tokens.provider.server``; Terraform hashes the directory into ``.terraform.lock.hcl``
at ``init``, so re-installing from another Python changes the hash (run ``terraform init
-upgrade`` then).
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lacework_tokens import __version__
from lacework_tokens.provider import ADDRESS, HOSTNAME, NAMESPACE, TYPE

__all__ = ["Installation", "cli_config", "default_mirror", "install", "terraform_platform"]

_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class Installation:
    mirror: Path
    plugin: Path
    version: str


def default_mirror() -> Path:
    """The implied local mirror Terraform searches without any CLI configuration."""
    return Path.home() / ".terraform.d" / "plugins"


def terraform_platform() -> str:
    """Terraform's name for this machine, e.g. ``linux_amd64``."""
    machine = platform.machine().lower()
    architecture = _ARCHITECTURES.get(machine)
    if architecture is None:
        raise RuntimeError(f"unsupported machine architecture {machine!r}")
    system = {"linux": "linux", "darwin": "darwin"}.get(sys.platform)
    if system is None:
        raise RuntimeError(f"unsupported operating system {sys.platform!r}")
    return f"{system}_{architecture}"


def launcher(python: str = sys.executable) -> str:
    # -P keeps Terraform's working directory off sys.path (a local "tf/" must not shadow imports).
    command = "from lacework_tokens.provider.server import main; main()"
    return (
        "#!/bin/sh\n"
        f"# {ADDRESS} {__version__}, served by lacework-tokens.\n"
        f'exec {shlex.quote(python)} -P -c {shlex.quote(command)} "$@"\n'
    )


def install(mirror: Path | None = None, *, python: str | None = None) -> Installation:
    mirror = (mirror or default_mirror()).expanduser().resolve()
    directory = mirror / HOSTNAME / NAMESPACE / TYPE / __version__ / terraform_platform()
    directory.mkdir(parents=True, exist_ok=True)
    plugin = directory / f"terraform-provider-{TYPE}_v{__version__}"
    content = launcher(os.path.abspath(python or sys.executable))
    # Write next to the target and rename: a concurrent terraform never runs half a file.
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".plugin-")
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(temporary, 0o755)  # noqa: S103 - Terraform must execute the plugin
    os.replace(temporary, plugin)
    return Installation(mirror=mirror, plugin=plugin, version=__version__)


def cli_config(mirror: Path) -> str:
    """A Terraform CLI configuration taking this provider from ``mirror``, others from the
    registry."""
    path = str(mirror).replace("\\", "\\\\").replace('"', '\\"')
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{path}"\n'
        f'    include = ["{ADDRESS}"]\n'
        "  }\n"
        "  direct {\n"
        f'    exclude = ["{ADDRESS}"]\n'
        "  }\n"
        "}\n"
    )

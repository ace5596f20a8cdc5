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
    interpreter = os.path.abspath(python or sys.executable)
    content = launcher(interpreter)
    # Write next to the target and rename: a concurrent terraform never runs half a file.
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".plugin-")
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(temporary, 0o755)  # noqa: S103 - Terraform must execute the plugin
    os.replace(temporary, plugin)
    if interpreter == os.path.abspath(sys.executable):  # another Python compiles on its own
        _byte_compile_package()
    return Installation(mirror=mirror, plugin=plugin, version=__version__)


def _byte_compile_package() -> None:
    """Write the package's bytecode now, for the interpreter the plugin runs on.

    Terraform starts a fresh plugin process for every command. Where bytecode is never
    written (PYTHONDONTWRITEBYTECODE, a read-only or editable install), each start would
    compile the SDK and the plugin from source again: about a tenth of its start-up.
    Best effort: a place that cannot be written only keeps the plugin slower.
    """
    import compileall

    import lacework_tokens

    compileall.compile_dir(Path(lacework_tokens.__file__).parent, quiet=2)


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

"""Place the plugin in a Terraform filesystem mirror so ``terraform init`` works offline.

The mirror uses Terraform's *unpacked* layout, once per served version::

    <mirror>/registry.terraform.io/lacework/lacework/<version>/<os>_<arch>/terraform-provider-lacework_v<version>
    <mirror>/.lacework-tokens-python        the Python environment that runs the plugin

Versions: configurations pin the official provider (``~> 1.0``, ``~> 2.0``, ``>= 1.18``), so the
plugin is served as the latest release of each official major version (``OFFICIAL_VERSIONS``),
plus any version asked for (``--provider-version 2.0.4`` for ``= 2.0.4``). Terraform picks the
newest one the configuration allows.

The plugin file is a small launcher, the same bytes whichever environment or path installed it,
so the hash Terraform records in ``.terraform.lock.hcl`` is the same on every machine. It finds
the environment in the record next to the mirror (Terraform links the installed package back to
the mirror, also through a plugin cache). When that environment is gone or lacks the plugin, the
launcher runs ``unavailable`` on any Python it finds, and Terraform shows one error that names
the fix.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import sys
import tempfile
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from lacework_tokens.provider import ADDRESS, HOSTNAME, NAMESPACE, OFFICIAL_VERSIONS, TYPE

__all__ = [
    "OFFICIAL_VERSIONS",
    "RECORD_NAME",
    "Installation",
    "cli_config",
    "default_mirror",
    "install",
    "launcher",
    "terraform_platform",
    "version_problem",
]

# In the mirror's root, where Terraform looks for host names and ignores a dot file.
RECORD_NAME: Final = ".lacework-tokens-python"

_ARCHITECTURES: Final = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
# Terraform provider versions: semantic versions, a pre-release allowed, no build metadata.
_VERSION: Final = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?")
_UNAVAILABLE_END: Final = "LACEWORK_TOKENS_UNAVAILABLE"
# The program ``unavailable`` sits at the end of the launcher, in a here-document the shell
# never reaches: the launcher has exited or exec'd before it.
_UNAVAILABLE_OPEN: Final = f': <<"{_UNAVAILABLE_END}"\n'
_UNAVAILABLE_CLOSE: Final = f"\n{_UNAVAILABLE_END}\n"


@dataclass(frozen=True)
class Installation:
    mirror: Path
    # Newest first, one plugin file per version.
    versions: tuple[str, ...]
    plugins: tuple[Path, ...]
    python: str

    @property
    def version(self) -> str:
        """The newest version served: what a configuration without a constraint gets."""
        return self.versions[0]

    @property
    def plugin(self) -> Path:
        return self.plugins[0]


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


def version_problem(version: str) -> str | None:
    if _VERSION.fullmatch(version) is None:
        return f"{version!r} is not a provider version (MAJOR.MINOR.PATCH, e.g. 2.0.4)"
    return None


def _version_key(version: str) -> tuple[int, int, int, int, str]:
    match = _VERSION.fullmatch(version)
    assert match is not None
    major, minor, patch, prerelease = match.groups()
    # A release sorts after its pre-releases.
    return (int(major), int(minor), int(patch), 0 if prerelease else 1, prerelease or "")


def _python(template: str, **messages: str) -> str:
    """Python source for ``python -c``: ``template`` with each ``{name}`` replaced by the
    source of a string (an f-string when it reads ``sys.argv`` or ``error``). It holds no single
    quote, so the shell quotes it as it reads."""
    source = textwrap.dedent(template)
    for name, text in messages.items():
        literal = json.dumps(text)
        source = source.replace("{" + name + "}", "f" + literal if "{" in text else literal)
    if "'" in source:
        raise ValueError(f"a single quote in {source!r}")
    return source


# Loads ``unavailable`` from the launcher itself (its path is sys.argv[1]).
_LOAD_UNAVAILABLE: Final = (
    'text = open(sys.argv[1], encoding="utf-8").read()\n'
    f"exec(text.split({json.dumps(_UNAVAILABLE_OPEN)}, 1)[1]"
    f".split({json.dumps(_UNAVAILABLE_CLOSE)}, 1)[0])\n"
)
# An environment without lacework-tokens is reported here; one without its terraform extra by
# the plugin itself (server.main). -P keeps Terraform's working directory off sys.path (a local
# "tf/" must not shadow imports).
_START: Final = _python(
    """\
    import sys
    try:
        from lacework_tokens.provider.server import main
    except ImportError as error:
    {load}    unavailable({summary}, {detail})
    else:
        main()
    """,
    summary="The Python environment behind the lacework provider lacks the plugin",
    detail="{sys.executable} cannot import lacework-tokens ({error}). Install it there "
    '({sys.executable} -m pip install "lacework-tokens[terraform]"), or run '
    "`lacework-tokens terraform install --mirror {sys.argv[2]}` from the environment that has "
    "it",
).replace("{load}", textwrap.indent(_LOAD_UNAVAILABLE, "    "))
_GONE: Final = _python(
    """\
    import sys
    {load}unavailable({summary}, {detail})
    """,
    summary="The Python environment behind the lacework provider is gone",
    detail="{sys.argv[2]} no longer exists (a make clean, a moved or deleted clone, a removed "
    "virtualenv). Reinstall lacework-tokens with its terraform extra (in a checkout: make dev) "
    "and run `lacework-tokens terraform install --mirror {sys.argv[3]}` again. The plugin file "
    "stays the same, so lock files stay valid",
).replace("{load}", _LOAD_UNAVAILABLE)
_NONE_RECORDED: Final = _python(
    """\
    import sys
    {load}unavailable({summary}, {detail})
    """,
    summary="The lacework provider plugin has no Python environment",
    detail="{sys.argv[2]} names none. Run `lacework-tokens terraform install --mirror "
    "{sys.argv[3]}` from the environment that has lacework-tokens[terraform]",
).replace("{load}", _LOAD_UNAVAILABLE)


def launcher() -> str:
    """The plugin file: a shell script, identical in every mirror and on every machine.

    It runs the plugin on the Python recorded in the mirror. Failing that, it runs the program
    ``unavailable`` (kept at its end) on any Python it finds, which answers Terraform with the
    error and its fix.
    """
    from lacework_tokens.provider import unavailable

    program = Path(unavailable.__file__).read_text(encoding="utf-8")
    if _UNAVAILABLE_CLOSE in program:
        raise RuntimeError(f"{unavailable.__file__} holds the line {_UNAVAILABLE_END}")
    return f"""#!/bin/sh
# {ADDRESS}, served by lacework-tokens.
# The same file wherever it is installed: it runs the Python environment that
# `lacework-tokens terraform install` recorded in {RECORD_NAME} at the root of the mirror
# holding this file. Without one, it has Terraform show what to run.
# Where this file really is (Terraform runs it through links): no subshell, no dirname.
case $0 in */*) dir=${{0%/*}} ;; *) dir=. ;; esac
back=$PWD
cd -P -- "$dir" || exit 1
here=$PWD
cd -- "$back" || exit 1
mirror=${{here%/*/*/*/*/*}}
record="$mirror/{RECORD_NAME}"
python=
if [ -r "$record" ]; then IFS= read -r python < "$record"; fi
if [ -n "$python" ] && [ -x "$python" ]; then
  exec "$python" -P -c {shlex.quote(_START)} "$0" "$mirror"
fi
for fallback in python3 /usr/bin/python3 python; do
  if command -v "$fallback" >/dev/null 2>&1; then
    if [ -n "$python" ]; then
      exec "$fallback" -I -c {shlex.quote(_GONE)} "$0" "$python" "$mirror"
    fi
    exec "$fallback" -I -c {shlex.quote(_NONE_RECORDED)} "$0" "$record" "$mirror"
  fi
done
echo "lacework provider: no Python to run the plugin (${{python:-none recorded in $record}})." >&2
echo "Run: lacework-tokens terraform install --mirror $mirror" >&2
exit 1
{_UNAVAILABLE_OPEN}{program}{_UNAVAILABLE_CLOSE}"""


def install(
    mirror: Path | None = None,
    *,
    python: str | None = None,
    versions: Iterable[str] = (),
) -> Installation:
    """Serve the plugin from ``mirror`` as ``OFFICIAL_VERSIONS`` and ``versions``, run by
    ``python`` (default: this interpreter)."""
    wanted = {*OFFICIAL_VERSIONS, *versions}
    for version in wanted:
        problem = version_problem(version)
        if problem is not None:
            raise ValueError(problem)
    served = sorted(wanted, key=_version_key, reverse=True)
    mirror = (mirror or default_mirror()).expanduser().resolve()
    interpreter = os.path.abspath(python or sys.executable)
    content = launcher()
    plugins = []
    for version in served:
        directory = mirror / HOSTNAME / NAMESPACE / TYPE / version / terraform_platform()
        directory.mkdir(parents=True, exist_ok=True)
        plugin = directory / f"terraform-provider-{TYPE}_v{version}"
        _write_atomically(plugin, content, 0o755)  # Terraform must execute the plugin
        plugins.append(plugin)
    _write_atomically(mirror / RECORD_NAME, interpreter + "\n", 0o644)
    if interpreter == os.path.abspath(sys.executable):  # another Python compiles on its own
        _byte_compile_package()
    return Installation(
        mirror=mirror, versions=tuple(served), plugins=tuple(plugins), python=interpreter
    )


def _write_atomically(path: Path, content: str, mode: int) -> None:
    # Written next to the target and renamed: a concurrent terraform never runs half a file.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".lacework-tokens-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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

"""Running the real ``terraform`` against a real backend through the plugin.

``Workbench`` owns one backend, one plugin mirror and the environment Terraform runs in;
``workbench.example("basic")`` copies an example (and the modules it uses) into a scratch
directory and returns a ``tftest.TerraformTest`` for it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import pytest
import tftest

from lacework_tokens import Client
from lacework_tokens.provider import ADDRESS
from lacework_tokens.testing import Backend, hermetic_terraform_environment
from lacework_tokens.wire import AgentAccessToken

REPOSITORY: Final = Path(__file__).resolve().parents[2]
EXAMPLES: Final = REPOSITORY / "examples" / "terraform"
MODULES: Final = REPOSITORY / "terraform" / "modules"
TERRAFORM: Final = shutil.which("terraform") or "terraform"
SOFT_DELETED: Final = re.compile(r"^(?P<name>.+)-[a-z0-9]{5}-deleted$")

# The AWS provider comes from the machine's filesystem mirror, never from the registry.
AWS_VERSION: Final = "5.100.0"
AWS_MIRROR: Final = Path("/opt/tf-plugins")
AWS_ADDRESS: Final = "registry.terraform.io/hashicorp/aws"
AWS_PLUGIN: Final = (
    AWS_MIRROR
    / AWS_ADDRESS
    / AWS_VERSION
    / "linux_amd64"
    / f"terraform-provider-aws_v{AWS_VERSION}_x5"
)

PROVIDER_BLOCK: Final = """\
terraform {
  required_providers {
    lacework = {
      source = "lacework/lacework"
    }
  }
}

provider "lacework" {}
"""


def install_plugin(
    mirror: Path,
    cli_config: Path,
    env: Mapping[str, str],
    *args: str,
    python: Path | str = sys.executable,
) -> str:
    """``lacework-tokens terraform install`` as a user runs it, from ``python``'s environment;
    returns what it printed."""
    result = subprocess.run(
        [
            str(python),
            "-m",
            "lacework_tokens",
            "terraform",
            "install",
            "--mirror",
            str(mirror),
            "--cli-config",
            str(cli_config),
            *args,
        ],
        env=dict(env),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def run_under_plugin(
    directory: Path, env: Mapping[str, str], script: str
) -> subprocess.CompletedProcess[str]:
    """``lacework-tokens terraform run -- sh -c SCRIPT`` in ``directory``."""
    return subprocess.run(
        [sys.executable, "-m", "lacework_tokens", "terraform", "run", "--", "sh", "-c", script],
        cwd=directory,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def h1_hash(package: Path) -> str:
    """Terraform's ``h1:`` hash of an unpacked provider package (what a lock file records)."""
    lines = []
    for file in sorted(path for path in package.rglob("*") if path.is_file()):
        digest = hashlib.sha256()
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        lines.append(f"{digest.hexdigest()}  {file.relative_to(package).as_posix()}\n")
    return "h1:" + base64.b64encode(hashlib.sha256("".join(lines).encode()).digest()).decode()


# The platforms the public registry publishes packages for: a lock file recorded against it
# holds a zh: hash (of each package's zip) for every one.
REGISTRY_PLATFORMS: Final = (
    "darwin_amd64",
    "darwin_arm64",
    "freebsd_amd64",
    "linux_386",
    "linux_amd64",
    "linux_arm",
    "linux_arm64",
    "windows_386",
    "windows_amd64",
)


def registry_hashes(address: str, version: str, *, h1: str | None = None) -> list[str]:
    """Hashes as ``terraform init`` records them from the public registry: the ``h1:`` of the
    package it installed and a ``zh:`` per published zip. Made up here (deterministically) unless
    given: no local build can match them, which is the point."""
    name = address.rsplit("/", 1)[1]

    def digest(text: str) -> bytes:
        return hashlib.sha256(f"{address} {version} {text}".encode()).digest()

    h1 = h1 or "h1:" + base64.b64encode(digest("linux_amd64 unpacked")).decode()
    zips = [
        "zh:" + digest(f"terraform-provider-{name}_{version}_{platform}.zip").hex()
        for platform in REGISTRY_PLATFORMS
    ]
    return sorted([h1, *zips])


def lock_file(entries: Mapping[str, tuple[str, str, list[str]]]) -> str:
    """A ``.terraform.lock.hcl`` as Terraform writes it: address -> (version, constraints,
    hashes)."""
    blocks = []
    for address in sorted(entries):
        version, constraints, hashes = entries[address]
        listed = "".join(f'    "{value}",\n' for value in hashes)
        blocks.append(
            f'provider "{address}" {{\n'
            f'  version     = "{version}"\n'
            f'  constraints = "{constraints}"\n'
            f"  hashes = [\n{listed}  ]\n"
            "}\n"
        )
    header = (
        '# This file is maintained automatically by "terraform init".\n'
        "# Manual edits may be lost in future updates.\n"
    )
    return header + "".join("\n" + block for block in blocks)


class Workbench:
    def __init__(self, backend: Backend, root: Path) -> None:
        self.backend = backend
        self.root = root
        home = root / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.base_env = hermetic_terraform_environment(home)
        self.mirror = root / "mirror"
        self.cli_config = root / "lacework.tfrc"
        self.install_output = install_plugin(self.mirror, self.cli_config, self.base_env)
        self.env = {
            **self.base_env,
            **backend.env(),
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
        }
        self.client: Client = backend.client()
        self._scratch = 0

    def scratch(self, label: str) -> Path:
        self._scratch += 1
        path = self.root / "work" / f"{self._scratch:03d}-{label}"
        path.mkdir(parents=True)
        return path

    def example(self, name: str, env: Mapping[str, str] | None = None) -> tftest.TerraformTest:
        """A copy of ``examples/terraform/<name>``, laid out so relative module paths hold."""
        root = self.scratch(name)
        shutil.copytree(EXAMPLES / name, root / "examples" / "terraform" / name)
        shutil.copytree(MODULES, root / "terraform" / "modules")
        return self.terraform(root / "examples" / "terraform" / name, env)

    def configuration(
        self, label: str, body: str, env: Mapping[str, str] | None = None
    ) -> tftest.TerraformTest:
        """A root module made of the provider block and ``body``."""
        directory = self.scratch(label)
        (directory / "main.tf").write_text(PROVIDER_BLOCK + "\n" + body, encoding="utf-8")
        return self.terraform(directory, env)

    def terraform(
        self, directory: Path, env: Mapping[str, str] | None = None
    ) -> tftest.TerraformTest:
        return tftest.TerraformTest(
            str(directory), binary=TERRAFORM, env={**self.env, **(env or {})}
        )


def plan_exit_code(tf: tftest.TerraformTest, *args: str) -> int:
    """``terraform plan -detailed-exitcode``: 0 when there is nothing to do, 2 when there is."""
    result = tf.execute_command("plan", "-input=false", "-no-color", "-detailed-exitcode", *args)
    assert result.retcode in (0, 2), result.out + result.err
    return int(result.retcode)


def var_args(**values: Any) -> list[str]:
    args: list[str] = []
    for name, value in values.items():
        text = json.dumps(value) if isinstance(value, (list, dict, bool, int)) else str(value)
        args += ["-var", f"{name}={text}"]
    return args


def managed_tokens(tf: tftest.TerraformTest) -> dict[str, dict[str, Any]]:
    """Every ``lacework_agent_access_token`` in the state, by address, with its values."""
    shown = json.loads(tf.execute_command("show", "-json", "-no-color").out)
    found: dict[str, dict[str, Any]] = {}

    def walk(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        yield from module.get("resources", [])
        for child in module.get("child_modules", []):
            yield from walk(child)

    for resource in walk(shown.get("values", {}).get("root_module", {})):
        if resource["type"] == "lacework_agent_access_token" and resource["mode"] == "managed":
            found[resource["address"]] = dict(resource["values"])
    return found


def assert_soft_deleted(client: Client, token: str, name: str) -> AgentAccessToken:
    """The token still exists, disabled, renamed ``<name>-xxxxx-deleted``."""
    current = client.agent_tokens.get(token)
    match = SOFT_DELETED.match(current.name)
    assert match is not None and match.group("name") == name, current.name
    assert current.enabled is False
    return current


def aws_provider_mirror() -> Path:
    """The AWS provider in the machine's filesystem mirror; the test fails (never skips)
    without it, naming what to install."""
    if not AWS_PLUGIN.is_file():
        pytest.fail(
            f"the AWS provider {AWS_VERSION} is not in the filesystem mirror {AWS_MIRROR} "
            f"(expected {AWS_PLUGIN}); install it with `terraform providers mirror "
            f"-platform=linux_amd64 {AWS_MIRROR}` in a directory whose configuration requires "
            f'hashicorp/aws = "{AWS_VERSION}"',
            pytrace=False,
        )
    return AWS_MIRROR


def cli_configuration_with_aws(workbench: Workbench, path: Path) -> Path:
    """Both providers from filesystem mirrors and nothing from the network."""
    path.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{workbench.mirror}"\n'
        f'    include = ["{ADDRESS}"]\n  }}\n'
        f'  filesystem_mirror {{\n    path    = "{aws_provider_mirror()}"\n'
        f'    include = ["{AWS_ADDRESS}"]\n  }}\n'
        "}\n",
        encoding="utf-8",
    )
    return path

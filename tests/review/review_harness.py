"""Plans made by the real ``terraform`` against a real backend, and the review command run on
them as a user runs it.

``Lab`` owns one backend, one filesystem mirror holding the lacework plugin, the stand-in
providers (``standin_providers``) and, from ``/opt/tf-plugins``, the AWS provider; Terraform
runs offline with it. Every text the review printed during a test is kept in ``lab.outputs`` so
the suite can check that no token value ever appears in any of them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import standin_providers

from lacework_tokens.client import Client
from lacework_tokens.provider import ADDRESS
from lacework_tokens.provider.install import install, terraform_platform
from lacework_tokens.review import Review
from lacework_tokens.review.formats import FORMATS, render
from lacework_tokens.testing import Backend, hermetic_terraform_environment

TERRAFORM: Final = shutil.which("terraform") or "terraform"
AWS_MIRROR: Final = Path("/opt/tf-plugins")
AWS_ADDRESS: Final = "registry.terraform.io/hashicorp/aws"
REPOSITORY: Final = Path(__file__).resolve().parents[2]

LACEWORK_ONLY: Final = """\
terraform {
  required_providers {
    lacework = {
      source = "lacework/lacework"
    }
  }
}
"""

# The AWS provider plans offline: fake keys, no account lookups, every endpoint on a closed
# loopback port (nothing is called while planning creates).
AWS_PROVIDER: Final = """\
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "AKIAIOSFODNN7EXAMPLE"
  secret_key                  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    ec2 = "http://127.0.0.1:9"
    ssm = "http://127.0.0.1:9"
    sts = "http://127.0.0.1:9"
    iam = "http://127.0.0.1:9"
  }
}
"""


def providers_block(*names: str) -> str:
    """A ``required_providers`` block for lacework plus the named providers."""
    sources = {
        "lacework": "lacework/lacework",
        "aws": "hashicorp/aws",
        "local": "hashicorp/local",
        "null": "hashicorp/null",
        "kubernetes": "hashicorp/kubernetes",
        "github": "integrations/github",
    }
    lines = ["terraform {", "  required_providers {"]
    for name in ("lacework", *names):
        lines += [f"    {name} = {{", f'      source = "{sources[name]}"', "    }"]
    return "\n".join([*lines, "  }", "}", ""])


def cli_configuration(lacework_mirror: Path, standin_mirror: Path) -> str:
    standins = ", ".join(f'"{address}"' for address in standin_providers.ADDRESSES.values())
    return textwrap.dedent(
        f"""\
        provider_installation {{
          filesystem_mirror {{
            path    = "{lacework_mirror}"
            include = ["{ADDRESS}"]
          }}
          filesystem_mirror {{
            path    = "{standin_mirror}"
            include = [{standins}]
          }}
          filesystem_mirror {{
            path    = "{AWS_MIRROR}"
            include = ["{AWS_ADDRESS}"]
          }}
        }}
        """
    )


@dataclass(frozen=True)
class PlannedRun:
    binary: Path
    json_path: Path
    document: dict[str, Any]


class Workdir:
    """One root module on disk and ``terraform`` run in it."""

    def __init__(self, lab: Lab, path: Path) -> None:
        self.lab = lab
        self.path = path

    def write(self, files: Mapping[str, str]) -> None:
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text), encoding="utf-8")

    def remove(self, *names: str) -> None:
        for name in names:
            (self.path / name).unlink()

    def terraform(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [TERRAFORM, *args],
            cwd=self.path,
            env=self.lab.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"terraform {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def init(self) -> None:
        self.terraform("init", "-input=false", "-no-color")

    def apply(self, *args: str) -> None:
        self.terraform("apply", "-auto-approve", "-input=false", "-no-color", *args)

    def plan(self, *args: str, name: str = "plan") -> PlannedRun:
        binary = self.path / f"{name}.tfplan"
        self.terraform("plan", "-input=false", "-no-color", f"-out={binary.name}", *args)
        shown = self.terraform("show", "-json", "-no-color", binary.name).stdout
        json_path = self.path / f"{name}.json"
        json_path.write_text(shown, encoding="utf-8")
        document = json.loads(shown)
        self.lab.remember_plan(document)
        return PlannedRun(binary, json_path, document)


class Lab:
    def __init__(self, backend: Backend, root: Path) -> None:
        self.backend = backend
        self.root = root
        home = root / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.base_env = hermetic_terraform_environment(home)
        lacework_mirror = install(root / "mirror").mirror
        standin_mirror = root / "standin-mirror"
        standin_providers.install(standin_mirror, terraform_platform())
        self.cli_config = root / "review.tfrc"
        self.cli_config.write_text(
            cli_configuration(lacework_mirror, standin_mirror), encoding="utf-8"
        )
        self.env = {
            **self.base_env,
            **backend.env(),
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
        }
        self.client: Client = backend.client()
        self.outputs: list[str] = []
        self.plan_values: set[str] = set()
        self._count = 0

    def workdir(self, label: str, files: Mapping[str, str] | None = None) -> Workdir:
        self._count += 1
        path = self.root / "work" / f"{self._count:03d}-{label}"
        path.mkdir(parents=True)
        workdir = Workdir(self, path)
        if files:
            workdir.write(files)
        return workdir

    def remember_plan(self, document: Mapping[str, Any]) -> None:
        from lacework_tokens.review.plan import Plan

        self.plan_values |= set(Plan(document).token_values())

    def token_values(self) -> set[str]:
        """Every token value the backend holds (soft-deleted ones too) or a plan carried."""
        return {token.token for token in self.client.agent_tokens.list()} | self.plan_values

    def review(
        self,
        *args: str,
        cwd: Path | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``lacework-tokens review ARGS`` in a subprocess, as a user runs it."""
        result = subprocess.run(
            [sys.executable, "-m", "lacework_tokens", "review", *args],
            cwd=cwd or self.root,
            input=stdin,
            env={**os.environ, **(env or {})} if env is not None else None,
            capture_output=True,
            check=False,
        )
        stdout = result.stdout.decode("utf-8")
        stderr = result.stderr.decode("utf-8")
        self.outputs += [stdout, stderr]
        return subprocess.CompletedProcess(result.args, result.returncode, stdout, stderr)

    def render_all(self, review: Review) -> dict[str, str]:
        """The review in every format, kept for the token check."""
        texts = {form: render(review, form) for form in FORMATS}
        texts["terminal-colour"] = render(review, "terminal", colour=True)
        self.outputs += list(texts.values())
        return texts


def review_json(lab: Lab, plan: Path | str, *args: str) -> tuple[int, dict[str, Any]]:
    """``review PLAN --format json ARGS``: the exit status and the parsed report."""
    result = lab.review(str(plan), "--format", "json", *args)
    assert result.returncode in (0, 1), result.stderr
    assert result.stderr == ""
    return result.returncode, json.loads(result.stdout)


def findings_by_rule(report: Mapping[str, Any]) -> dict[str, set[str]]:
    """Rule id -> the addresses it found something at."""
    found: dict[str, set[str]] = {}
    for finding in report["findings"]:
        found.setdefault(finding["rule"], set()).add(finding["address"])
    return found

"""Review benchmark, against a baseline measured in the same run.

A plan with 1,000 token changes (``for_each`` over 1,000 names, made by the real terraform
through the plugin; a plan does not call the API for creates), then:

- baseline: ``terraform show -json`` on the binary plan, what every review of a plan file
  needs first;
- ``lacework-tokens review plan.json --format json``, the whole command in a fresh process:
  goal < 2x the baseline;
- the same review given the binary plan (it runs ``terraform show -json`` itself), for scale.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from bench import terraform_bench
from lacework_tokens.provider.install import cli_config, install
from lacework_tokens.testing import hermetic_terraform_environment, run_backend

Row = tuple[str, float, str]

TOKENS: Final = int(os.environ.get("BENCH_REVIEW_TOKENS", "1000"))
ROUNDS: Final = int(os.environ.get("BENCH_REVIEW_ROUNDS", "5"))
TERRAFORM: Final = shutil.which("terraform") or "terraform"

PLAN_TF: Final = """\
terraform {
  required_providers {
    lacework = {
      source = "lacework/lacework"
    }
  }
}

provider "lacework" {}

locals {
  names = toset([for index in range(%d) : format("review-bench-%%04d", index)])
}

resource "lacework_agent_access_token" "fleet" {
  for_each    = local.names
  name        = each.key
  description = "host group ${each.key}"
}

output "fleet_tokens" {
  value     = { for key, token in lacework_agent_access_token.fleet : key => token.token }
  sensitive = true
}
"""


def _best_seconds(command: Sequence[str], directory: Path, env: Mapping[str, str]) -> float:
    """The fastest of ``ROUNDS`` runs (the one least disturbed by other load)."""
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        result = subprocess.run(
            list(command), cwd=directory, env=dict(env), capture_output=True, check=False
        )
        timings.append(time.perf_counter() - started)
        if result.returncode not in (0, 1):
            raise RuntimeError(f"{command[0]} failed: {result.stderr.decode()[-500:]}")
    return min(timings)


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="review-bench-") as scratch:
        root = Path(scratch)
        home = root / "home"
        home.mkdir()
        installation = install(root / "mirror")
        config_file = root / "lacework.tfrc"
        config_file.write_text(cli_config(installation.mirror), encoding="utf-8")
        with run_backend(root / "backend") as backend:
            env = {
                **hermetic_terraform_environment(home),
                **backend.env(),
                "TF_CLI_CONFIG_FILE": str(config_file),
            }
            work = root / "plan"
            work.mkdir()
            (work / "main.tf").write_text(PLAN_TF % TOKENS, encoding="utf-8")
            for args in (["init"], ["plan", "-out=plan.tfplan"]):
                subprocess.run(
                    [TERRAFORM, *args, "-input=false", "-no-color"],
                    cwd=work,
                    env=env,
                    check=True,
                    capture_output=True,
                )
            shown = subprocess.run(
                [TERRAFORM, "show", "-json", "plan.tfplan"],
                cwd=work,
                env=env,
                check=True,
                capture_output=True,
            )
            (work / "plan.json").write_bytes(shown.stdout)

            show = _best_seconds([TERRAFORM, "show", "-json", "plan.tfplan"], work, env)
            review = [sys.executable, "-m", "lacework_tokens", "review"]
            from_json = _best_seconds([*review, "plan.json", "--format", "json"], work, env)
            from_binary = _best_seconds([*review, "plan.tfplan", "--format", "json"], work, env)
    return [
        (f"terraform show -json, plan of {TOKENS} token creates (ms)", show * 1000, "baseline"),
        (f"review of the plan JSON, {TOKENS} token changes (ms)", from_json * 1000, "baseline"),
        ("  review vs terraform show -json", from_json / show, "< 2x"),
        (
            "review of the binary plan, its terraform show included (ms)",
            from_binary * 1000,
            "baseline",
        ),
    ]


def main() -> None:
    terraform_bench.show(run())


if __name__ == "__main__":
    main()

"""Terraform benchmarks, measured against baselines from the same run.

- ``terraform apply`` + ``destroy`` of 100 ``lacework_agent_access_token`` resources through the
  plugin and a local backend, against the same for 100 ``terraform_data`` resources (Terraform's
  built-in, no plugin process, no HTTP): goal <= 4x;
- the plugin's start-to-handshake time (process start until Terraform could connect), against
  a bare ``python -c pass`` start: goal <= 150 ms;
- the plugin's start to its answer to Terraform's first call (``GetProviderSchema``), which
  also counts what the plugin loads after the handshake.
"""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from lacework_tokens.provider.install import cli_config, install
from lacework_tokens.provider.server import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE
from lacework_tokens.testing import hermetic_terraform_environment, run_backend

Row = tuple[str, float, str]

RESOURCES: Final = int(os.environ.get("BENCH_TERRAFORM_RESOURCES", "100"))
ROUNDS: Final = int(os.environ.get("BENCH_TERRAFORM_ROUNDS", "3"))
HANDSHAKES: Final = int(os.environ.get("BENCH_HANDSHAKES", "21"))
TERRAFORM: Final = shutil.which("terraform") or "terraform"

TOKENS_TF: Final = """\
terraform {
  required_providers {
    lacework = {
      source = "lacework/lacework"
    }
  }
}

provider "lacework" {}

resource "lacework_agent_access_token" "fleet" {
  count       = %d
  name        = "bench-${count.index}"
  description = "host group ${count.index}"
}
"""

DATA_TF: Final = """\
resource "terraform_data" "fleet" {
  count = %d
  input = { name = "bench-${count.index}", description = "host group ${count.index}" }
}
"""


def _terraform(directory: Path, env: Mapping[str, str], *args: str) -> None:
    subprocess.run(
        [TERRAFORM, *args, "-input=false", "-no-color"],
        cwd=directory,
        env=dict(env),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _apply_destroy_seconds(directory: Path, env: Mapping[str, str]) -> float:
    """The best of ``ROUNDS`` apply + destroy cycles (the least disturbed by other load)."""
    _terraform(directory, env, "init")
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        _terraform(directory, env, "apply", "-auto-approve")
        _terraform(directory, env, "destroy", "-auto-approve")
        timings.append(time.perf_counter() - started)
    return min(timings)


def _first_line_seconds(command: list[str], env: Mapping[str, str]) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    process.kill()
    process.wait()
    if not line:
        raise RuntimeError(f"{command[0]} printed nothing")
    return elapsed


def _first_answer_seconds(plugin: Path, env: Mapping[str, str]) -> float:
    """Start until the plugin answers ``GetProviderSchema`` over its TLS socket, as Terraform
    connects after the handshake; then stop the plugin as Terraform does."""
    import grpc
    from tf.gen import (
        grpc_controller_pb2,
        grpc_controller_pb2_grpc,
        tfplugin_pb2,
        tfplugin_pb2_grpc,
    )

    started = time.perf_counter()
    process = subprocess.Popen(
        [str(plugin)], env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    fields = process.stdout.readline().decode().strip().split("|")
    socket_path, certificate = fields[3], fields[5]
    der = base64.b64decode(certificate + "=" * (-len(certificate) % 4))
    credentials = grpc.ssl_channel_credentials(ssl.DER_cert_to_PEM_cert(der).encode())
    options = [("grpc.ssl_target_name_override", "localhost")]
    with grpc.secure_channel(f"unix:{socket_path}", credentials, options=options) as channel:
        answer = tfplugin_pb2_grpc.ProviderStub(channel).GetProviderSchema(
            tfplugin_pb2.GetProviderSchema.Request(), timeout=30
        )
        elapsed = time.perf_counter() - started
        grpc_controller_pb2_grpc.GRPCControllerStub(channel).Shutdown(
            grpc_controller_pb2.Empty(), timeout=30
        )
    process.wait(timeout=30)
    if not answer.resource_schemas:
        raise RuntimeError(f"the plugin answered GetProviderSchema with {answer}")
    return elapsed


def _start_seconds(plugin: Path, env: Mapping[str, str]) -> tuple[float, float, float]:
    """Median handshake and first-answer times of the plugin, and a bare Python's start."""
    plugin_env = {
        **env,
        MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
        "PLUGIN_PROTOCOL_VERSIONS": "6",
    }
    # One untimed start fills the TLS identity cache, as the first terraform command would.
    _first_line_seconds([str(plugin)], plugin_env)
    plugin_times = [_first_line_seconds([str(plugin)], plugin_env) for _ in range(HANDSHAKES)]
    answer_times = [_first_answer_seconds(plugin, plugin_env) for _ in range(HANDSHAKES)]
    python_times = [
        _first_line_seconds([sys.executable, "-c", "print()"], env) for _ in range(HANDSHAKES)
    ]
    return (
        statistics.median(plugin_times),
        statistics.median(answer_times),
        statistics.median(python_times),
    )


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="terraform-bench-") as scratch:
        root = Path(scratch)
        home = root / "home"
        home.mkdir()
        base_env = hermetic_terraform_environment(home)
        installation = install(root / "mirror")
        config_file = root / "lacework.tfrc"
        config_file.write_text(cli_config(installation.mirror), encoding="utf-8")
        handshake, first_answer, python_start = _start_seconds(installation.plugin, base_env)

        with run_backend(root / "backend") as backend:
            env = {**base_env, **backend.env(), "TF_CLI_CONFIG_FILE": str(config_file)}
            tokens_dir = root / "tokens"
            tokens_dir.mkdir()
            (tokens_dir / "main.tf").write_text(TOKENS_TF % RESOURCES, encoding="utf-8")
            data_dir = root / "data"
            data_dir.mkdir()
            (data_dir / "main.tf").write_text(DATA_TF % RESOURCES, encoding="utf-8")
            baseline = _apply_destroy_seconds(data_dir, env)
            tokens = _apply_destroy_seconds(tokens_dir, env)

    return [
        (f"terraform apply+destroy, {RESOURCES} terraform_data (s)", baseline, "baseline"),
        (f"terraform apply+destroy, {RESOURCES} agent access tokens (s)", tokens, "baseline"),
        ("  tokens vs terraform_data", tokens / baseline, "<= 4x"),
        ("python start to first line (ms)", python_start * 1000, "baseline"),
        ("plugin start to handshake (ms)", handshake * 1000, "<= 150 ms"),
        (
            "plugin start to its first answer, GetProviderSchema (ms)",
            first_answer * 1000,
            "baseline",
        ),
    ]


def show(rows: list[Row]) -> None:
    for name, value, goal in rows:
        if goal == "baseline":
            figure = f"{value:,.2f}"
        elif goal.endswith("x"):
            figure = f"{value:,.2f}x"
        else:
            figure = f"{value:,.1f}"
        print(f"{name:<72} {figure:>10}  {('goal ' + goal) if goal != 'baseline' else ''}")
    sys.stdout.flush()


def main() -> None:
    show(run())


if __name__ == "__main__":
    main()

"""Terraform benchmarks, measured against baselines from the same run.

- ``terraform apply`` + ``destroy`` of 100 ``lacework_agent_access_token`` resources through the
  plugin and a local backend, against the same for 100 ``terraform_data`` resources (Terraform's
  built-in, no plugin process, no HTTP), in both ways of running the plugin: installed, which
  Terraform starts for every phase of every command (9 starts for an apply and a destroy), and
  under ``lacework-tokens terraform run`` (one plugin for the whole cycle, its start included).
  Goal <= 2.85x (the official Go provider's ratio), stretch <= 2x. The same ratios in CPU time
  (terraform, plugins and backend) show the work done, which a busy shared machine disturbs far
  less than the wall time;
- the plugin's start-to-handshake time (process start until Terraform could connect), against
  a bare ``python -c pass`` start: goal <= 100 ms;
- the plugin's start to its answer to Terraform's first call (``GetProviderSchema``), which
  also counts what the plugin loads after the handshake.
"""

from __future__ import annotations

import base64
import os
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final, NamedTuple

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


class Cycle(NamedTuple):
    seconds: float
    # CPU seconds of terraform, the plugins and the backend: the work done, which other load
    # on a shared machine disturbs far less than the wall time.
    cpu_seconds: float


def _process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(backend_pid: int) -> float:
    # Terminated children include their own children: terraform includes its plugins, and
    # `terraform run` its terraform commands.
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime + _process_cpu_seconds(backend_pid)


def _cycle(directory: Path, env: Mapping[str, str], backend_pid: int) -> Cycle:
    started, cpu = time.perf_counter(), _cpu_seconds(backend_pid)
    _terraform(directory, env, "apply", "-auto-approve")
    _terraform(directory, env, "destroy", "-auto-approve")
    return Cycle(time.perf_counter() - started, _cpu_seconds(backend_pid) - cpu)


def _run_cycle(directory: Path, env: Mapping[str, str], backend_pid: int) -> Cycle:
    """One apply + destroy under ``lacework-tokens terraform run``, the plugin's start included."""
    started, cpu = time.perf_counter(), _cpu_seconds(backend_pid)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "lacework_tokens",
            "terraform",
            "run",
            "--",
            "sh",
            "-c",
            f"{TERRAFORM} apply -auto-approve -input=false -no-color && "
            f"{TERRAFORM} destroy -auto-approve -input=false -no-color",
        ],
        cwd=directory,
        env=dict(env),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return Cycle(time.perf_counter() - started, _cpu_seconds(backend_pid) - cpu)


def _apply_destroy(
    directories: Mapping[str, Path], env: Mapping[str, str], backend_pid: int
) -> dict[str, Cycle]:
    """Per way: the best wall time of ``ROUNDS`` apply + destroy cycles (the least disturbed by
    other load) and their median CPU time, the ways taking turns so that load spreads over all
    of them alike."""
    for directory in directories.values():
        _terraform(directory, env, "init")
    cycles: dict[str, list[Cycle]] = {name: [] for name in directories}
    for _ in range(ROUNDS):
        for name, directory in directories.items():
            measure = _run_cycle if name == "run" else _cycle
            cycles[name].append(measure(directory, env, backend_pid))
    return {
        name: Cycle(
            min(cycle.seconds for cycle in measured),
            statistics.median(cycle.cpu_seconds for cycle in measured),
        )
        for name, measured in cycles.items()
    }


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
        # The timed plugins are killed after their first line: their socket directories stay
        # in the scratch directory, not in /tmp.
        (root / "tmp").mkdir()
        plugin_env = {**base_env, "TMPDIR": str(root / "tmp")}
        handshake, first_answer, python_start = _start_seconds(installation.plugin, plugin_env)

        with run_backend(root / "backend") as backend:
            env = {**base_env, **backend.env(), "TF_CLI_CONFIG_FILE": str(config_file)}
            directories = {}
            for name, text in (("data", DATA_TF), ("installed", TOKENS_TF), ("run", TOKENS_TF)):
                directories[name] = root / name
                directories[name].mkdir()
                (directories[name] / "main.tf").write_text(text % RESOURCES, encoding="utf-8")
            cycles = _apply_destroy(directories, env, backend.process.pid)

    data, installed, run = cycles["data"], cycles["installed"], cycles["run"]
    goal = "<= 2.85x (stretch 2x)"
    return [
        (f"terraform apply+destroy, {RESOURCES} terraform_data (s)", data.seconds, "baseline"),
        (
            f"terraform apply+destroy, {RESOURCES} agent access tokens, installed plugin (s)",
            installed.seconds,
            "baseline",
        ),
        (
            f"terraform apply+destroy, {RESOURCES} agent access tokens, terraform run (s)",
            run.seconds,
            "baseline",
        ),
        ("  installed plugin vs terraform_data", installed.seconds / data.seconds, goal),
        ("  terraform run vs terraform_data", run.seconds / data.seconds, goal),
        ("  the same in CPU time: installed plugin", installed.cpu_seconds / data.cpu_seconds, "x"),
        ("  the same in CPU time: terraform run", run.cpu_seconds / data.cpu_seconds, "x"),
        ("python start to first line (ms)", python_start * 1000, "baseline"),
        ("plugin start to handshake (ms)", handshake * 1000, "<= 100 ms"),
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
        elif "x" in goal:
            figure = f"{value:,.2f}x"
        else:
            figure = f"{value:,.1f}"
        shown_goal = f"goal {goal}" if goal not in ("baseline", "x") else ""
        print(f"{name:<72} {figure:>10}  {shown_goal}")
    sys.stdout.flush()


def main() -> None:
    show(run())


if __name__ == "__main__":
    main()

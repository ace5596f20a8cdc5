#!/usr/bin/env python3
"""The README's walkthrough, followed in a fresh clone of this repository's last commit.

    make walkthrough          # python3 tests/walkthrough.py

clones the committed HEAD into a temporary directory and, there, does what the README tells a new
user: ``make run`` (which creates ``.venv`` and installs from PyPI), then, in a second shell, the
``STEPS`` below (connection settings, the command line, the SDK in five lines taken from
README.md itself, a Python example, the Terraform plugin and an example configuration), and
finally Ctrl-C. Nothing outside the clone and a scratch ``HOME`` is touched.

The test suite runs the same walkthrough (``tests/terraform/test_walkthrough.py``) with the clone's
``.venv`` made of links to the already-built one, so it needs no download.

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

REPOSITORY: Final = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS: Final = 900.0  # a first `make run` installs from PyPI
STEP_TIMEOUT_SECONDS: Final = 600.0
STOP_TIMEOUT_SECONDS: Final = 30.0
READY: Final = "Ctrl-C to stop."

# What a user runs in a second shell, in the clone, once `make run` says it listens. Each string
# is one README line; they run in one bash, in order, so `eval` and `cd` carry over.
STEPS: Final = (
    'eval "$(.venv/bin/lacework-tokens env)"',
    '.venv/bin/lacework-tokens token create ci "runners in CI" linux',
    ".venv/bin/lacework-tokens token list",
    "{sdk_in_five_lines}",
    ".venv/bin/python examples/python/quickstart.py",
    "make terraform",
    "cd examples/terraform/basic",
    "terraform init -input=false",
    "terraform apply -auto-approve -input=false",
    "terraform destroy -auto-approve -input=false",
)


class WalkthroughError(Exception):
    """A step of the walkthrough failed; the message holds what it printed."""


def sdk_in_five_lines(readme: Path) -> str:
    """The Python block under the README's "The SDK in five lines", as a bash step."""
    text = readme.read_text(encoding="utf-8")
    section = text.split("## The SDK in five lines", 1)
    if len(section) != 2:
        raise WalkthroughError(f"{readme} has no section 'The SDK in five lines'")
    block = re.search(r"```python\n(.*?)```", section[1], re.DOTALL)
    if block is None:
        raise WalkthroughError(f"{readme}: 'The SDK in five lines' has no python block")
    return f".venv/bin/python - <<'README_PYTHON'\n{block.group(1)}README_PYTHON"


def clone(into: Path) -> Path:
    """A fresh clone of the committed HEAD of this repository."""
    checkout = into / "lacework-tokens"
    subprocess.run(
        ["git", "clone", "--quiet", str(REPOSITORY), str(checkout)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return checkout


def link_built_venv(checkout: Path, built: Path) -> None:
    """Give ``checkout`` a ``.venv`` made of links into ``built`` (an installed ``.venv``), with
    fresh install stamps, so ``make`` finds everything installed and downloads nothing."""
    venv = checkout / ".venv"
    venv.mkdir()
    for entry in built.iterdir():
        if not entry.name.startswith(".installed-"):
            (venv / entry.name).symlink_to(entry)
    for stamp in (".installed-run", ".installed-terraform", ".installed-dev"):
        (venv / stamp).touch()


def walkthrough_environment(home: Path) -> dict[str, str]:
    """This process's environment without Lacework or Terraform settings, with a scratch HOME
    (no ~/.lacework.toml, ~/.terraformrc or plugin cache of the user's leaks in)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LW_", "TF_", "VIRTUAL_ENV", "PYTHON"))
        and key not in {"HOME", "XDG_CACHE_HOME", "MAKEFLAGS", "MAKELEVEL", "MFLAGS"}
    }
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        CHECKPOINT_DISABLE="1",  # Terraform's version check is a network call
        TF_IN_AUTOMATION="1",
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def follow(checkout: Path, home: Path, log: Callable[[str], None] = print) -> str:
    """Run the walkthrough in ``checkout``; returns everything the steps printed."""
    home.mkdir(parents=True, exist_ok=True)
    env = walkthrough_environment(home)
    out, err = checkout / "make-run.out", checkout / "make-run.err"
    log(f"make run (in {checkout})")
    with out.open("wb") as stdout, err.open("wb") as stderr:
        server = subprocess.Popen(
            ["make", "run", f"PORT={free_port()}"],
            cwd=checkout,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # its own process group: Ctrl-C reaches make and serve
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while READY not in out.read_text(errors="replace"):
            if server.poll() is not None or time.monotonic() > deadline:
                raise WalkthroughError(
                    f"make run did not start:\n{out.read_text()}\n{err.read_text()}"
                )
            time.sleep(0.1)
        steps = [
            step.format(sdk_in_five_lines=sdk_in_five_lines(checkout / "README.md"))
            for step in STEPS
        ]
        script = "set -euo pipefail\n" + "".join(
            f"echo {shell_quote('$ ' + step.splitlines()[0])}\n{step}\n" for step in steps
        )
        log("the README's steps, in a second shell")
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_SECONDS,
            check=False,
        )
        printed = done.stdout + done.stderr
        if done.returncode != 0:
            raise WalkthroughError(f"a step failed (exit {done.returncode}):\n{printed}")
    finally:
        if server.poll() is None:
            log("Ctrl-C")
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
                raise WalkthroughError("make run did not stop on Ctrl-C") from None
    return out.read_text() + printed


def shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary clone (its path is printed)"
    )
    args = parser.parse_args(argv)
    if shutil.which("terraform") is None:
        print("walkthrough: terraform is not on PATH (the README needs it)", file=sys.stderr)
        return 1
    scratch = Path(tempfile.mkdtemp(prefix="lacework-tokens-walkthrough-"))
    try:
        checkout = clone(scratch)
        print(follow(checkout, scratch / "home"))
        print("walkthrough: every step of the README worked in a fresh clone")
        return 0
    except (WalkthroughError, subprocess.SubprocessError, OSError) as exc:
        print(f"walkthrough: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"walkthrough: the clone is in {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

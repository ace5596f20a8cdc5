"""The README's first hour, in a fresh clone of the last commit, so it cannot drift again.

``make walkthrough`` does the same with a real install from PyPI; here the clone's ``.venv`` is
made of links to the one running the tests, so nothing is downloaded.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from walkthrough import STEPS, clone, follow, link_built_venv, walkthrough_environment


@pytest.mark.terraform
def test_the_readme_walkthrough_works_in_a_fresh_clone(tmp_path: Path) -> None:
    checkout = clone(tmp_path)
    link_built_venv(checkout, Path(sys.prefix))
    printed = follow(checkout, tmp_path / "home", log=lambda _: None)

    assert "Ctrl-C to stop." in printed
    assert re.search(r"^ci\b|\bci\s+Enabled\s+linux", printed, re.MULTILINE), printed
    assert "deleted:" in printed  # the quickstart ran its whole lifecycle
    assert "Installed registry.terraform.io/lacework/lacework" in printed
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in printed
    assert "Destroy complete! Resources: 1 destroyed." in printed
    assert "Traceback" not in printed
    # Nothing was installed: make found the built environment up to date.
    assert "Installing" not in (checkout / "make-run.out").read_text()
    assert (tmp_path / "home" / ".terraform.d" / "plugins").is_dir()


def test_make_says_what_it_installs_before_the_long_wait(tmp_path: Path) -> None:
    checkout = clone(tmp_path)
    env = walkthrough_environment(tmp_path / "home")

    def make_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "run", *args],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # A Python that cannot make the environment: the first message is already out.
    no_venv = make_run("PYTHON=false")
    assert no_venv.returncode != 0
    assert no_venv.stdout.startswith("Creating .venv (a Python virtual environment")

    # An environment whose pip fails at once: the install step was announced first.
    broken = checkout / ".venv" / "bin" / "python"
    broken.parent.mkdir(parents=True)
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    installing = make_run()
    assert installing.returncode != 0
    assert installing.stdout.startswith(
        "Installing lacework-tokens and the server's dependencies into .venv (pip; about 30 s"
    )


def test_the_terraform_examples_readme_gives_the_walkthrough_s_commands() -> None:
    """Every command examples/terraform/README.md shows is one the walkthrough runs."""
    readme = Path(__file__).resolve().parents[2] / "examples" / "terraform" / "README.md"
    block = re.search(r"```sh\n(.*?)```", readme.read_text(), re.DOTALL)
    assert block is not None
    run_by_the_walkthrough = [step.split() for step in ("make run", *STEPS)]
    shown = [
        command.split()
        for line in block.group(1).splitlines()
        for command in line.split("#", 1)[0].split("&&")
        if command.strip()
    ]
    assert len(shown) >= 5
    for words in shown:
        assert any(step[: len(words)] == words for step in run_by_the_walkthrough), words

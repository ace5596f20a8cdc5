"""``lacework-tokens terraform install`` and ``terraform run``: the provider plugin for Terraform.

``install`` puts the plugin in a filesystem mirror, where ``terraform init`` finds it offline;
``run`` serves it to the terraform commands of one program through ``TF_REATTACH_PROVIDERS``,
which needs no installation and leaves committed lock files alone.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

from lacework_tokens.cli.output import EXIT_FAILURE, EXIT_OK, print_error, print_help

__all__ = ["add_terraform_command"]

REATTACH_VARIABLE: Final = "TF_REATTACH_PROVIDERS"
EXIT_NOT_FOUND: Final = 127  # as a shell reports a command it cannot find

INSTALL_EPILOG: Final = """\
what terraform init needs:
  Without the plugin, `terraform init` asks the public registry for lacework/lacework, and
  offline it fails with "Failed to query available provider packages ... could not connect to
  registry.terraform.io". Run this command once per machine (and again after the Python
  environment moved, e.g. after `make clean`); then init finds the plugin offline.

versions:
  The plugin is served as %(versions)s, the latest release of each
  major version of the official provider, so configurations pinned to it (~> 2.0, ~> 1.0,
  >= 1.18) init unchanged. Another pin (version = "= 2.0.4") makes init say "no available
  releases match the given constraints": install again with --provider-version 2.0.4.

lock files:
  The plugin file is the same on every machine, so a .terraform.lock.hcl recorded with it
  verifies everywhere. One recorded against the public registry cannot match any local build:
  run terraform under `lacework-tokens terraform run` instead, which needs no installation and
  leaves the lock file as it is.
"""

RUN_EPILOG: Final = f"""\
Terraform uses the plugin served by this process (through {REATTACH_VARIABLE}) instead of
starting one for every command: no `terraform install` and no plugin starts, and terraform init
neither checks nor changes the lock file entry of lacework/lacework, so a lock file recorded
against the public registry stays byte-identical. Other providers install as usual.

The plugin reads LW_* settings and ~/.lacework.toml as they are when `run` starts, and serves
one provider configuration: a provider block that resolves to other settings is refused.
Examples:

  lacework-tokens terraform run -- terraform apply            # one command
  lacework-tokens terraform run -- sh -c 'terraform init -lockfile=readonly && terraform apply'
  lacework-tokens terraform run -- "$SHELL"                   # every terraform in this shell
"""


def add_terraform_command(subparsers: Any) -> None:
    """Register ``terraform install`` and ``terraform run``."""
    from lacework_tokens.provider import OFFICIAL_VERSIONS

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "terraform",
        help="install or run the Terraform provider plugin",
        description="The lacework/lacework Terraform provider plugin.",
    )
    actions = parser.add_subparsers(dest="terraform_command", metavar="ACTION")
    install = actions.add_parser(
        "install",
        help="place the plugin in a Terraform filesystem mirror",
        description="Place the plugin in a Terraform filesystem mirror (default: the implied\n"
        "local mirror ~/.terraform.d/plugins) and print the CLI configuration that uses it.",
        epilog=INSTALL_EPILOG % {"versions": ", ".join(OFFICIAL_VERSIONS)},
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    install.add_argument(
        "--mirror",
        type=Path,
        default=None,
        metavar="DIR",
        help="mirror directory (default: ~/.terraform.d/plugins, which Terraform searches "
        "without any configuration)",
    )
    install.add_argument(
        "--cli-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the CLI configuration to FILE (for TF_CLI_CONFIG_FILE)",
    )
    install.add_argument(
        "--provider-version",
        action="append",
        default=[],
        metavar="VERSION",
        help="also serve the plugin as VERSION, for a configuration pinned to it (repeatable)",
    )
    install.set_defaults(handler=_install)
    run = actions.add_parser(
        "run",
        help="run a command whose terraform uses one long-lived plugin",
        description="Serve the plugin from this process and run COMMAND with "
        f"{REATTACH_VARIABLE}\npointing Terraform at it; exit with COMMAND's status.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "run_command",
        nargs=argparse.REMAINDER,
        metavar="COMMAND ...",
        help="the command to run, after -- (e.g. -- terraform apply)",
    )
    run.set_defaults(handler=_run)
    parser.set_defaults(handler=lambda _args: print_help(parser))


# --- install ----------------------------------------------------------------------------------


def _install(args: argparse.Namespace) -> int:
    from lacework_tokens.provider.install import (
        cli_config,
        default_mirror,
        install,
        version_problem,
    )

    for version in args.provider_version:
        problem = version_problem(version)
        if problem is not None:
            print_error(f"--provider-version: {problem}", "terraform install")
            return EXIT_FAILURE
    try:
        installation = install(args.mirror, versions=args.provider_version)
        config = cli_config(installation.mirror)
        if args.cli_config is not None:
            args.cli_config.parent.mkdir(parents=True, exist_ok=True)
            args.cli_config.write_text(config, encoding="utf-8")
    except (OSError, RuntimeError) as error:
        print_error(str(error), "terraform install")
        return EXIT_FAILURE
    print(
        "Installed registry.terraform.io/lacework/lacework as versions "
        + ", ".join(installation.versions)
    )
    print(f"  mirror: {installation.mirror}")
    print(f"  Python: {installation.python}")
    print(
        '\nA configuration pinned to another version (e.g. version = "= 2.0.4") needs '
        "--provider-version 2.0.4.\nA lock file recorded against the public registry needs "
        "`lacework-tokens terraform run` instead (see its --help)."
    )
    if args.cli_config is not None:
        print(f"\nCLI configuration written to {args.cli_config}:")
        print(f"  export TF_CLI_CONFIG_FILE={args.cli_config}\n")
        print(config, end="")
        return EXIT_OK
    own_config = _cli_config_with_its_own_installation()
    if own_config is not None:
        print(
            f"\nYour Terraform CLI configuration ({own_config}) has its own "
            "provider_installation block,\nso Terraform does not search this mirror by itself. "
            "Add the filesystem_mirror below to it,\nor name a file holding this configuration "
            "in TF_CLI_CONFIG_FILE:\n"
        )
    elif installation.mirror == default_mirror().resolve():
        print("\nTerraform searches this mirror by default: `terraform init` finds the plugin.")
        print("To take only this provider from it, use this CLI configuration:\n")
    else:
        print("\nUse this CLI configuration (e.g. in a file named by TF_CLI_CONFIG_FILE):\n")
    print(config, end="")
    return EXIT_OK


_PROVIDER_INSTALLATION: Final = re.compile(r"^\s*provider_installation\b", re.MULTILINE)


def _cli_config_with_its_own_installation() -> Path | None:
    """The CLI configuration file Terraform reads, when it sets ``provider_installation``
    (Terraform then searches only what that block names, not the implied mirror)."""
    named = os.environ.get("TF_CLI_CONFIG_FILE")
    path = Path(named) if named else Path.home() / ".terraformrc"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    uncommented = re.sub(r"(#|//).*$|/\*.*?\*/", "", text, flags=re.MULTILINE | re.DOTALL)
    return path if _PROVIDER_INSTALLATION.search(uncommented) else None


# --- run --------------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    import json

    from lacework_tokens.provider.server import long_lived

    command = list(args.run_command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print_error("name the command to run, e.g. -- terraform apply", "terraform run")
        return EXIT_FAILURE
    with long_lived() as reattach:
        env = dict(os.environ)
        others = env.get(REATTACH_VARIABLE)
        if others:  # other providers being debugged keep their entries
            try:
                merged = {**json.loads(others), **json.loads(reattach)}
            except (ValueError, TypeError):
                print_error(f"{REATTACH_VARIABLE} is set but is not JSON", "terraform run")
                return EXIT_FAILURE
            reattach = json.dumps(merged)
        env[REATTACH_VARIABLE] = reattach
        try:
            child = subprocess.Popen(command, env=env)
        except OSError as error:
            print_error(f"cannot run {command[0]}: {error.strerror}", "terraform run")
            return EXIT_NOT_FOUND
        # Ctrl-C reaches the command from the terminal; this process waits for it to finish.
        # A termination request is passed on.
        previous_interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
        previous_terminate = signal.signal(
            signal.SIGTERM, lambda _signal, _frame: child.send_signal(signal.SIGTERM)
        )
        try:
            status = child.wait()
        finally:
            signal.signal(signal.SIGINT, previous_interrupt)
            signal.signal(signal.SIGTERM, previous_terminate)
    sys.stdout.flush()
    return status if status >= 0 else 128 - status  # killed by a signal: as a shell says

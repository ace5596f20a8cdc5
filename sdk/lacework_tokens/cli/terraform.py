"""``lacework-tokens terraform install``: put the provider plugin where Terraform finds it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lacework_tokens.cli.output import EXIT_FAILURE, EXIT_OK, print_error, print_help

__all__ = ["add_terraform_command"]


def add_terraform_command(subparsers: Any) -> None:
    """Register ``terraform install``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "terraform",
        help="install the Terraform provider plugin",
        description="Install the lacework/lacework Terraform provider plugin.",
    )
    actions = parser.add_subparsers(dest="terraform_command", metavar="ACTION")
    install = actions.add_parser(
        "install",
        help="place the plugin in a Terraform filesystem mirror",
        description="Place the plugin in a Terraform filesystem mirror (default: the implied "
        "local mirror ~/.terraform.d/plugins) and print the CLI configuration that uses it.",
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
    install.set_defaults(handler=_install)
    parser.set_defaults(handler=lambda _args: print_help(parser))


def _install(args: argparse.Namespace) -> int:
    from lacework_tokens.provider.install import cli_config, default_mirror, install

    try:
        installation = install(args.mirror)
        config = cli_config(installation.mirror)
        if args.cli_config is not None:
            args.cli_config.parent.mkdir(parents=True, exist_ok=True)
            args.cli_config.write_text(config, encoding="utf-8")
    except (OSError, RuntimeError) as error:
        print_error(str(error), "terraform install")
        return EXIT_FAILURE
    print(f"Installed registry.terraform.io/lacework/lacework {installation.version}")
    print(f"  plugin: {installation.plugin}")
    implied = installation.mirror == default_mirror().resolve()
    if implied:
        print("\nTerraform searches this mirror by default; `terraform init` works as is.")
        print("To take only this provider from it, use this CLI configuration:\n")
    else:
        print("\nUse this CLI configuration (e.g. in a file named by TF_CLI_CONFIG_FILE):\n")
    print(config, end="")
    if args.cli_config is not None:
        print(f"\nWritten to {args.cli_config}; export TF_CLI_CONFIG_FILE={args.cli_config}")
    return EXIT_OK

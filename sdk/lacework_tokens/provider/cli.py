"""``lacework-tokens terraform``: put the provider plugin where Terraform finds it offline."""

from __future__ import annotations

import argparse
from typing import Any


def add_terraform_command(subparsers: Any) -> None:
    """Register ``terraform install``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "terraform", help="install the Terraform provider plugin into a filesystem mirror"
    )
    actions = parser.add_subparsers(dest="terraform_command", metavar="ACTION")
    install = actions.add_parser("install", help="place the plugin in a Terraform mirror")
    install.add_argument("--mirror", default=None, help="mirror directory")
    install.set_defaults(handler=_not_ready)


def _not_ready(args: argparse.Namespace) -> int:
    return 1

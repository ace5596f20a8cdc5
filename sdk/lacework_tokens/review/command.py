"""``lacework-tokens review PLAN``: what a Terraform plan does to agent tokens.

Exit status: 0 when no unacknowledged finding is at or above ``--fail-on`` (default high), 1
when one is, 2 for input the review cannot use (not a plan, an unsupported format version, an
unreadable file, a bad option) or a ``--live`` lookup that failed, with a one-line reason.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, Final

__all__ = ["add_review_command", "parse_window", "run_review"]

EXIT_CLEAN: Final = 0
EXIT_BLOCKED: Final = 1
EXIT_BAD_INPUT: Final = 2
_WINDOW: Final = re.compile(r"^\s*(\d+)\s*([dhm]?)\s*$")
_UNITS: Final = {"d": "days", "h": "hours", "m": "minutes", "": "days"}

DESCRIPTION: Final = """\
Review a Terraform plan for what it does to Lacework agent access tokens: which tokens are
created, renamed, disabled or destroyed (a destroy disables the token: its agents stop
reporting), where token values flow (outputs, files, SSM parameters, user data, ConfigMaps,
CI variables, tags, triggers), and hygiene (descriptions, names, successors).

PLAN is the JSON of `terraform show -json plan.out`, a binary plan file (then `terraform show
-json` runs in --config, default the current directory) or - for standard input."""

EPILOG: Final = """\
Acknowledge a reviewed finding in code with a comment in or right above the block it is about:
    # lacework-tokens: ack LWT204 bootstrap fetches it once, rotated monthly (SEC-123)
The .tf files are read from --config when given, else from the binary plan's configuration
snapshot, the plan file's directory or the current directory.

exit status: 0 nothing at or above --fail-on, 1 something is, 2 bad input or a failed lookup"""


def parse_window(text: str) -> timedelta:
    """``7d``, ``36h``, ``90m`` or a number of days."""
    match = _WINDOW.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(
            f"--window {text!r}: expected a positive number of days, e.g. 7d, 36h, 90m"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def add_review_command(subparsers: Any) -> None:
    from lacework_tokens.review.formats import FORMATS
    from lacework_tokens.review.rules import Severity

    parser = subparsers.add_parser(
        "review",
        help="review a Terraform plan for what it does to agent tokens",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("plan", nargs="?", metavar="PLAN", help="plan JSON, plan file, or -")
    parser.add_argument(
        "--live",
        action="store_true",
        help="count agents using each disabled or destroyed token through AgentInfo "
        "(credentials: LW_* variables, ~/.lacework.toml, LW_API_SERVER_URL)",
    )
    parser.add_argument(
        "--window",
        default="7d",
        help="how far back agents count for --live: 7d, 36h, 90m (default: 7d)",
    )
    parser.add_argument(
        "--name-pattern",
        metavar="REGEX",
        help="token names must match this regular expression (the whole name)",
    )
    parser.add_argument("--list-rules", action="store_true", help="print every rule and exit")
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="RULE",
        help="turn a rule off, by id or name (repeatable, or comma-separated)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="terminal",
        help="terminal (default; colour on a TTY), markdown (a pull-request comment), json, sarif",
    )
    parser.add_argument(
        "--fail-on",
        choices=[severity.value for severity in Severity],
        default=Severity.HIGH.value,
        help="exit 1 when an unacknowledged finding is at least this severe (default: high)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="DIR",
        help="the directory terraform planned in (for .tf files and `terraform show`)",
    )
    parser.add_argument(
        "--profile",
        help="profile in ~/.lacework.toml for --live (env: LW_PROFILE; default: [default])",
    )
    parser.set_defaults(handler=run_review)


def _fail(message: str) -> int:
    from lacework_tokens.cli.output import print_error

    print_error(message, "review")
    return EXIT_BAD_INPUT


def run_review(args: argparse.Namespace, *, stdin: IO[bytes] | None = None) -> int:
    from lacework_tokens.errors import LaceworkError
    from lacework_tokens.review.engine import review_plan
    from lacework_tokens.review.formats import render, render_rules
    from lacework_tokens.review.plan import PlanError, load_plan
    from lacework_tokens.review.rules import Severity, UnknownRuleError, rule_ids
    from lacework_tokens.review.source import SourceTree

    if args.list_rules:
        sys.stdout.write(render_rules(args.format))
        return EXIT_CLEAN
    if not args.plan:
        return _fail("PLAN is required: plan JSON, a plan file, or - for standard input")
    try:
        window = parse_window(args.window)
        pattern = re.compile(args.name_pattern) if args.name_pattern is not None else None
        ignored = rule_ids(args.ignore)
    except re.error as error:
        return _fail(f"--name-pattern: {error}")
    except (ValueError, UnknownRuleError) as error:
        return _fail(str(error))
    if args.config is not None and not args.config.is_dir():
        return _fail(f"--config {args.config}: not a directory")
    try:
        loaded = load_plan(args.plan, stdin=stdin, chdir=args.config)
    except PlanError as error:
        return _fail(str(error))

    configuration = loaded.document.get("configuration")
    sources = None
    if args.config is not None:
        sources = SourceTree.from_directory(args.config, configuration)
    elif loaded.snapshot is not None:
        sources = SourceTree.from_plan_file(loaded.snapshot)
    else:
        candidates = [] if args.plan == "-" else [Path(args.plan).resolve().parent]
        for directory in [*candidates, Path.cwd()]:
            sources = SourceTree.from_directory(directory, configuration)
            if sources is not None:
                break

    usage = None
    client = None
    if args.live:
        from lacework_tokens.client import Client
        from lacework_tokens.review.usage import ClientUsageSource

        try:
            client = Client.from_env(args.profile)
        except LaceworkError as error:
            return _fail(f"--live: {error}")
        usage = ClientUsageSource(client)
    try:
        review = review_plan(
            loaded.document,
            usage=usage,
            window=window,
            name_pattern=pattern,
            ignore=ignored,
            sources=sources,
        )
    except PlanError as error:
        return _fail(str(error))
    except LaceworkError as error:
        return _fail(f"--live: counting agents failed: {error}")
    finally:
        if client is not None:
            client.close()

    colour = args.format == "terminal" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    artifact = "main.tf" if args.plan == "-" else Path(args.plan).name
    sys.stdout.write(render(review, args.format, colour=colour, artifact=artifact))
    sys.stdout.flush()
    return EXIT_BLOCKED if review.blocking(Severity(args.fail_on)) else EXIT_CLEAN

"""``python -m tools.mutants``: mutate the configured modules and report what the tests noticed.

    python -m tools.mutants                       # every target in tools/mutants/config.toml
    python -m tools.mutants --only sdk/lacework_tokens/wire.py --jobs 2
    python -m tools.mutants --list                # the mutants, without running anything
    python -m tools.mutants --show 8d8ae6216e68   # one mutant as a diff

The kill rate counts a timed-out mutant as killed and leaves out the mutants listed in
``equivalent.txt`` (changes that alter no behaviour, each with its reason). Listed mutants are
not run unless ``--check-equivalent`` asks for it, which also reports those the tests kill.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from tools.mutants.operators import Mutant, iter_described, mutants, mutated_tree
from tools.mutants.runner import (
    ROOT,
    Config,
    Outcome,
    Result,
    load_config,
    load_equivalent,
    run,
)

DEFAULT_CONFIG = Path(__file__).with_name("config.toml")


def _all_mutants(config: Config, only: Sequence[str]) -> list[Mutant]:
    found: list[Mutant] = []
    for target in config.targets:
        if not only or target.path in only or target.module in only:
            found.extend(mutants(target.path, (ROOT / target.path).read_text()))
    return found


def _show(config: Config, mutant_id: str) -> int:
    for mutant in _all_mutants(config, ()):
        if mutant.id == mutant_id:
            source = (ROOT / mutant.path).read_text()
            before = ast.unparse(ast.parse(source)).splitlines(keepends=True)
            after = ast.unparse(mutated_tree(mutant.path, source, mutant.ordinal))
            diff = difflib.unified_diff(
                before, after.splitlines(keepends=True), mutant.path, f"{mutant.path} (mutant)"
            )
            print(f"{mutant.path}:{mutant.line} [{mutant.qualname}] {mutant.describe()}")
            sys.stdout.writelines(diff)
            return 0
    print(f"no mutant {mutant_id}", file=sys.stderr)
    return 1


def _rate(killed: int, counted: int) -> str:
    return f"{100.0 * killed / counted:5.1f}%" if counted else "    -"


def report(
    config: Config, results: list[Result], equivalent: dict[str, str], only: Sequence[str]
) -> float:
    """Print the per-module table and the survivors; the lowest kill rate."""
    header = (
        f"{'module':44} {'mutants':>7} {'killed':>6} {'timed out':>9} {'survived':>8} "
        f"{'equivalent':>10} {'kill rate':>9}"
    )
    print(header)
    lowest = 100.0
    survivors: list[Result] = []
    wrongly_marked: list[Result] = []
    for target in config.targets:
        mine = [r for r in results if r.mutant.path == target.path]
        if not mine:
            continue
        killed = sum(r.outcome == Outcome.KILLED for r in mine)
        timed_out = sum(r.outcome == Outcome.TIMED_OUT for r in mine)
        alive = [
            r for r in mine if r.outcome in (Outcome.SURVIVED, Outcome.UNCOVERED, Outcome.LISTED)
        ]
        marked = [r for r in alive if r.mutant.id in equivalent]
        unmarked = [r for r in alive if r.mutant.id not in equivalent]
        survivors.extend(unmarked)
        wrongly_marked.extend(r for r in mine if r.mutant.id in equivalent and r not in marked)
        counted = len(mine) - len(marked)
        if counted:
            lowest = min(lowest, 100.0 * (killed + timed_out) / counted)
        print(
            f"{target.path:44} {len(mine):7} {killed:6} {timed_out:9} {len(unmarked):8} "
            f"{len(marked):10} {_rate(killed + timed_out, counted):>9}"
        )
    if survivors:
        print("\nsurvivors (add a test, or list the id in equivalent.txt with the reason):")
        for result in sorted(survivors, key=lambda r: (r.mutant.path, r.mutant.line)):
            mutant = result.mutant
            note = " (no test runs it)" if result.outcome == Outcome.UNCOVERED else ""
            print(
                f"  {mutant.path}:{mutant.line} [{mutant.qualname}] {mutant.describe()}"
                f"  {mutant.id}{note}"
            )
    if wrongly_marked:
        print("\nlisted as equivalent but killed (remove from equivalent.txt):")
        for result in wrongly_marked:
            print(f"  {result.mutant.id} {result.mutant.path}:{result.mutant.line}")
    seen: dict[str, Mutant] = {}
    for result in results:
        twin = seen.setdefault(result.mutant.id, result.mutant)
        if twin is not result.mutant:
            print(
                f"\ntwo mutants share the id {twin.id}: {twin.path}:{twin.line} and "
                f"{result.mutant.path}:{result.mutant.line}; an equivalent entry covers both"
            )
    if not only:
        produced = {r.mutant.id for r in results}
        stale = sorted(set(equivalent) - produced)
        if stale:
            print("\nlisted as equivalent but no longer produced (remove or re-id):")
            for mutant_id in stale:
                print(f"  {mutant_id} {equivalent[mutant_id]}")
    return lowest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutants", description=__doc__)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--only", action="append", default=[], help="a target path or module")
    parser.add_argument("--jobs", type=int, help="mutants run at once (default: from config)")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--show", metavar="ID", help="print one mutant as a diff and stop")
    parser.add_argument("--verbose", action="store_true", help="one line per mutant, with times")
    parser.add_argument(
        "--check-equivalent",
        action="store_true",
        help="run the mutants listed in equivalent.txt too, and report those the tests kill",
    )
    parser.add_argument(
        "--fail-under", type=float, default=0.0, help="exit 1 when a module's kill rate is lower"
    )
    args = parser.parse_args(argv)
    config = load_config(args.config)
    if args.jobs:
        config = attrs.evolve(config, jobs=args.jobs)
    if args.show:
        return _show(config, args.show)
    if args.list:
        for line in iter_described(_all_mutants(config, args.only)):
            print(line)
        return 0
    equivalent = load_equivalent(config.equivalent_path)
    started = time.monotonic()
    skipped = frozenset() if args.check_equivalent else frozenset(equivalent)
    results, baseline_seconds = run(config, args.only, verbose=args.verbose, skipped=skipped)
    lowest = report(config, results, equivalent, args.only)
    total = time.monotonic() - started
    print(f"\n{len(results)} mutants in {total:.0f} s (baseline {baseline_seconds:.0f} s)")
    return 1 if lowest < args.fail_under else 0


if __name__ == "__main__":
    sys.exit(main())

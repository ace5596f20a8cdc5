"""``make bench``: print every benchmark's figures as ratios against baselines of the same run."""

from __future__ import annotations

import sys

from bench import backend_bench


def show(rows: list[tuple[str, float, str]]) -> None:
    for name, value, goal in rows:
        figure = f"{value:,.2f}x" if goal != "baseline" else f"{value:,.0f}"
        print(f"{name:<72} {figure:>10}  {('goal ' + goal) if goal else ''}", flush=True)


def main() -> int:
    which = set(sys.argv[1:]) or {
        "backend",
        "responsiveness",
        "agents",
        "console",
        "terraform",
        "review",
    }
    if "backend" in which:
        print("# backend and SDK", flush=True)
        show(backend_bench.run())
    if "responsiveness" in which:
        from bench import responsiveness_bench

        print("# large reads and logins", flush=True)
        show(responsiveness_bench.run())
    if "agents" in which:
        from bench import agents_bench

        print("# agents", flush=True)
        show(agents_bench.run())
    if "console" in which:
        from bench import console_bench

        print("# console", flush=True)
        show(console_bench.run())
    if "terraform" in which:
        from bench import terraform_bench

        print("# terraform", flush=True)
        terraform_bench.main()
    if "review" in which:
        from bench import review_bench

        print("# review", flush=True)
        review_bench.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

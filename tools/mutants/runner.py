"""Runs the fast tests against each mutant, in forked children, and counts what they notice.

How a run stays lean on a shared machine:
- one baseline run of the whole fast selection records, per test, which lines of the project
  and of the tests it executes; each mutant then runs only the tests that execute its line,
  fastest first, stopping at the first failure. A mutant at import level (a constant, a class
  attribute, a default value) runs the tests that execute a line naming what it changes, or
  something defined from that at import;
- the baseline also records which third-party modules the tests import; the parent imports
  them once, so each forked child starts pytest without importing them again. The project's own
  modules are never imported by the parent: each child imports them afresh, the target module
  from the mutated syntax tree (through an import hook), so constants copied between modules
  at import time are mutated too;
- a child that runs longer than ``timeout_factor`` times its tests' baseline time plus
  ``timeout_slack_seconds`` is killed with its process group, and counted as timed out.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import tomllib
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import pytest
from attrs import frozen

from tools.mutants.operators import (
    Mutant,
    bound_names,
    mutants,
    mutated_tree,
    referenced_names,
)

__all__ = ["Config", "Outcome", "Result", "Target", "load_config", "run"]

ROOT: Final = Path(__file__).resolve().parents[2]
POLL_SECONDS: Final = 0.02


# --- configuration --------------------------------------------------------------------------


@frozen
class Target:
    path: str  # repository-relative, e.g. "sdk/lacework_tokens/wire.py"
    module: str  # import name, e.g. "lacework_tokens.wire"
    tests: tuple[str, ...]  # pytest arguments selecting this target's tests


@frozen
class Config:
    targets: tuple[Target, ...]
    tests: tuple[str, ...]  # the union of every target's selection, for the baseline
    pytest_args: tuple[str, ...]
    source_roots: tuple[str, ...]
    timeout_factor: float
    timeout_slack_seconds: float
    jobs: int
    equivalent_path: Path


def _module_name(path: str, source_roots: Sequence[str]) -> str:
    for root in source_roots:
        prefix = root.rstrip("/") + "/"
        if path.startswith(prefix):
            dotted = path[len(prefix) :].removesuffix(".py").replace("/", ".")
            return dotted.removesuffix(".__init__")
    raise ValueError(f"{path} is under none of the source roots {list(source_roots)}")


def load_config(path: Path) -> Config:
    data = tomllib.loads(path.read_text())
    run = data.get("run", {})
    source_roots = tuple(run.get("source_roots", ["sdk"]))
    fast = tuple(run["tests"])
    targets: list[Target] = []
    for entry in data["target"]:
        paths = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(entry["path"]))
        if not paths:
            raise ValueError(f"{path}: target {entry['path']!r} matches no file")
        for found in paths:
            targets.append(
                Target(
                    path=found,
                    module=_module_name(found, source_roots),
                    tests=tuple(entry.get("tests", fast)),
                )
            )
    union = list(fast)
    for target in targets:
        union.extend(t for t in target.tests if t not in union)
    return Config(
        targets=tuple(targets),
        tests=tuple(union),
        pytest_args=tuple(run.get("pytest_args", [])),
        source_roots=source_roots,
        timeout_factor=float(run.get("timeout_factor", 3.0)),
        timeout_slack_seconds=float(run.get("timeout_slack_seconds", 10.0)),
        jobs=int(run.get("jobs", 1)),
        equivalent_path=path.parent / run.get("equivalent", "equivalent.txt"),
    )


def load_equivalent(path: Path) -> dict[str, str]:
    """Mutant id -> why it changes no behaviour. Lines: ``<id> <reason>``; ``#`` comments."""
    marked: dict[str, str] = {}
    if not path.exists():
        return marked
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        mutant_id, _, reason = line.partition(" ")
        if not reason.strip():
            raise ValueError(f"{path}:{number}: an equivalent mutant needs a reason")
        marked[mutant_id] = reason.strip()
    return marked


# --- outcomes -------------------------------------------------------------------------------


class Outcome:
    KILLED: Final = "killed"
    SURVIVED: Final = "survived"
    TIMED_OUT: Final = "timed out"
    UNCOVERED: Final = "no test runs it"
    # Listed in equivalent.txt and not run: a survivor runs every test that reaches it, which
    # for a constant read at import is hundreds of tests (``--check-equivalent`` runs them).
    LISTED: Final = "listed equivalent"


@frozen
class Result:
    mutant: Mutant
    outcome: str
    seconds: float
    tests: int


# --- what the children run ------------------------------------------------------------------


class _MutatedModule(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves one module from a mutated code object; everything else imports as usual."""

    def __init__(self, name: str, path: Path, code: types.CodeType) -> None:
        self.name = name
        self.path = path
        self.code = code

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        package = [str(self.path.parent)] if self.path.name == "__init__.py" else None
        return importlib.util.spec_from_file_location(
            fullname, self.path, loader=self, submodule_search_locations=package
        )

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        exec(self.code, module.__dict__)  # noqa: S102 - the mutated module, from our own tree


class _LineRecorder:
    """A pytest plugin: per test, the lines under ``prefixes`` it executes, and its time."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes
        self.lines: dict[str, set[tuple[str, int]]] = {}
        self.seconds: dict[str, float] = {}
        self.failed: list[str] = []
        self._current: set[tuple[str, int]] = set()
        self._traced: dict[str, bool] = {}

    def _trace(self, frame: types.FrameType, event: str, arg: object) -> Any:
        filename = frame.f_code.co_filename
        traced = self._traced.get(filename)
        if traced is None:
            traced = self._traced[filename] = filename.startswith(self.prefixes)
        if not traced:
            return None
        self._current.add((filename, frame.f_lineno))
        return self._trace_lines

    def _trace_lines(self, frame: types.FrameType, event: str, arg: object) -> Any:
        if event == "line":
            self._current.add((frame.f_code.co_filename, frame.f_lineno))
        return self._trace_lines

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Iterator[None]:
        self._current = set()
        started = time.perf_counter()
        sys.settrace(self._trace)
        threading.settrace(self._trace)
        try:
            yield
        finally:
            sys.settrace(None)
            threading.settrace(None)
            self.seconds[item.nodeid] = time.perf_counter() - started
            self.lines[item.nodeid] = self._current

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            self.failed.append(report.nodeid)


def _silence() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def _pytest_main(args: list[str], plugins: list[object]) -> int:
    os.chdir(ROOT)
    return int(pytest.main(args, plugins=plugins))


def _fork(child: Any) -> int:
    """Run ``child()`` in a forked process of its own group; its return value is the exit code."""
    pid = os.fork()
    if pid == 0:  # the child
        code = _CHILD_FAILED
        try:
            os.setpgid(0, 0)
            code = int(child())
        except BaseException:  # whatever happens, the child must end here
            code = _CHILD_FAILED
        finally:
            os._exit(code)
    return pid


def _wait(pid: int, timeout: float | None) -> int | None:
    """The child's exit code, or None when it ran past ``timeout`` (it is then killed)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if deadline is not None and time.monotonic() > deadline:
            _kill(pid)
            return None
        time.sleep(POLL_SECONDS)


# --- the baseline ---------------------------------------------------------------------------


@frozen
class Baseline:
    lines: dict[str, set[tuple[str, int]]]  # test -> (absolute file, line) it executes
    seconds: dict[str, float]
    modules: list[str]  # third-party modules the tests import
    wall_seconds: float


def _traced_roots(config: Config) -> list[Path]:
    """The project's sources and its test directories: what the baseline records."""
    roots = [ROOT / root for root in config.source_roots]
    for selection in config.tests:
        if not selection.startswith("-"):
            top = ROOT / Path(selection.split("::", 1)[0]).parts[0]
            if top not in roots:
                roots.append(top)
    return roots


def _baseline(config: Config, log: Path) -> Baseline:
    prefixes = tuple(f"{root}{os.sep}" for root in _traced_roots(config))
    out = log.with_suffix(".json")

    def child() -> int:
        with log.open("w") as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
        recorder = _LineRecorder(prefixes)
        args = [*config.tests, *config.pytest_args, "-q", "-p", "no:cacheprovider"]
        code = _pytest_main(args, [recorder])
        own = (*prefixes, f"{ROOT / 'tools'}{os.sep}")
        modules = sorted(
            name
            for name, module in list(sys.modules.items())
            if not str(getattr(module, "__file__", "") or "").startswith(own) and name != "__main__"
        )
        out.write_text(
            json.dumps(
                {
                    "failed": recorder.failed,
                    "lines": {k: sorted(v) for k, v in recorder.lines.items()},
                    "seconds": recorder.seconds,
                    "modules": modules,
                }
            )
        )
        return code

    started = time.monotonic()
    code = _wait(_fork(child), None)
    wall = time.monotonic() - started
    if not out.exists():
        raise RuntimeError(f"the baseline run crashed (exit {code}); see {log}")
    data = json.loads(out.read_text())
    if code != 0 or data["failed"]:
        failed = ", ".join(data["failed"][:5]) or f"exit {code}"
        raise RuntimeError(f"the unmutated tests fail ({failed}); see {log}")
    return Baseline(
        lines={k: {(f, n) for f, n in v} for k, v in data["lines"].items()},
        seconds=data["seconds"],
        modules=data["modules"],
        wall_seconds=wall,
    )


def _warm(modules: list[str]) -> None:
    """Import in the parent what every child would import anyway (never the project's own)."""
    for name in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


# --- the mutants ----------------------------------------------------------------------------


def _selected(test: str, selection: Sequence[str]) -> bool:
    """Whether pytest argument list ``selection`` (paths or node ids) includes node ``test``."""
    path = test.split("::", 1)[0]
    for chosen in selection:
        if chosen.startswith("-"):
            continue
        if test == chosen or test.startswith(chosen + "::") or test.startswith(chosen + "["):
            return True
        base = chosen.rstrip("/")
        if "::" not in base and (path == base or path.startswith(base + "/")):
            return True
    return False


@frozen
class _Job:
    mutant: Mutant
    target: Target
    tests: list[str]
    timeout: float


class _References:
    """Where each identifier is read, in the project's sources and its tests (parsed once)."""

    def __init__(self, roots: list[Path]) -> None:
        self.lines: dict[str, set[tuple[str, int]]] = {}
        for root in roots:
            for path in sorted(root.rglob("*.py")):
                try:
                    tree = ast.parse(path.read_text(), filename=str(path))
                except (SyntaxError, UnicodeDecodeError):
                    continue
                for node in ast.walk(tree):
                    if isinstance(node, ast.Name):
                        self._add(node.id, path, [node.lineno])
                    elif isinstance(node, ast.Attribute):
                        self._add(node.attr, path, [node.lineno])
                    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                        self._add_defaults(node, path)

    def _add(self, name: str, path: Path, lines: list[int]) -> None:
        found = self.lines.setdefault(name, set())
        found.update((str(path), line) for line in lines)

    def _add_defaults(self, node: ast.FunctionDef | ast.AsyncFunctionDef, path: Path) -> None:
        """A name in a default value is read by every call: where a call is seen to run."""
        defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
        if not defaults:
            return
        body = [s for s in node.body if not (isinstance(s, ast.Expr) and _is_text(s.value))]
        lines = [
            node.lineno,
            *(d.lineno for d in node.decorator_list),
            *(s.lineno for s in body[:1]),
        ]
        for default in defaults:
            for name in referenced_names(default):
                self._add(name, path, lines)

    def of(self, names: set[str]) -> set[tuple[str, int]]:
        found: set[tuple[str, int]] = set()
        for name in names:
            found |= self.lines.get(name, set())
        return found


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _import_level_statements(tree: ast.Module) -> Iterator[ast.stmt]:
    """Statements run at import, class bodies included; function bodies are not."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        statement = pending.pop(0)
        if isinstance(statement, ast.ClassDef):
            pending.extend(statement.body)
        if not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            yield statement


def _affected(names: tuple[str, ...], tree: ast.Module) -> set[str]:
    """``names`` and what the module defines from them at import (``B = A + 16``), transitively."""
    affected = set(names)
    statements = list(_import_level_statements(tree))
    grew = True
    while grew:
        grew = False
        for statement in statements:
            value = getattr(statement, "value", None)
            read = referenced_names(value) if value is not None else set()
            if isinstance(statement, ast.ClassDef):
                read = referenced_names(statement)
            if read & affected:
                new = bound_names(statement) - affected
                if new:
                    affected |= new
                    grew = True
    return affected


def _plan(
    config: Config,
    baseline: Baseline,
    references: _References,
    target: Target,
    source: str,
) -> list[_Job]:
    in_selection = [t for t in baseline.lines if _selected(t, target.tests)]
    absolute = str(ROOT / target.path)
    tree = ast.parse(source)
    jobs: list[_Job] = []
    for mutant in mutants(target.path, source):
        if mutant.at_import:
            wanted = references.of(_affected(mutant.names, tree))
        else:
            wanted = {(absolute, line) for line in mutant.lines}
        chosen = [t for t in in_selection if baseline.lines[t] & wanted]
        chosen.sort(key=lambda t: baseline.seconds.get(t, 0.0))
        expected = sum(baseline.seconds.get(t, 0.0) for t in chosen)
        timeout = config.timeout_slack_seconds + config.timeout_factor * expected
        jobs.append(_Job(mutant=mutant, target=target, tests=chosen, timeout=timeout))
    return jobs


def _start(config: Config, job: _Job, source: str) -> int:
    tree = mutated_tree(job.target.path, source, job.mutant.ordinal)
    path = ROOT / job.target.path
    code = compile(tree, str(path), "exec", dont_inherit=True)

    def child() -> int:
        _silence()
        sys.meta_path.insert(0, _MutatedModule(job.target.module, path, code))
        args = [*job.tests, *config.pytest_args, "-x", "-q", "-p", "no:cacheprovider"]
        return _pytest_main(args, [])

    return _fork(child)


class _Progress:
    """One character per mutant: ``.`` killed, ``T`` timed out, ``S`` survived; or one line."""

    def __init__(self, verbose: bool) -> None:
        self.done = 0
        self.verbose = verbose

    def step(self, result: Result) -> None:
        self.done += 1
        if self.verbose:
            mutant = result.mutant
            print(
                f"{result.outcome:>15} {result.seconds:6.1f} s {result.tests:4} tests  "
                f"{mutant.path}:{mutant.line} {mutant.describe()}",
                flush=True,
            )
            return
        mark = {Outcome.KILLED: ".", Outcome.TIMED_OUT: "T", Outcome.LISTED: "e"}.get(
            result.outcome, "S"
        )
        print(mark, end="\n" if self.done % 80 == 0 else "", flush=True)


_CHILD_FAILED: Final = 71


def _outcome(code: int, mutant: Mutant) -> str:
    """What a child's exit code says. The unmutated baseline passed with the same tests and
    arguments, so any failure (failed tests, a module that no longer imports, test ids that no
    longer exist, a crash) is the mutant's doing."""
    if code == 0:
        return Outcome.SURVIVED
    if code != _CHILD_FAILED:
        return Outcome.KILLED
    raise RuntimeError(
        f"the child for {mutant.path}:{mutant.line} {mutant.describe()} failed before pytest "
        "ran; re-run it with --only and --verbose"
    )


def _execute(
    config: Config,
    jobs: list[_Job],
    sources: dict[str, str],
    verbose: bool,
    skipped: frozenset[str],
) -> list[Result]:
    results: list[Result] = []
    progress = _Progress(verbose)
    for job in jobs:
        if not job.tests or job.mutant.id in skipped:
            outcome = Outcome.UNCOVERED if not job.tests else Outcome.LISTED
            result = Result(job.mutant, outcome, 0.0, 0)
            results.append(result)
            progress.step(result)
    pending = [j for j in jobs if j.tests and j.mutant.id not in skipped]
    running: dict[int, tuple[_Job, float]] = {}
    try:
        while pending or running:
            while pending and len(running) < config.jobs:
                job = pending.pop(0)
                running[_start(config, job, sources[job.target.path])] = (job, time.monotonic())
            for pid, (job, started) in list(running.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                elapsed = time.monotonic() - started
                if not done and elapsed <= job.timeout:
                    continue
                del running[pid]
                if done:
                    outcome = _outcome(os.waitstatus_to_exitcode(status), job.mutant)
                else:
                    _kill(pid)
                    outcome = Outcome.TIMED_OUT
                result = Result(job.mutant, outcome, elapsed, len(job.tests))
                results.append(result)
                progress.step(result)
            time.sleep(POLL_SECONDS)
    finally:
        for pid in running:
            _kill(pid)
    print()
    return results


def _kill(pid: int) -> None:
    """End a child and whatever it started (its own process group), and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def run(
    config: Config,
    only: Sequence[str] = (),
    *,
    verbose: bool = False,
    skipped: frozenset[str] = frozenset(),
) -> tuple[list[Result], float]:
    """Every mutant of the configured targets (or of those in ``only``), and the baseline time.
    Mutants whose id is in ``skipped`` are not run (their outcome is ``Outcome.LISTED``)."""
    targets = [t for t in config.targets if not only or t.path in only or t.module in only]
    if not targets:
        raise ValueError(f"no configured target matches {list(only)}")
    # Hypothesis keeps the examples that failed on a mutant: keep them out of the project's own.
    work = Path(tempfile.mkdtemp(prefix="mutants-"))
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(work / "hypothesis"))
    log = work / "baseline.log"
    print(f"baseline: {' '.join(config.tests)}", flush=True)
    try:
        baseline = _baseline(config, log)
    except RuntimeError:
        print(log.read_text() if log.exists() else "(no log)", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
        raise
    print(
        f"baseline: {len(baseline.lines)} tests in {baseline.wall_seconds:.1f} s; "
        f"warming {len(baseline.modules)} modules",
        flush=True,
    )
    _warm(baseline.modules)
    sources = {t.path: (ROOT / t.path).read_text() for t in targets}
    references = _References(_traced_roots(config))
    jobs: list[_Job] = []
    for target in targets:
        jobs.extend(_plan(config, baseline, references, target, sources[target.path]))
    print(f"{len(jobs)} mutants in {len(targets)} modules, {config.jobs} at a time", flush=True)
    try:
        return _execute(config, jobs, sources, verbose, skipped), baseline.wall_seconds
    finally:
        shutil.rmtree(work, ignore_errors=True)

"""A throw-away PostgreSQL cluster for the tests: one per session, one fresh database per test.

PostgreSQL refuses to run as root, and CI runs the tests as root: the cluster then runs as an
unprivileged system user (created on first use) and its data directory lives in a temporary
directory owned by that user. It listens on 127.0.0.1 only, on a free port, with trust
authentication on loopback and fsync on (the crash-safety tests rely on committed data being
durable). Missing binaries are a failure with a clear message, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from psycopg import sql

CLUSTER_USER = "lwtokens-pg"
SUPERUSER = "postgres"
_BINARIES = ("initdb", "pg_ctl", "postgres")
_SEARCH_DIRS = ("/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")


class ClusterError(RuntimeError):
    """The throw-away cluster could not be created or started."""


def find_binaries() -> dict[str, str]:
    """Paths of initdb, pg_ctl and postgres; raises ``ClusterError`` naming what is missing."""
    found: dict[str, str] = {}
    for name in _BINARIES:
        path = shutil.which(name)
        if path is None:
            for directory in _SEARCH_DIRS:
                candidate = Path(directory) / name
                if candidate.is_file() and os.access(candidate, os.X_OK):
                    path = str(candidate)
                    break
        if path is not None:
            found[name] = path
    missing = [name for name in _BINARIES if name not in found]
    if missing:
        raise ClusterError(
            "the PostgreSQL tests need the PostgreSQL 15 server binaries "
            f"({', '.join(missing)} not found on PATH or in {', '.join(_SEARCH_DIRS)}); "
            "install them, e.g. `apt-get install postgresql-15`"
        )
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ensure_cluster_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(CLUSTER_USER)
    except KeyError:
        pass
    result = subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            CLUSTER_USER,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        # Exit 9: another process created the user first, which is just as good.
        return pwd.getpwnam(CLUSTER_USER)
    except KeyError:
        raise ClusterError(
            f"cannot create the system user {CLUSTER_USER!r} to run PostgreSQL as "
            f"(PostgreSQL refuses root): {result.stderr.strip() or result.returncode}"
        ) from None


class PostgresCluster:
    """A PostgreSQL cluster in a temporary directory. Use as a context manager."""

    def __init__(self) -> None:
        self.binaries = find_binaries()
        self.root = Path(tempfile.mkdtemp(prefix="lwtokens-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_file = self.root / "postgres.log"
        self.port = 0
        self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-database")
        self._run_as: list[str] = []
        if os.geteuid() == 0:
            user = _ensure_cluster_user()
            self._run_as = ["runuser", "-u", CLUSTER_USER, "--"]
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.socket_dir.mkdir()
        if self._run_as:
            user = pwd.getpwnam(CLUSTER_USER)
            os.chown(self.socket_dir, user.pw_uid, user.pw_gid)

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [*self._run_as, *args]
        result = subprocess.run(
            command,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
        )
        if result.returncode != 0:
            raise ClusterError(
                f"{Path(args[0]).name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        try:
            return "\nserver log:\n" + self.log_file.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def start(self) -> None:
        self._run(
            self.binaries["initdb"],
            "--pgdata",
            str(self.data_dir),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            # Only initdb's own flush is skipped, to save seconds; the running server fsyncs.
            "--no-sync",
        )
        (self.data_dir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        )
        last_error: ClusterError | None = None
        for _ in range(5):
            self.port = _free_port()
            self._write_settings()
            try:
                self._run(
                    self.binaries["pg_ctl"],
                    "--pgdata",
                    str(self.data_dir),
                    "--log",
                    str(self.log_file),
                    "--wait",
                    "--timeout",
                    "60",
                    "start",
                )
            except ClusterError as exc:
                # Most likely the port was taken between probing and binding: try another.
                last_error = exc
                continue
            return
        raise last_error or ClusterError("PostgreSQL did not start")

    def _write_settings(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
            "shared_buffers": "16MB",
            "max_connections": "200",
            "dynamic_shared_memory_type": "mmap",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        auto = "".join(f"{name} = {value}\n" for name, value in settings.items())
        (self.data_dir / "postgresql.auto.conf").write_text(auto)
        if self._run_as:
            user = pwd.getpwnam(CLUSTER_USER)
            for name in ("postgresql.auto.conf", "pg_hba.conf"):
                os.chown(self.data_dir / name, user.pw_uid, user.pw_gid)

    def stop(self) -> None:
        self._dropper.shutdown(wait=True)
        if (self.data_dir / "postmaster.pid").exists():
            try:
                self._run(
                    self.binaries["pg_ctl"],
                    "--pgdata",
                    str(self.data_dir),
                    "--mode",
                    "fast",
                    "--wait",
                    "stop",
                    timeout=60,
                )
            except (ClusterError, subprocess.TimeoutExpired):
                self._kill_postmaster()
        shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGQUIT)
            time.sleep(1)

    def __enter__(self) -> PostgresCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @contextlib.contextmanager
    def fresh_database(self) -> Iterator[str]:
        """A new empty database for one test, dropped afterwards, connections and all.

        The drop (which waits for a checkpoint) runs in the background so the next test does
        not wait for it; ``stop`` lets pending drops finish first.
        """
        name = f"test_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.dsn(), autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield self.dsn(name)
        finally:
            self._dropper.submit(self._drop, name)

    def _drop(self, name: str) -> None:
        with psycopg.connect(self.dsn(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

"""A real backend for tests and examples: ``run_backend(tmp_path)``.

```python
from lacework_tokens.testing import run_backend

with run_backend(tmp_path) as backend:
    client = backend.client()          # or requests against backend.url
    ...
```

The backend is a separate ``lacework-tokens serve`` process on a free 127.0.0.1 port, with its
database, keys and logs under ``tmp_path``. Its admin API key is generated once per directory and
reused: entering ``run_backend`` again with the same directory restarts the same backend, with
every token and key it had.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import requests

from lacework_tokens.files import write_private

if TYPE_CHECKING:
    from lacework_tokens.client import Client

__all__ = ["Backend", "BackendStartError", "hermetic_terraform_environment", "run_backend"]

START_TIMEOUT_SECONDS: Final = 30.0
STOP_TIMEOUT_SECONDS: Final = 10.0
_LISTENING: Final = "listening on "
_CERTIFICATE: Final = "Self-signed certificate: "
_CREDENTIALS_FILE: Final = "test-credentials.json"


class BackendStartError(RuntimeError):
    """The backend process did not come up; the message includes what it wrote to stderr."""


class Backend:
    """A running backend process and what a client needs to reach it."""

    def __init__(
        self,
        *,
        url: str,
        account: str,
        api_key: str,
        api_secret: str,
        db_path: Path,
        cert_path: Path | None,
        process: subprocess.Popen[bytes],
        stdout_path: Path,
        stderr_path: Path,
    ) -> None:
        self.url = url
        self.account = account
        self.api_key = api_key
        self.api_secret = api_secret
        self.db_path = db_path
        self.cert_path = cert_path
        self.process = process
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path

    def __repr__(self) -> str:
        return f"Backend(url={self.url!r}, account={self.account!r}, api_key={self.api_key!r})"

    @property
    def verify(self) -> str | bool:
        """What to pass as ``requests``' ``verify=`` to trust this backend."""
        return str(self.cert_path) if self.cert_path else True

    def env(self) -> dict[str, str]:
        """``LW_*`` variables pointing a Lacework client at this backend (and the CA, for TLS)."""
        env = {
            "LW_ACCOUNT": self.account,
            "LW_API_KEY": self.api_key,
            "LW_API_SECRET": self.api_secret,
            "LW_API_SERVER_URL": self.url,
        }
        if self.cert_path is not None:
            env["REQUESTS_CA_BUNDLE"] = str(self.cert_path)
            env["SSL_CERT_FILE"] = str(self.cert_path)
        return env

    def client(self, **overrides: Any) -> Client:
        """A ``lacework_tokens.Client`` for this backend (with TLS, set ``REQUESTS_CA_BUNDLE``
        from ``env()`` first)."""
        from lacework_tokens import Client

        settings: dict[str, Any] = {
            "account": self.account,
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "base_url": self.url,
        }
        settings.update(overrides)
        client: Client = Client(**settings)
        return client

    def output(self) -> str:
        """What the server printed on stdout so far."""
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def logs(self) -> str:
        """What the server wrote on stderr so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


def _credentials(state_dir: Path, account: str) -> tuple[str, str]:
    path = state_dir / _CREDENTIALS_FILE
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("account") == account:
            return str(saved["keyId"]), str(saved["secret"])
    key_id = f"{account.upper()}_{secrets.token_hex(16).upper()}"
    secret = f"_{secrets.token_hex(16)}"
    write_private(path, json.dumps({"keyId": key_id, "secret": secret, "account": account}))
    return key_id, secret


def _wait_for_url(
    process: subprocess.Popen[bytes], stdout_path: Path, offset: int, deadline: float
) -> str | None:
    while time.monotonic() < deadline:
        with stdout_path.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", errors="replace")
        for line in text.splitlines():
            if line.startswith(_LISTENING):
                return line[len(_LISTENING) :].strip()
        if process.poll() is not None:
            return None
        time.sleep(0.02)
    return None


def _printed_certificate(stdout_path: Path, offset: int) -> Path | None:
    """Where the server says it wrote its certificate (next to a SQLite file, or in
    ``.lacework-tokens/`` of its working directory with PostgreSQL)."""
    with stdout_path.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode("utf-8", errors="replace")
    for line in text.splitlines():
        if line.startswith(_CERTIFICATE):
            return Path(line[len(_CERTIFICATE) :].strip())
    return None


def _limit_open_files(limit: tuple[int, int]) -> Callable[[], None]:
    def apply() -> None:  # runs in the child, between fork and exec
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, limit)

    return apply


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(path: Path, offset: int, limit: int = 4000) -> str:
    with path.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode("utf-8", errors="replace")
    return text[-limit:].strip() or "(nothing)"


@contextlib.contextmanager
def run_backend(
    tmp_path: Path,
    *,
    account: str = "local",
    tls: bool = False,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    open_files: tuple[int, int] | None = None,
) -> Iterator[Backend]:
    """Start ``lacework-tokens serve`` on a free loopback port; stop it on exit.

    ``tls=True`` serves https with a self-signed certificate (``backend.cert_path``).
    ``extra_args`` are appended to the command line; ``env`` adds environment variables;
    ``open_files`` starts the server with these soft and hard limits on open files (POSIX).
    """
    tmp_path = Path(tmp_path)
    state_dir = tmp_path / "lacework-tokens"
    db_path = state_dir / "tokens.db"
    api_key, api_secret = _credentials(state_dir, account)
    stdout_path = tmp_path / "lacework-tokens-serve.out"
    stderr_path = tmp_path / "lacework-tokens-serve.err"
    command = [
        sys.executable,
        "-m",
        "lacework_tokens",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--db",
        str(db_path),
        "--account",
        account,
        "--api-key",
        api_key,
        *(["--tls-self-signed"] if tls else []),
        *extra_args,
    ]
    # The secret goes in the environment, never on the command line (where `ps` shows it).
    child_env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "LACEWORK_TOKENS_API_SECRET": api_secret,
        **(env or {}),
    }
    with stdout_path.open("ab") as stdout, stderr_path.open("ab") as stderr:
        stdout_offset, stderr_offset = stdout.tell(), stderr.tell()
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
            env=child_env,
            preexec_fn=None if open_files is None else _limit_open_files(open_files),
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        url = _wait_for_url(process, stdout_path, stdout_offset, deadline)
        if url is None:
            _stop(process)
            raise BackendStartError(
                f"lacework-tokens serve did not start (exit code {process.returncode}); "
                f"stderr:\n{_tail(stderr_path, stderr_offset)}"
            )
        cert_path = _printed_certificate(stdout_path, stdout_offset) if tls else None
        backend = Backend(
            url=url,
            account=account,
            api_key=api_key,
            api_secret=api_secret,
            db_path=db_path,
            cert_path=cert_path,
            process=process,
            stdout_path=stdout_path,
            stderr_path=stderr_path,
        )
        health = requests.get(f"{url}/healthz", timeout=10, verify=backend.verify)
        if health.status_code != 200:
            raise BackendStartError(
                f"lacework-tokens serve answered /healthz with {health.status_code}; "
                f"stderr:\n{_tail(stderr_path, stderr_offset)}"
            )
        yield backend
    finally:
        _stop(process)


def hermetic_terraform_environment(home: Path) -> dict[str, str]:
    """This process's environment for running ``terraform`` against a backend, hermetically.

    Lacework (``LW_*``) and Terraform (``TF_*``) settings are dropped and ``HOME`` points at
    ``home``, so neither a user's ``~/.lacework.toml``, ``~/.terraformrc`` nor their plugin cache
    leaks in; add ``backend.env()`` and ``TF_CLI_CONFIG_FILE`` on top.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LW_", "TF_")) and key not in {"HOME", "XDG_CACHE_HOME"}
    }
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
    )
    return env

"""``lacework-tokens serve`` as a user meets it: first start, restarts, signals, bad arguments."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from wire_calls import ACCESS_TOKENS, TOKENS, Wire, assert_error, bearer_token

from lacework_tokens.cli.serve import API_SECRET_ENV
from lacework_tokens.testing import run_backend
from lacework_tokens.wire import mask

EXPORT = re.compile(
    r"^export LW_ACCOUNT=(\S+) LW_API_KEY=(\S+) LW_API_SECRET=(\S+) LW_API_SERVER_URL=(\S+)$",
    re.MULTILINE,
)
SERVE = [sys.executable, "-m", "lacework_tokens", "serve"]


class Served:
    def __init__(self, process: subprocess.Popen[bytes], url: str, out: Path, err: Path) -> None:
        self.process = process
        self.url = url
        self.out = out
        self.err = err

    def stdout(self) -> str:
        return self.out.read_text()

    def stderr(self) -> str:
        return self.err.read_text()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(30)


@contextlib.contextmanager
def serve(cwd: Path, *args: str, run: str = "1") -> Iterator[Served]:
    """``lacework-tokens serve --port 0 ARGS`` in ``cwd``, once it says where it listens."""
    out, err = cwd / f"serve-{run}.out", cwd / f"serve-{run}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [*SERVE, "--port", "0", *args], cwd=cwd, stdout=stdout, stderr=stderr
        )
    try:
        deadline = time.monotonic() + 30
        url = None
        while url is None and time.monotonic() < deadline and process.poll() is None:
            found = re.search(r"^listening on (\S+)$", out.read_text(), re.MULTILINE)
            url = found.group(1) if found else None
            time.sleep(0.02)
        assert url is not None, f"serve did not start: {err.read_text()}"
        yield Served(process, url, out, err)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_first_start_creates_an_admin_key_and_prints_it_once(tmp_path: Path) -> None:
    with serve(tmp_path, run="first") as first:
        printed = EXPORT.search(first.stdout())
        assert printed is not None, first.stdout()
        account, key_id, secret, url = printed.groups()
        assert (account, url) == ("local", first.url)
        assert url.startswith("http://127.0.0.1:")

        state = tmp_path / ".lacework-tokens"
        key_file = state / "local-api-key.json"
        assert json.loads(key_file.read_text()) == {
            "keyId": key_id,
            "secret": secret,
            "account": "local",
            "subAccount": "",
        }
        for private in (key_file, state / "secrets.key"):
            assert stat.S_IMODE(private.stat().st_mode) == 0o600
        assert (state / "tokens.db").is_file()

        answer = requests.post(
            f"{url}{ACCESS_TOKENS}",
            json={"keyId": key_id, "expiryTime": 3600},
            headers={"X-LW-UAKS": secret},
            timeout=10,
        )
        assert answer.status_code == 201
        bearer = answer.json()["token"]
        created = requests.post(
            f"{url}{TOKENS}",
            json={"tokenAlias": "kept"},
            headers={"Authorization": bearer},
            timeout=10,
        )
        assert created.status_code == 201
        assert first.stop(signal.SIGTERM) == 0
        assert "Traceback" not in first.stderr()
        assert secret not in first.stderr()

    with serve(tmp_path, run="second") as second:
        shown = second.stdout()
        assert secret not in shown and "LW_API_SECRET" not in shown
        assert str(Path(".lacework-tokens") / "local-api-key.json") in shown
        # The bearer issued before the restart still works, and the token is still there.
        listed = requests.get(
            f"{second.url}{TOKENS}", headers={"Authorization": bearer}, timeout=10
        )
        assert [t["tokenAlias"] for t in listed.json()["data"]] == ["kept"]
        assert second.stop(signal.SIGINT) == 0
        assert "Traceback" not in second.stderr()


def test_every_token_and_key_survives_a_restart(tmp_path: Path) -> None:
    with run_backend(tmp_path) as backend:
        api = Wire(backend)
        kept = [api.create(f"keep-{n}", description=f"d{n}", os="windows") for n in range(4)]
        api.patch(kept[1]["accessToken"], {"tokenEnabled": 0})
        api.patch(kept[2]["accessToken"], {"tokenAlias": "renamed", "props": {"description": "x"}})
        before = api.list()
        bearer = api.bearer
    with run_backend(tmp_path) as again:
        assert again.api_key == backend.api_key
        after = Wire(again)
        assert after.list() == before
        for token in before:
            assert after.get(token["accessToken"]).json()["data"] == token
        listed = requests.get(f"{again.url}{TOKENS}", headers={"Authorization": bearer}, timeout=10)
        assert listed.json()["data"] == before


def test_api_key_flags_ensure_the_key_and_generate_none(tmp_path: Path) -> None:
    with run_backend(tmp_path, account="acme") as backend:
        shown = backend.output()
        assert f"API key {backend.api_key} for account acme" in shown
        assert "LW_API_SECRET" not in shown and backend.api_secret not in shown
        assert not list((tmp_path / "lacework-tokens").glob("*-api-key.json"))
        assert bearer_token(backend)
    with run_backend(tmp_path, account="acme") as again:
        assert "already present" in again.output()
        assert bearer_token(again)


def test_api_key_with_another_secret_is_refused_at_start(tmp_path: Path) -> None:
    with run_backend(tmp_path) as backend:
        pass
    another = "_" + secrets.token_hex(16)
    secret_file = tmp_path / "another-secret"
    secret_file.write_text(another + "\n")
    result = subprocess.run(
        [
            *SERVE,
            "--port",
            "0",
            "--db",
            str(backend.db_path),
            "--api-key",
            backend.api_key,
            "--api-secret-file",
            str(secret_file),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and backend.api_key in lines[0]
    assert "already exists with another secret" in lines[0]
    assert another not in result.stderr and backend.api_secret not in result.stderr


# --- where the secret of --api-key comes from, and what it must be ------------------------------


def serve_once(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """``serve`` expected to stop on its own (it refuses to start)."""
    return subprocess.run(
        [*SERVE, "--port", "0", "--api-key", "OPS_KEY", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    "weak", ["Winter2026!", "changeme-changeme-changeme-changeme", "0" * 40, "a1" * 20]
)
def test_a_secret_that_is_not_random_enough_is_refused_and_nothing_is_stored(
    tmp_path: Path, weak: str
) -> None:
    secret_file = tmp_path / "weak"
    secret_file.write_text(weak + "\n")
    result = serve_once(tmp_path, "--api-secret-file", str(secret_file))
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("lacework-tokens serve: error: --api-key OPS_KEY: The API secret ")
    assert "128 random bits" in line
    assert weak not in result.stderr + result.stdout
    database = tmp_path / ".lacework-tokens" / "tokens.db"
    with contextlib.closing(sqlite3.connect(database)) as connection:
        assert connection.execute("SELECT count(*) FROM api_keys").fetchone()[0] == 0


@pytest.mark.parametrize("source", ["file", "environment", "command line"])
def test_the_secret_comes_from_a_file_the_environment_or_with_a_warning_the_command_line(
    tmp_path: Path, source: str
) -> None:
    secret = "_" + secrets.token_hex(16)
    args: list[str] = ["--api-key", "OPS_0123456789ABCDEF0123456789ABCDEF"]
    env = {key: value for key, value in os.environ.items() if key != API_SECRET_ENV}
    if source == "file":
        (tmp_path / "secret").write_text(secret + "\n")
        args += ["--api-secret-file", str(tmp_path / "secret")]
    elif source == "environment":
        env[API_SECRET_ENV] = secret
    else:
        args += ["--api-secret", secret]
    process = subprocess.Popen(
        [*SERVE, "--port", "0", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        while not line.startswith("listening on "):
            assert line, "serve stopped before it listened"
            line = process.stdout.readline()
        url = line.removeprefix("listening on ").strip()
        login = requests.post(
            f"{url}/api/v2/access/tokens",
            json={"keyId": "OPS_0123456789ABCDEF0123456789ABCDEF"},
            headers={"X-LW-UAKS": secret},
            timeout=30,
        )
        shown_to_ps = secret in Path(f"/proc/{process.pid}/cmdline").read_text()
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert login.status_code == 201, login.text
    assert shown_to_ps == (source == "command line")
    warned = "--api-secret shows the secret to every user of this machine" in stderr
    assert warned == (source == "command line")
    assert secret not in stderr


def test_the_secret_is_given_one_way_only(tmp_path: Path) -> None:
    secret = "_" + secrets.token_hex(16)
    (tmp_path / "secret").write_text(secret)
    result = serve_once(
        tmp_path, "--api-secret-file", str(tmp_path / "secret"), env={API_SECRET_ENV: secret}
    )
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert line == (
        "lacework-tokens serve: error: give the API secret one way only, not "
        f"--api-secret-file and {API_SECRET_ENV}"
    )
    missing = serve_once(tmp_path, "--api-secret-file", str(tmp_path / "missing"))
    assert "--api-secret-file" in missing.stderr and "No such file" in missing.stderr


def test_run_backend_keeps_the_secret_off_the_command_line(tmp_path: Path) -> None:
    with run_backend(tmp_path) as backend:
        command_line = Path(f"/proc/{backend.process.pid}/cmdline").read_text()
    assert backend.api_key in command_line
    assert backend.api_secret not in command_line


@pytest.mark.parametrize(
    "args",
    [
        ["--api-key", "K"],
        ["--api-secret", "S"],
        ["--tls-cert", "cert.pem"],
        ["--tls-cert", "missing.pem", "--tls-key", "missing.key"],
        ["--tls-self-signed", "--tls-cert", "a.pem", "--tls-key", "b.pem"],
        ["--port", "70000"],
        ["--port", "http"],
        ["--account", "bad/name"],
        ["--log-level", "loud"],
        ["--secrets-key", "."],
    ],
)
def test_bad_arguments_are_one_error_line_and_a_failing_exit(
    tmp_path: Path, args: list[str]
) -> None:
    result = subprocess.run(
        [*SERVE, *args], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("lacework-tokens serve: error: ")
    assert result.stdout == ""


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*SERVE, "--port", str(port)], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("lacework-tokens serve: error: cannot listen on ")
    assert f"127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_log_masks_token_values_and_holds_no_secret(tmp_path: Path) -> None:
    with run_backend(tmp_path, extra_args=["--log-level", "debug"]) as backend:
        api = Wire(backend, raw=True)
        token = api.create("logged")["accessToken"]
        assert api.get(token).status_code == 200
        assert api.patch(token, {"tokenEnabled": 0}).status_code == 200
        assert_error(api.get("f" * 56), 404)
    logs = backend.logs()
    assert f"GET /api/v2/AgentAccessTokens/{mask(token)} 200" in logs
    assert f"PATCH /api/v2/AgentAccessTokens/{mask(token)} 200" in logs
    for secret in (token, api.bearer, backend.api_secret, "f" * 56):
        assert secret not in logs


def test_stops_cleanly_while_a_tls_client_holds_an_idle_connection(tmp_path: Path) -> None:
    session = requests.Session()
    with run_backend(tmp_path, tls=True) as backend:
        assert session.get(f"{backend.url}/healthz", verify=backend.verify, timeout=10).ok
    # Stopped by SIGTERM, not killed after the helper's patience ran out.
    assert backend.process.returncode == 0
    assert "Traceback" not in backend.logs()
    session.close()


def test_key_file_and_account_flags_choose_where_and_for_whom(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "acme.json"
    with serve(tmp_path, "--account", "acme", "--key-file", str(key_file)) as served:
        printed = EXPORT.search(served.stdout())
        assert printed is not None
        saved = json.loads(key_file.read_text())
        assert (saved["account"], saved["keyId"], saved["secret"]) == printed.groups()[:3]
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert not list((tmp_path / ".lacework-tokens").glob("*-api-key.json"))
        answer = requests.post(
            f"{served.url}{ACCESS_TOKENS}",
            json={"keyId": saved["keyId"]},
            headers={"X-LW-UAKS": saved["secret"]},
            timeout=10,
        )
        assert answer.status_code == 201
        assert served.stop() == 0


def test_serves_https_with_a_given_certificate(tmp_path: Path) -> None:
    from lacework_tokens.server.runner import generate_self_signed

    cert, key = tmp_path / "given.pem", tmp_path / "given-key.pem"
    generate_self_signed(cert, key)
    with serve(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key)) as served:
        assert served.url.startswith("https://127.0.0.1:")
        printed = EXPORT.search(served.stdout())
        assert printed is not None and printed.group(4) == served.url
        answer = requests.get(f"{served.url}/healthz", verify=str(cert), timeout=10)
        assert answer.json() == {"status": "ok"}
        assert served.stop() == 0


@pytest.mark.postgres
def test_postgresql_backend_keeps_its_files_in_the_working_directory(
    tmp_path: Path, postgres_dsn: str
) -> None:
    with run_backend(tmp_path, tls=True, extra_args=["--db", postgres_dsn]) as backend:
        assert backend.cert_path == tmp_path / ".lacework-tokens" / "cert.pem"
        assert (tmp_path / ".lacework-tokens" / "secrets.key").is_file()
        api = Wire(backend)
        created = api.create("on-postgres")
        assert api.get(created["accessToken"]).json()["data"] == created
        password = urlsplit(postgres_dsn).password
        if password:
            assert password not in backend.output() + backend.logs()

"""``lacework-tokens serve`` as a user meets it: first start, restarts, signals, bad arguments."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from wire_calls import ACCESS_TOKENS, TOKENS, Wire, assert_error, bearer_token

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
    result = subprocess.run(
        [
            *SERVE,
            "--port",
            "0",
            "--db",
            str(backend.db_path),
            "--api-key",
            backend.api_key,
            "--api-secret",
            "_another-secret",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and backend.api_key in lines[0]
    assert "_another-secret" not in result.stderr and backend.api_secret not in result.stderr


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

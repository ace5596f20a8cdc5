"""A PostgreSQL URL's password never shows in what the commands print, even when they fail."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lacework_tokens.server.storage import reason_without_password, without_password

PASSWORD = "s3cr3t-pw"


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_url_is_shown_without_its_password() -> None:
    url = f"postgresql://alice:{PASSWORD}@db.example:5432/tokens"
    assert without_password(url) == "postgresql://alice:****@db.example:5432/tokens"
    for unchanged in ("postgres://alice@db/tokens", "/var/lib/tokens.db", "tokens.db"):
        assert without_password(unchanged) == unchanged
    failure = RuntimeError(f"cannot reach {url}\nsecond line")
    assert reason_without_password(failure, url) == f"cannot reach {without_password(url)}"
    assert reason_without_password(RuntimeError(), url) == ""


@pytest.mark.parametrize(
    ("command", "shows_url"),
    [(["serve", "--port", "0"], True), (["keys", "list"], False), (["audit"], False)],
)
def test_an_unreachable_database_is_one_line_without_its_password(
    tmp_path: Path, command: list[str], shows_url: bool
) -> None:
    url = f"postgresql://alice:{PASSWORD}@127.0.0.1:{unused_port()}/tokens"
    result = subprocess.run(
        [sys.executable, "-m", "lacework_tokens", *command, "--db", url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert PASSWORD not in result.stdout + result.stderr
    [line] = result.stderr.splitlines()
    assert "127.0.0.1" in line
    assert ("postgresql://alice:****@127.0.0.1" in line) is shows_url

"""The first hour with the command line, as a Lacework user meets it: each test runs the real
``lacework-tokens`` in its own process, as a user types it."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lacework_tokens import wire
from lacework_tokens.testing import Backend, run_backend

LW_VARIABLES = (
    "LW_ACCOUNT",
    "LW_SUBACCOUNT",
    "LW_API_KEY",
    "LW_API_SECRET",
    "LW_API_TOKEN",
    "LW_PROFILE",
    "LW_API_SERVER_URL",
    "LW_ORGANIZATION",
)
PROGRAM = [sys.executable, "-m", "lacework_tokens"]
EXPORT = re.compile(r"^export (LW_ACCOUNT=.*)$", re.MULTILINE)
TABLE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LW_VARIABLES}
    env.update(extra)
    return env


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PROGRAM, *args],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def exported(line: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in line.removeprefix("export ").split())


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with run_backend(tmp_path_factory.mktemp("first-hour")) as running:
        yield running


def token_cli(backend: Backend, *args: str) -> subprocess.CompletedProcess[str]:
    return run("token", *args, env=clean_env(**backend.env()))


def value_of(backend: Backend, name: str) -> str:
    with backend.client() as client:
        found = client.agent_tokens.find(name)
    assert found is not None, name
    return found.token


# --- the first start and the connection settings --------------------------------------------


class Served:
    def __init__(self, process: subprocess.Popen[bytes], out: Path, err: Path) -> None:
        self.process, self.out, self.err = process, out, err

    def stdout(self) -> str:
        return self.out.read_text()

    def stderr(self) -> str:
        return self.err.read_text()

    @property
    def url(self) -> str:
        found = re.search(r"^listening on (\S+)$", self.stdout(), re.MULTILINE)
        assert found is not None
        return found.group(1)


@contextlib.contextmanager
def serve(cwd: Path, *args: str, run_name: str = "1") -> Iterator[Served]:
    """``lacework-tokens serve --port 0`` in ``cwd`` (state in ``cwd/.lacework-tokens``)."""
    out, err = cwd / f"serve-{run_name}.out", cwd / f"serve-{run_name}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [*PROGRAM, "serve", "--port", "0", *args],
            cwd=cwd,
            stdout=stdout,
            stderr=stderr,
            env={**clean_env(), "PYTHONUNBUFFERED": "1"},
        )
    served = Served(process, out, err)
    try:
        deadline = time.monotonic() + 30
        while "Ctrl-C to stop" not in served.stdout():
            assert process.poll() is None and time.monotonic() < deadline, served.stderr()
            time.sleep(0.02)
        yield served
    finally:
        process.terminate()
        process.wait(30)


def on_a_terminal(*args: str, cwd: Path) -> tuple[str, str]:
    """Run with stdout on a pseudo-terminal (as typed in a shell); returns (stdout, stderr)."""
    main, child = pty.openpty()
    try:
        process = subprocess.Popen(
            [*PROGRAM, *args], cwd=cwd, env=clean_env(), stdout=child, stderr=subprocess.PIPE
        )
        os.close(child)
        _, err = process.communicate(timeout=60)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(main)
    return b"".join(chunks).decode().replace("\r\n", "\n"), err.decode()


def test_env_prints_the_settings_again_and_keeps_the_secret_off_a_terminal(
    tmp_path: Path,
) -> None:
    with serve(tmp_path, run_name="first") as first:
        banner = first.stdout()
        printed = EXPORT.search(banner)
        assert printed is not None, banner
        first_line = printed.group(0)
        assert "Ctrl-C to stop." in banner
        assert 'eval "$(' in banner and ' env)"' in banner

    with serve(tmp_path, run_name="again") as again:
        banner = again.stdout()
        assert "LW_API_SECRET" not in banner
        assert 'Connection settings: eval "$(' in banner
        # Piped, as `eval "$(lacework-tokens env)"` reads it: the whole line, with this URL.
        piped = run("env", cwd=tmp_path)
        assert piped.returncode == 0, piped.stderr
        settings = exported(piped.stdout.strip())
        assert settings == {**exported(first_line), "LW_API_SERVER_URL": again.url}

        shown, told = on_a_terminal("env", cwd=tmp_path)
        assert "LW_API_SECRET" not in shown
        assert settings["LW_API_SECRET"] not in shown + told
        assert exported(shown.strip())["LW_API_KEY"] == settings["LW_API_KEY"]
        assert 'eval "$(' in told and "--show-secret" in told
        revealed, _ = on_a_terminal("env", "--show-secret", cwd=tmp_path)
        assert exported(revealed.strip()) == settings

        # The settings work as they are.
        listed = run("token", "list", env=clean_env(**settings))
        assert listed.returncode == 0, listed.stderr

        # A key made for the running server comes with its URL too.
        made = run("keys", "create", "--user", "second", cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        key_line = exported(made.stdout.strip().splitlines()[-1])
        assert key_line["LW_API_SERVER_URL"] == again.url
        assert run("token", "list", env=clean_env(**key_line)).returncode == 0


def test_env_with_tls_names_the_certificate_and_elsewhere_says_what_is_missing(
    tmp_path: Path,
) -> None:
    with serve(tmp_path, "--tls-self-signed"):
        piped = run("env", cwd=tmp_path)
    lines = piped.stdout.strip().splitlines()
    certificate = str((tmp_path / ".lacework-tokens" / "cert.pem").resolve())
    assert lines[-1] == f"export REQUESTS_CA_BUNDLE={certificate} SSL_CERT_FILE={certificate}"
    assert exported(lines[0])["LW_API_SERVER_URL"].startswith("https://127.0.0.1:")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    missing = run("env", cwd=elsewhere)
    assert missing.returncode == 1
    [line] = missing.stderr.strip().splitlines()
    assert line.startswith("lacework-tokens env: error: no API key file in .lacework-tokens")
    assert missing.stdout == ""


def test_server_logs_are_named_for_what_they_are_with_utc_times(tmp_path: Path) -> None:
    with serve(tmp_path) as served:
        pass
    logs = served.stderr()
    assert "uvicorn: Started server process" in logs
    assert "uvicorn.error" not in logs
    first = logs.splitlines()[0]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO ", first), first


def every_command() -> list[list[str]]:
    from lacework_tokens.cli import build_parser

    found: list[list[str]] = []
    seen: set[int] = set()

    def walk(parser: object, path: list[str]) -> None:
        if id(parser) in seen:  # an alias of a command already walked
            return
        seen.add(id(parser))
        found.append(path)
        for action in getattr(parser, "_actions", []):
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                for name, sub in choices.items():
                    walk(sub, [*path, name])

    walk(build_parser(), [])
    return found


def test_every_help_states_its_defaults_and_none_is_none() -> None:
    commands = every_command()
    assert ["serve"] in commands and ["terraform", "install"] in commands
    for command in commands:
        shown = run(*command, "--help")
        assert shown.returncode == 0, command
        assert "None" not in shown.stdout, (command, shown.stdout)
    serve_help = " ".join(run("serve", "--help").stdout.split())
    assert "address to listen on (default: 127.0.0.1)" in serve_help
    assert "(default: 8080)" in serve_help
    install_help = " ".join(run("terraform", "install", "--help").stdout.split())
    assert "(default: ~/.terraform.d/plugins" in install_help


# --- commands that used to surprise ----------------------------------------------------------


def test_a_second_delete_changes_nothing_and_says_so(backend: Backend) -> None:
    assert token_cli(backend, "create", "twice").returncode == 0
    value = value_of(backend, "twice")
    first = token_cli(backend, "delete", value, "--json")
    name = json.loads(first.stdout)["tokenAlias"]
    assert re.fullmatch(r"twice-[a-z0-9]{5}-deleted", name)
    second = token_cli(backend, "delete", value)
    assert second.returncode == 0, second.stderr
    assert "already deleted: nothing changed" in second.stderr
    with backend.client() as client:
        assert client.agent_tokens.get(value).name == name


def test_enabling_a_deleted_token_asks_for_force_or_its_name_back(backend: Backend) -> None:
    assert token_cli(backend, "create", "revive").returncode == 0
    value = value_of(backend, "revive")
    assert token_cli(backend, "delete", value).returncode == 0

    for attempt in (("enable", value), ("update", value, "--enable")):
        refused = token_cli(backend, *attempt)
        assert refused.returncode == 1
        [line] = refused.stderr.strip().splitlines()
        assert "is deleted" in line and "--force" in line and "--name revive" in line
        assert value not in line
    with backend.client() as client:
        assert client.agent_tokens.get(value).state == "deleted"

    renamed = token_cli(backend, "update", value, "--enable", "--name", "revive", "--json")
    assert renamed.returncode == 0, renamed.stderr
    assert json.loads(renamed.stdout)["tokenAlias"] == "revive"
    assert json.loads(renamed.stdout)["tokenEnabled"] == 1

    assert token_cli(backend, "delete", value).returncode == 0
    forced = token_cli(backend, "enable", value, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["tokenAlias"].startswith("revive-")
    assert json.loads(forced.stdout)["tokenEnabled"] == 1


def test_a_mistyped_token_is_shown_enough_to_spot_the_typo(backend: Backend) -> None:
    assert token_cli(backend, "create", "typo").returncode == 0
    value = value_of(backend, "typo")
    typed = value[:-1] + ("0" if value[-1] != "0" else "1")
    shown = token_cli(backend, "show", typed)
    assert shown.returncode == 1
    assert f"'{typed[:4]}…{typed[-4:]}' (56 characters) was not found" in shown.stderr
    assert typed not in shown.stderr
    short = token_cli(backend, "show", "typo")
    assert "'t…o' (4 characters) was not found" in short.stderr


def test_json_hides_values_unmistakably(backend: Backend) -> None:
    created = token_cli(backend, "create", "hidden", "--json")
    assert json.loads(created.stdout)["accessToken"] is None
    assert "accessToken is null" in created.stderr
    shown = token_cli(backend, "show", "--name", "hidden", "--json", "--show-token")
    assert json.loads(shown.stdout)["accessToken"] == value_of(backend, "hidden")


# --- errors that used to mislead ------------------------------------------------------------


def test_an_unresolvable_host_is_named_as_dns_at_once(tmp_path: Path) -> None:
    # The resolver is told it knows no *.lacework.net (no DNS query leaves this machine).
    (tmp_path / "sitecustomize.py").write_text(
        "import socket\n"
        "_real = socket.getaddrinfo\n"
        "def _getaddrinfo(host, *args, **kwargs):\n"
        "    if str(host).endswith('.lacework.net'):\n"
        "        raise socket.gaierror(socket.EAI_NONAME, 'Name or service not known')\n"
        "    return _real(host, *args, **kwargs)\n"
        "socket.getaddrinfo = _getaddrinfo\n"
    )
    env = clean_env(
        LW_ACCOUNT="local",
        LW_API_KEY="LOCAL_X",
        LW_API_SECRET="_x",
        PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]),
        HOME=str(tmp_path),
    )
    result = run("token", "list", env=env)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "cannot resolve the host name local.lacework.net (DNS)" in line
    assert "LW_API_SERVER_URL=http://127.0.0.1:8080" in line
    assert "retrying" not in line and "connection refused" not in line


def test_retrying_is_said_once_on_stderr(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = clean_env(
        LW_ACCOUNT="local",
        LW_API_KEY="LOCAL_X",
        LW_API_SECRET="_x",
        LW_API_SERVER_URL=f"http://127.0.0.1:{port}",
        HOME=str(tmp_path),
    )
    result = run("token", "list", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("lacework-tokens token list: POST /api/v2/access/tokens to ")
    assert "connection refused; retrying in " in lines[0]
    assert lines[1].startswith("lacework-tokens token list: error: ")
    assert "gave up after 4 attempts in " in lines[1]


def test_a_server_url_without_scheme_says_what_it_should_be(tmp_path: Path) -> None:
    env = clean_env(LW_ACCOUNT="local", LW_API_KEY="K", LW_API_SECRET="S",
                    LW_API_SERVER_URL="127.0.0.1:8080", HOME=str(tmp_path))  # fmt: skip
    result = run("token", "list", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "lacework-tokens token list: error: LW_API_SERVER_URL is '127.0.0.1:8080', which has no "
        "scheme: write the server's URL in full, like http://127.0.0.1:8080"
    )


def test_one_error_style_and_one_time_format_across_commands(
    backend: Backend, tmp_path: Path
) -> None:
    missing = token_cli(backend, "show", "f" * 56)
    refused = run("keys", "list", cwd=tmp_path)
    for result, command in ((missing, "token show"), (refused, "keys list")):
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"lacework-tokens {command}: error: "), line
        assert not line.endswith(".") and ". " not in line, line

    assert token_cli(backend, "create", "timed").returncode == 0
    listed = token_cli(backend, "list").stdout
    keys = run("keys", "list", "--db", str(backend.db_path)).stdout
    audit = run("audit", "--db", str(backend.db_path), "--limit", "3").stdout
    for table in (listed, keys, audit):
        times = TABLE_TIME.findall(table)
        assert times, table
        assert "UTC" not in table and ".000Z" not in table
    shown = json.loads(token_cli(backend, "show", "--name", "timed", "--json").stdout)
    wire.parse_time(shown["createdTime"])  # JSON keeps the wire's form
    assert shown["createdTime"].endswith("Z") and "." in shown["createdTime"]


def test_a_reader_that_goes_away_ends_the_command_quietly(backend: Backend) -> None:
    for n in range(3):
        assert token_cli(backend, "create", f"piped-{n}").returncode == 0
    for command in (["token", "list", "--json"], ["keys", "list", "--db", str(backend.db_path)]):
        process = subprocess.Popen(
            [*PROGRAM, *command],
            env=clean_env(**backend.env()),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # `| head` that has read enough
        errors = process.stderr.read().decode()
        assert process.wait(60) == 141
        assert "Broken pipe" not in errors and "Traceback" not in errors
        assert errors == ""
    shell = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m lacework_tokens token list --json | head -n 1"],
        env=clean_env(**backend.env()),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shell.stdout == "[\n"
    assert "Broken pipe" not in shell.stderr


# --- parity with `lacework agent token` -------------------------------------------------------


def test_create_takes_name_description_and_os_as_lacework_s_cli(backend: Backend) -> None:
    made = token_cli(backend, "create", "positional", "k8s deployment for dev", "windows", "--json")
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)
    assert (token["tokenAlias"], token["props"]["description"], token["props"]["os"]) == (
        "positional", "k8s deployment for dev", "windows"
    )  # fmt: skip
    both = token_cli(backend, "create", "twice-described", "a", "--description", "b")
    assert both.returncode == 2
    assert "give the description once" in both.stderr


def test_update_enables_disables_renames_and_describes(backend: Backend) -> None:
    assert token_cli(backend, "create", "updated").returncode == 0
    value = value_of(backend, "updated")

    def update(*flags: str) -> dict[str, object]:
        result = token_cli(backend, "update", value, *flags, "--json")
        assert result.returncode == 0, result.stderr
        answer: dict[str, object] = json.loads(result.stdout)
        return answer

    assert update("--disable")["tokenEnabled"] == 0
    assert update("--enable")["tokenEnabled"] == 1
    renamed = update("--name", "updated-2", "--description", "for dev")
    assert renamed["tokenAlias"] == "updated-2"
    assert renamed["props"] == {**renamed["props"], "description": "for dev"}  # type: ignore[dict-item]
    both = token_cli(backend, "update", value, "--enable", "--disable")
    assert both.returncode == 2
    nothing = token_cli(backend, "update", value)
    assert nothing.returncode == 2 and "nothing to update" in nothing.stderr


def test_list_filters_by_state(backend: Backend) -> None:
    for name in ("state-on", "state-off", "state-gone"):
        assert token_cli(backend, "create", name).returncode == 0
    assert token_cli(backend, "disable", value_of(backend, "state-off")).returncode == 0
    assert token_cli(backend, "delete", value_of(backend, "state-gone")).returncode == 0

    def names(*states: str) -> set[str]:
        flags = [flag for state in states for flag in ("--state", state)]
        result = token_cli(backend, "ls", *flags, "--json")
        assert result.returncode == 0, result.stderr
        return {t["tokenAlias"] for t in json.loads(result.stdout) if "state-" in t["tokenAlias"]}

    assert names("enabled") == {"state-on"}
    assert names("disabled") == {"state-off"}
    assert {n.split("-")[1] for n in names("deleted")} == {"gone"}
    assert names("enabled", "disabled") == {"state-on", "state-off"}
    table = token_cli(backend, "list", "--state", "deleted").stdout
    assert all(row.split()[2] == "Deleted" for row in table.splitlines()[1:])
    assert token_cli(backend, "list", "--state", "gone").returncode == 2


def test_connection_flags_and_json_go_before_or_after_the_command(
    backend: Backend, tmp_path: Path
) -> None:
    env = clean_env(HOME=str(tmp_path), LW_API_SERVER_URL=backend.url)
    short = ["-a", backend.account, "-k", backend.api_key, "-s", backend.api_secret]
    long = ["--account", backend.account, "--api_key", backend.api_key,
            "--api_secret", backend.api_secret]  # fmt: skip
    for argv in (
        [*short, "--json", "token", "list"],
        ["--json", "token", *long, "list"],
        ["token", "--json", "list", *short],
        ["tokens", "list", "--json", *long],
    ):
        result = run(*argv, env=env)
        assert result.returncode == 0, (argv, result.stderr)
        assert isinstance(json.loads(result.stdout), list), argv
    (tmp_path / ".lacework.toml").write_text(
        f'[staging]\naccount = "{backend.account}"\napi_key = "{backend.api_key}"\n'
        f'api_secret = "{backend.api_secret}"\n'
    )
    assert run("--profile", "staging", "token", "list", env=env).returncode == 0
    assert run("token", "list", "-p", "staging", env=env).returncode == 0
    misplaced = run("-a", "acme", "keys", "list", env=env)
    assert misplaced.returncode == 2
    assert "applies to 'token' only" in misplaced.stderr


def test_search_uses_the_api_s_expressions(backend: Backend) -> None:
    for name, os_name in (("find-a", "linux"), ("find-b", "windows"), ("other-c", "linux")):
        assert token_cli(backend, "create", name, "", os_name).returncode == 0
    assert token_cli(backend, "disable", value_of(backend, "find-b")).returncode == 0

    def search(*filters: tuple[str, str, str]) -> list[str]:
        flags = [part for given in filters for part in ("--filter", *given)]
        result = token_cli(backend, "search", *flags, "--json")
        assert result.returncode == 0, result.stderr
        return sorted(t["tokenAlias"] for t in json.loads(result.stdout))

    assert search(("tokenAlias", "like", "find-%")) == ["find-a", "find-b"]
    assert search(("tokenAlias", "like", "find-%"), ("tokenEnabled", "eq", "1")) == ["find-a"]
    assert search(("tokenAlias", "in", "find-b,other-c")) == ["find-b", "other-c"]
    assert search(("tokenAlias", "ilike", "FIND-%"), ("props.os", "ne", "linux")) == ["find-b"]
    table = token_cli(backend, "search", "--filter", "tokenAlias", "eq", "find-a").stdout
    assert table.splitlines()[1].split()[1:3] == ["find-a", "Enabled"]

    unknown = token_cli(backend, "search", "--filter", "owner", "eq", "me")
    assert unknown.returncode == 1
    assert "unknown field 'owner'; one of createdTime" in unknown.stderr
    misspelt = token_cli(backend, "search", "--filter", "tokenAlias", "equals", "me")
    assert misspelt.returncode == 2
    assert "unknown expression 'equals': one of eq, ne, in" in misspelt.stderr
    rejected = token_cli(backend, "search", "--filter", "tokenEnabled", "eq", "yes")
    assert rejected.returncode == 1
    assert rejected.stderr.startswith("lacework-tokens token search: error: [400]")


def test_an_account_that_is_not_the_key_s_is_an_error_naming_both(
    backend: Backend, tmp_path: Path
) -> None:
    made = run("accounts", "create", "team", "--parent", backend.account,
               "--db", str(backend.db_path))  # fmt: skip
    assert made.returncode == 0, made.stderr
    other = token_cli(backend, "-a", "other", "list")
    assert other.returncode == 1
    [line] = other.stderr.strip().splitlines()
    assert "the account is set to 'other'" in line
    assert f"API key {backend.api_key} belongs to account '{backend.account}'" in line
    assert "(sub-accounts: team)" in line and f"set LW_ACCOUNT={backend.account}" in line
    assert other.stdout == ""

    sub = token_cli(backend, "--account", "team", "list")
    assert sub.returncode == 1
    assert f"set LW_ACCOUNT={backend.account} and LW_SUBACCOUNT=team" in sub.stderr

    assert token_cli(backend, "--subaccount", "team", "list").returncode == 0
    assert token_cli(backend, "-a", backend.account.upper(), "list").returncode == 0

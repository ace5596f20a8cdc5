"""What one client can cost the server before a request reaches the app, against a real server.

- a header block is at most 16 KiB and 100 fields: past either, 431 and a closed connection,
  and the server's memory stays flat however long a client streams header lines; connections
  that go leave no socket or memory behind;
- a header block is due whole within the header timeout (from the connection's start for its
  first request), however its bytes are spread;
- the soft open-file limit is raised to the hard one at start, connections are capped (the
  longest-idle one makes room for a newcomer, or the newcomer gets 503), so idle connections
  past the open-file limit never leave ``/healthz`` unanswered;
- a TLS connection that never starts its handshake is cut off like a slow request;
- the self-signed certificate is a leaf, and TLS 1.2 offers AEAD suites only.

Sizes and counts are asserted, never durations: a socket timeout below only guards against a
hang (a server that never answers fails the test instead of stalling it).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from lacework_tokens.server.connections import (
    DEFAULT_MAX_CONNECTIONS,
    IDLE_GRACE_SECONDS,
    MAX_HEADER_BYTES,
    MAX_HEADERS,
)
from lacework_tokens.server.runner import connection_cap
from lacework_tokens.testing import Backend, run_backend

GUARD_SECONDS = 20.0
# What a header-streaming client may push the server's memory up by (the attack this guards
# against grew it by more than a gigabyte).
MEMORY_GROWTH_BOUND = 32 * 1024 * 1024
STREAMED_PER_CONNECTION = 4 * 1024 * 1024
# Sockets a server holds besides its connections: the listening one, the event loop's own pair.
SERVER_SOCKETS = 3


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with run_backend(tmp_path_factory.mktemp("connections")) as started:
        yield started


def connect(backend: Backend) -> socket.socket:
    address = urlsplit(backend.url)
    return socket.create_connection((address.hostname, address.port), timeout=GUARD_SECONDS)


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            return received
        if not chunk:
            return received
        received += chunk


def send_and_answer(backend: Backend, request: bytes) -> bytes:
    """Send ``request`` (stopping if the server answers first) and read until it hangs up."""
    with contextlib.closing(connect(backend)) as sock:
        answer = b""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for start in range(0, len(request), 65536):
                sock.sendall(request[start : start + 65536])
                if select.select([sock], [], [], 0)[0]:
                    answer = sock.recv(65536)
                    break
        return answer + read_until_closed(sock)


def status_and_body(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), answer[:200]
    return int(head.split()[1]), body


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def headers(count: int, value: bytes = b"b") -> bytes:
    return b"".join(b"X-%d: %s\r\n" % (index, value) for index in range(count))


# --- header limits --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (b"X-Big: " + b"b" * (100 * 1024) + b"\r\n", b"larger than"),
        (headers(1000), b"at most"),
        (headers(MAX_HEADERS), b"at most"),  # with Host: one field too many
        (b"X-Big: " + b"b" * MAX_HEADER_BYTES + b"\r\n", b"larger than"),
    ],
    ids=["one 100 KiB header", "1,000 headers", "101 headers", "16 KiB and a bit"],
)
def test_a_header_block_past_a_limit_is_431_and_a_closed_connection(
    backend: Backend, extra: bytes, problem: bytes
) -> None:
    answer = send_and_answer(backend, b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n")
    status, body = status_and_body(answer)
    assert status == 431
    assert b"connection: close" in answer.lower()
    assert problem in json.loads(body)["message"].encode()


def test_a_header_block_within_the_limits_is_served(backend: Backend) -> None:
    room = MAX_HEADER_BYTES - 200
    fields = headers(MAX_HEADERS - 3)  # and Host, Connection, X-Big
    extra = fields + b"X-Big: " + b"b" * (room - len(fields))
    answer = send_and_answer(
        backend, b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + extra + b"\r\n\r\n"
    )
    assert status_and_body(answer) == (200, b'{"status":"ok"}')


def stream_header_lines(backend: Backend, answers: list[bytes]) -> None:
    """What the attack did: a request whose header lines never end, as fast as it can."""
    chunk = b"X-A: b\r\n" * 8192
    with contextlib.closing(connect(backend)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        answer = b""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(STREAMED_PER_CONNECTION // len(chunk)):
                sock.sendall(chunk)
                if select.select([sock], [], [], 0)[0]:
                    answer = sock.recv(65536)
                    break
        answers.append(answer + read_until_closed(sock))


def test_streamed_header_lines_are_cut_off_and_memory_stays_flat(tmp_path: Path) -> None:
    with run_backend(tmp_path) as server:
        pid = server.process.pid
        assert requests.get(f"{server.url}/healthz", timeout=GUARD_SECONDS).ok
        before = resident_bytes(pid)
        answers: list[bytes] = []
        streams = [
            threading.Thread(target=stream_header_lines, args=(server, answers)) for _ in range(4)
        ]
        for stream in streams:
            stream.start()
        health = requests.get(f"{server.url}/healthz", timeout=GUARD_SECONDS)
        for stream in streams:
            stream.join()
        after = resident_bytes(pid)
        assert health.status_code == 200
        assert requests.get(f"{server.url}/healthz", timeout=GUARD_SECONDS).ok
    assert len(answers) == 4
    assert all(status_and_body(answer)[0] == 431 for answer in answers), [a[:40] for a in answers]
    assert after - before < MEMORY_GROWTH_BOUND, (before, after)


def hold_header_blocks(server: Backend, count: int, size: int) -> list[socket.socket]:
    """``count`` connections, each part-way through a header block of ``size`` bytes."""
    held = [connect(server) for _ in range(count)]
    for sock in held:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Held: " + b"b" * size)
    return held


def wait_for_sockets(pid: int, count: int) -> int:
    """The server's open sockets once it has let go of closed connections (or the guard ran out)."""
    deadline = time.monotonic() + GUARD_SECONDS
    while (now := open_sockets(pid)) > count and time.monotonic() < deadline:
        time.sleep(0.05)
    return now


def test_connections_that_go_leave_nothing_behind(tmp_path: Path) -> None:
    # Rounds of connections holding nearly a full header block each, cut by the client: once
    # they go the server holds no socket of theirs and what they held is used again, so its
    # memory after the last round is what it was after the second (the first warms the
    # allocator up; connections kept alive grew it by over 1 MiB a round).
    rounds, count, size = 8, 200, MAX_HEADER_BYTES - 1024
    args = ["--header-timeout", "60", "--body-timeout", "60"]
    with run_backend(tmp_path, extra_args=args) as server:
        pid = server.process.pid
        assert requests.get(f"{server.url}/healthz", timeout=GUARD_SECONDS).ok
        baseline_sockets = open_sockets(pid)
        sockets_after: list[int] = []
        resident_after: list[int] = []
        for _ in range(rounds):
            held = hold_header_blocks(server, count, size)
            assert requests.get(f"{server.url}/healthz", timeout=GUARD_SECONDS).ok
            for sock in held:
                sock.close()
            sockets_after.append(wait_for_sockets(pid, baseline_sockets))
            resident_after.append(resident_bytes(pid))
    assert all(held <= baseline_sockets for held in sockets_after), (
        baseline_sockets,
        sockets_after,
    )
    assert resident_after[-1] - resident_after[1] < (rounds - 2) * count * size // 8, resident_after


# --- time -----------------------------------------------------------------------------------------


def test_headers_slower_than_the_header_timeout_get_408(tmp_path: Path) -> None:
    args = ["--header-timeout", "0.5", "--body-timeout", "30"]
    with (
        run_backend(tmp_path, extra_args=args) as server,
        contextlib.closing(connect(server)) as sock,
    ):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        status, body = status_and_body(read_until_closed(sock))
    assert status == 408
    assert json.loads(body)["message"] == "the request headers were not received within 0.5 seconds"


def test_a_header_block_trickled_faster_than_the_header_timeout_is_still_cut_off(
    tmp_path: Path,
) -> None:
    # One byte of a header value every 50 ms: each arrives well within the timeout, but the
    # block as a whole does not, so the server answers while the client is still sending.
    args = ["--header-timeout", "1", "--body-timeout", "60"]
    sends = 400  # 20 s of trickling, twenty times the timeout
    sent = 0
    with (
        run_backend(tmp_path, extra_args=args) as server,
        contextlib.closing(connect(server)) as sock,
    ):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < sends and not select.select([sock], [], [], 0.05)[0]:
                sock.sendall(b"b")
                sent += 1
        status, body = status_and_body(read_until_closed(sock))
    assert status == 408
    assert sent < sends
    assert json.loads(body)["message"] == "the request headers were not received within 1 seconds"


def test_waiting_before_the_first_byte_buys_no_time_for_the_headers(tmp_path: Path) -> None:
    # The first request's headers are due a header timeout after the connection opens: a client
    # that idles for 0.7 s and then takes 0.7 s over its headers is too late, though each part
    # is within the timeout on its own.
    args = ["--header-timeout", "1", "--body-timeout", "60"]
    with (
        run_backend(tmp_path, extra_args=args) as server,
        contextlib.closing(connect(server)) as sock,
    ):
        time.sleep(0.7)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            time.sleep(0.7)
            sock.sendall(b"b\r\nConnection: close\r\n\r\n")
        status, _ = status_and_body(read_until_closed(sock))
    assert status == 408


def test_a_tls_connection_that_never_starts_its_handshake_is_closed(tmp_path: Path) -> None:
    with run_backend(tmp_path, tls=True, extra_args=["--body-timeout", "0.5"]) as server:
        with contextlib.closing(connect(server)) as sock:
            # Closed by the server (an empty read), not by the guard (a TimeoutError).
            assert read_until_closed(sock) == b""
        assert requests.get(f"{server.url}/healthz", verify=server.verify, timeout=30).ok


# --- connections and open files -------------------------------------------------------------------


def soft_open_file_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-file limit")


def open_sockets(pid: int) -> int:
    count = 0
    for entry in os.scandir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):  # closed while being counted
            count += os.readlink(entry.path).startswith("socket:")
    return count


def test_the_soft_open_file_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    with run_backend(tmp_path, open_files=(256, 1024)) as server:
        assert soft_open_file_limit(server.process.pid) == 1024


def hold_idle_connections(server: Backend, count: int) -> list[socket.socket]:
    return [connect(server) for _ in range(count)]


def health_statuses(server: Backend, count: int) -> list[int]:
    return [
        requests.get(
            f"{server.url}/healthz", headers={"Connection": "close"}, timeout=GUARD_SECONDS
        ).status_code
        for _ in range(count)
    ]


def test_idle_connections_past_a_low_soft_limit_leave_health_answered(tmp_path: Path) -> None:
    # The common soft limit below what the hard limit allows: raised at start, so 400 idle
    # connections are all held and /healthz is served beside them.
    args = ["--body-timeout", "60", "--header-timeout", "60"]
    with run_backend(tmp_path, open_files=(256, 4096), extra_args=args) as server:
        idle = hold_idle_connections(server, 400)
        try:
            statuses = health_statuses(server, 20)
        finally:
            for sock in idle:
                sock.close()
    assert statuses == [200] * 20


def closed_by_server(sock: socket.socket) -> bytes | None:
    """What the server sent before closing ``sock`` (``b""`` if nothing); ``None`` while open."""
    sock.setblocking(False)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except BlockingIOError:
        return None
    except ConnectionResetError:
        pass
    finally:
        sock.setblocking(True)
    return received


def test_idle_connections_past_the_hard_limit_are_shed_and_health_is_answered(
    tmp_path: Path,
) -> None:
    # 256 descriptors and none to gain: the server holds what it can, closes the rest at once,
    # and a newcomer takes the place of a connection idle for longer than the grace period.
    args = ["--body-timeout", "60", "--header-timeout", "60"]
    with run_backend(tmp_path, open_files=(256, 256), extra_args=args) as server:
        idle = hold_idle_connections(server, 400)
        try:
            time.sleep(IDLE_GRACE_SECONDS + 0.2)  # the held connections are now evictable
            statuses = health_statuses(server, 20)
            held = open_sockets(server.process.pid)
            ends = [closed_by_server(sock) for sock in idle]
        finally:
            for sock in idle:
                sock.close()
    cap = connection_cap(DEFAULT_MAX_CONNECTIONS, 256)
    assert statuses == [200] * 20
    assert held <= cap + SERVER_SOCKETS
    closed = [end for end in ends if end is not None]
    assert len(closed) >= len(idle) - cap
    assert all(end == b"" or end.startswith(b"HTTP/1.1 503 ") for end in closed)


def test_past_max_connections_the_longest_idle_connection_makes_room(tmp_path: Path) -> None:
    args = ["--max-connections", "10", "--body-timeout", "60", "--header-timeout", "60"]
    with run_backend(tmp_path, extra_args=args) as server:
        idle = hold_idle_connections(server, 10)
        try:
            time.sleep(IDLE_GRACE_SECONDS + 0.2)
            late = hold_idle_connections(server, 5)  # each closes one of the first ten
            assert health_statuses(server, 1) == [200]
            held = open_sockets(server.process.pid)
            old_ends = [closed_by_server(sock) for sock in idle]
            late_ends = [closed_by_server(sock) for sock in late]
        finally:
            for sock in idle + late:
                sock.close()
    assert held <= 10 + SERVER_SOCKETS
    assert late_ends == [None] * 5  # the newcomers are held
    assert old_ends[:5] == [b""] * 5  # in place of the five idle longest


def test_past_max_connections_a_newcomer_is_answered_503_when_none_idled_long(
    tmp_path: Path,
) -> None:
    with run_backend(tmp_path, extra_args=["--max-connections", "3"]) as server:
        idle = hold_idle_connections(server, 3)
        try:
            with contextlib.closing(connect(server)) as newcomer:
                status, body = status_and_body(read_until_closed(newcomer))
        finally:
            for sock in idle:
                sock.close()
    assert status == 503
    assert "too many connections" in json.loads(body)["message"]


# --- TLS ------------------------------------------------------------------------------------------


def test_the_self_signed_certificate_is_a_leaf_for_the_names_it_serves(tmp_path: Path) -> None:
    from cryptography import x509

    with run_backend(tmp_path, tls=True) as server:
        assert server.cert_path is not None
        certificate = x509.load_pem_x509_certificate(server.cert_path.read_bytes())
        assert requests.get(f"{server.url}/healthz", verify=server.verify, timeout=30).ok
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is False
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert not usage.key_cert_sign
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]


def tls_handshake(server: Backend, context: ssl.SSLContext) -> str:
    with (
        contextlib.closing(connect(server)) as plain,
        context.wrap_socket(plain, server_hostname="127.0.0.1") as sock,
    ):
        cipher = sock.cipher()
        assert cipher is not None
        return cipher[0]


def test_tls_12_offers_aead_suites_only_and_older_versions_none(tmp_path: Path) -> None:
    with run_backend(tmp_path, tls=True) as server:
        assert server.cert_path is not None

        def context(version: ssl.TLSVersion, ciphers: str) -> ssl.SSLContext:
            made = ssl.create_default_context(cafile=str(server.cert_path))
            made.minimum_version = made.maximum_version = version
            made.set_ciphers(ciphers)
            return made

        aead = tls_handshake(server, context(ssl.TLSVersion.TLSv1_2, "ECDHE+AESGCM"))
        assert "GCM" in aead
        chacha = tls_handshake(server, context(ssl.TLSVersion.TLSv1_2, "ECDHE+CHACHA20"))
        assert "CHACHA20" in chacha
        for cbc in (
            "ECDHE-ECDSA-AES128-SHA256",
            "ECDHE-ECDSA-AES256-SHA",
            "ECDHE-ECDSA-AES128-SHA",
        ):
            with pytest.raises(ssl.SSLError):
                tls_handshake(server, context(ssl.TLSVersion.TLSv1_2, cbc))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1, on purpose
            old = context(ssl.TLSVersion.TLSv1_1, "DEFAULT:@SECLEVEL=0")
        with pytest.raises(ssl.SSLError):
            tls_handshake(server, old)

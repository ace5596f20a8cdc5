"""What the plugin launcher runs when the plugin itself cannot run: one clear Terraform error.

When the Python environment behind an installed plugin is gone (``make clean``, a moved clone),
the launcher cannot start the plugin. A plugin that exits before its handshake makes Terraform
print "Unrecognized remote plugin message" and guesses about architectures. So the launcher runs
this program instead, on any Python 3.7+ it finds: it completes the go-plugin handshake and
answers Terraform's first call, ``GetProviderSchema``, with an error diagnostic that says what
happened and what to run. Terraform prints it and stops before it sends any configuration.

It speaks just enough of gRPC for that: TLS (Terraform insists on it), HTTP/2 frames, and one
protobuf message written by hand. Every request gets the same answer: request headers are never
decoded. It exits when Terraform closes the connection.

This file is copied into every plugin launcher (``install.launcher``), so it uses the standard
library only, and ``unavailable(summary, detail)`` is its entry point.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import ssl
import struct
import sys
import tempfile
import threading

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"

# A fixed identity for localhost, valid until 2126. It is no secret and protects nothing: it
# only serves the error below, before Terraform sends any configuration. (Terraform requires
# TLS; the real plugin has its own, per-user identity.)
IDENTITY_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg5xlW+kXFozWzVGOF
61OWZ4/qQtf6c/mGpx2qZ4WYW9KhRANCAASCsnYPQhvJ+NFGxncWnchhOwcztJTC
0g9HAT7gMlX3Twmi0xnzPg5P5SITYbb+9nNEIgJZjl0w0J5HrlkAVFs6
-----END PRIVATE KEY-----
"""
IDENTITY_CERTIFICATE = """-----BEGIN CERTIFICATE-----
MIIByDCCAW+gAwIBAgIUK3eja5BDoCD1cK0888ek6zxkxzYwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwMTE2MDc1MloYDzIxMjYxMjAx
MTYxMjUyWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASCsnYPQhvJ+NFGxncWnchhOwcztJTC0g9HAT7gMlX3Twmi0xnzPg5P
5SITYbb+9nNEIgJZjl0w0J5HrlkAVFs6o4GcMIGZMBQGA1UdEQQNMAuCCWxvY2Fs
aG9zdDASBgNVHRMBAf8ECDAGAQH/AgEAMA4GA1UdDwEB/wQEAwICjDAdBgNVHSUE
FjAUBggrBgEFBQcDAQYIKwYBBQUHAwIwHQYDVR0OBBYEFPOX631EJXCmF7Qiq293
a5HkyENAMB8GA1UdIwQYMBaAFPOX631EJXCmF7Qiq293a5HkyENAMAoGCCqGSM49
BAMCA0cAMEQCIFii3mHiN2xBHhapEtN5A9szoAks3sCKz2TNq/lHnaNmAiAwa7v2
QshjMiRIV7oxK4zRtFTP0kWXmOtf5wJ6w+d20Q==
-----END CERTIFICATE-----
"""

# HTTP/2 (RFC 9113) frame types and flags used here.
_DATA, _HEADERS, _SETTINGS, _PING, _GOAWAY, _WINDOW_UPDATE = 0x0, 0x1, 0x4, 0x6, 0x7, 0x8
_END_STREAM, _ACK, _END_HEADERS = 0x1, 0x1, 0x4
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# Exit even if Terraform never closes the connection.
_LIFETIME_SECONDS = 60.0


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def schema_response(summary: str, detail: str) -> bytes:
    """``tfplugin6.GetProviderSchema.Response`` holding one error diagnostic (field 4).

    ``Diagnostic``: severity (1, ``ERROR`` = 1), summary (2), detail (3).
    """
    diagnostic = b"\x08\x01" + _field(2, summary.encode()) + _field(3, detail.encode())
    return _field(4, diagnostic)


def _hpack_integer(value: int) -> bytes:
    # A string length with a 7-bit prefix and the Huffman bit clear (RFC 7541, 5.1).
    if value < 0x7F:
        return bytes([value])
    out = bytearray([0x7F])
    value -= 0x7F
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _header_block(*headers: tuple[str, str]) -> bytes:
    """Literal header fields without indexing, new names, no Huffman coding (RFC 7541, 6.2.2)."""
    block = bytearray()
    for name, value in headers:
        block += b"\x00" + _hpack_integer(len(name)) + name.encode()
        block += _hpack_integer(len(value)) + value.encode()
    return bytes(block)


def _frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    head = struct.pack(">I", len(payload))[1:] + bytes([kind, flags])
    return head + struct.pack(">I", stream) + payload


class _Answer:
    """The frames that answer a request with one gRPC message: headers, the message, trailers."""

    def __init__(self, message: bytes) -> None:
        self.headers = _header_block((":status", "200"), ("content-type", "application/grpc"))
        self.data = b"\x00" + struct.pack(">I", len(message)) + message
        self.trailers = _header_block(("grpc-status", "0"))

    def frames(self, stream: int) -> bytes:
        return (
            _frame(_HEADERS, _END_HEADERS, stream, self.headers)
            + _frame(_DATA, 0, stream, self.data)
            + _frame(_HEADERS, _END_HEADERS | _END_STREAM, stream, self.trailers)
        )


def _read_exactly(connection: ssl.SSLSocket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


def _serve_connection(connection: ssl.SSLSocket, answer: _Answer) -> None:
    """Answer every request on one HTTP/2 connection once its client has sent it whole."""
    if _read_exactly(connection, len(_PREFACE)) != _PREFACE:
        return
    connection.sendall(_frame(_SETTINGS, 0, 0))
    answered = set()
    while True:
        head = _read_exactly(connection, 9)
        length = int.from_bytes(head[:3], "big")
        kind, flags = head[3], head[4]
        stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        payload = _read_exactly(connection, length)
        if kind == _SETTINGS and not flags & _ACK:
            connection.sendall(_frame(_SETTINGS, _ACK, 0))
        elif kind == _PING and not flags & _ACK:
            connection.sendall(_frame(_PING, _ACK, 0, payload))
        elif kind == _GOAWAY:
            return
        elif kind == _DATA and length:
            # Give back the flow-control window the request used.
            increment = struct.pack(">I", length)
            connection.sendall(
                _frame(_WINDOW_UPDATE, 0, 0, increment)
                + _frame(_WINDOW_UPDATE, 0, stream, increment)
            )
        if kind in (_HEADERS, _DATA) and flags & _END_STREAM and stream not in answered:
            answered.add(stream)
            connection.sendall(answer.frames(stream))


def unavailable(summary: str, detail: str) -> None:
    """Serve one error diagnostic to Terraform; run by hand, print it and exit 1."""
    if MAGIC_COOKIE_KEY not in os.environ:
        sys.stderr.write(summary + "\n\n" + detail + "\n")
        sys.exit(1)
    directory = tempfile.mkdtemp(prefix="lw-plugin-")
    try:
        key_path = os.path.join(directory, "key.pem")
        certificate_path = os.path.join(directory, "certificate.pem")
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(IDENTITY_KEY)
        with open(certificate_path, "w") as handle:
            handle.write(IDENTITY_CERTIFICATE)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(certificate_path, key_path)
        context.set_alpn_protocols(["h2"])
        socket_path = os.path.join(directory, "plugin.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(socket_path)
        listener.listen(8)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    der = ssl.PEM_cert_to_DER_cert(IDENTITY_CERTIFICATE)
    certificate = base64.b64encode(der).decode("ascii").rstrip("=")
    sys.stdout.write(f"1|6|unix|{socket_path}|grpc|{certificate}\n")
    sys.stdout.flush()
    answer = _Answer(schema_response(summary, detail))
    open_connections = [0]
    lock = threading.Lock()

    def finish() -> None:
        shutil.rmtree(directory, ignore_errors=True)
        os._exit(0)

    def serve(raw: socket.socket) -> None:
        try:
            with context.wrap_socket(raw, server_side=True) as connection:
                _serve_connection(connection, answer)
        except (EOFError, OSError):
            pass
        finally:
            with lock:
                open_connections[0] -= 1
                if open_connections[0] == 0:
                    finish()  # Terraform has closed its connection: it is done with us

    timer = threading.Timer(_LIFETIME_SECONDS, finish)
    timer.daemon = True
    timer.start()
    while True:
        raw, _ = listener.accept()
        with lock:
            open_connections[0] += 1
        threading.Thread(target=serve, args=(raw,), daemon=True).start()

"""What Terraform starts: the go-plugin handshake and the gRPC server.

Terraform runs the plugin with a magic cookie in the environment and reads one line from its
stdout: ``1|6|unix|<socket>|grpc|<certificate>``. Everything after that is gRPC over the unix
socket, TLS-protected with the certificate from the handshake. The process lives until Terraform
calls ``GRPCController.Shutdown``.

Start-up time matters (Terraform starts the plugin several times per command): before the
handshake only gRPC and the TLS identity load. The services (the protocol's stubs, the servicer,
the registry) load right after it, while Terraform connects; the SDK when a call needs the API.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any, Final

from lacework_tokens.provider import ADDRESS

__all__ = ["long_lived", "main", "serve"]

# Where the terraform extra's modules are missing, the plugin cannot serve: it says so instead.
NEEDED_MODULES: Final = ("grpc", "msgpack", "tf.gen.tfplugin_pb2", "attrs", "cryptography")

MAGIC_COOKIE_KEY: Final = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE: Final = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
CORE_PROTOCOL_VERSION: Final = 1
PLUGIN_PROTOCOL_VERSION: Final = 6
# Terraform's default -parallelism is 10; leave room for its own calls during an apply.
MAX_WORKERS: Final = 16

NOT_A_COMMAND: Final = """\
This program is a Terraform provider plugin (registry.terraform.io/lacework/lacework).
Terraform runs it; it is not meant to be run by hand. Install it with

    lacework-tokens terraform install

and run terraform in a configuration that uses the lacework provider.
"""


def main() -> None:
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        sys.stderr.write(NOT_A_COMMAND)
        raise SystemExit(1)
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", str(PLUGIN_PROTOCOL_VERSION))
    if str(PLUGIN_PROTOCOL_VERSION) not in versions.split(","):
        sys.stderr.write(
            f"This plugin speaks Terraform plugin protocol {PLUGIN_PROTOCOL_VERSION}; "
            f"Terraform offered {versions}. Use Terraform 1.0 or later.\n"
        )
        raise SystemExit(1)
    missing = _missing_modules()
    if missing:
        from lacework_tokens.cli.output import install_command
        from lacework_tokens.provider.unavailable import unavailable

        unavailable(
            "The Python environment behind the lacework provider lacks the plugin",
            f"{sys.executable} has lacework-tokens but not its terraform extra "
            f"({', '.join(missing)} missing). Install it: {install_command('terraform')}",
        )
    # Terraform forwards Ctrl-C to the whole process group and then stops plugins itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Up to ten calls run at once; with the default 5 ms switch interval, gRPC's dispatch
    # thread queues behind busy handler threads and Terraform's calls arrive spread out.
    sys.setswitchinterval(0.0005)
    serve()


def _socket_directory() -> str:
    """A new directory only this user can enter, for the plugin's socket.

    Not ``tempfile.mkdtemp``: ``tempfile`` and ``shutil`` (with bz2 and lzma) would add several
    milliseconds to every plugin start, before its handshake.
    """
    base = os.environ.get("TMPDIR") or "/tmp"  # noqa: S108 - a new 0700 directory, below
    while True:
        path = os.path.join(base, f"lw-plugin-{os.urandom(6).hex()}")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path


def _remove_socket_directory(directory: str) -> None:
    for name in os.listdir(directory):
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, name))
    with contextlib.suppress(OSError):
        os.rmdir(directory)


def _missing_modules() -> list[str]:
    from importlib.util import find_spec

    missing = []
    for name in NEEDED_MODULES:
        try:
            found = find_spec(name)
        except ModuleNotFoundError:  # its package is missing
            found = None
        if found is None:
            missing.append(name.split(".")[0])
    return missing


def _services(long_lived: bool, on_shutdown: Callable[[], None]) -> tuple[Any, list[Any]]:
    """The servicer and gRPC handlers of the provider, go-plugin's controller and its stdio."""
    import grpc
    from tf.gen import grpc_controller_pb2 as controller_pb
    from tf.gen import grpc_controller_pb2_grpc as controller_rpc
    from tf.gen import grpc_stdio_pb2_grpc as stdio_rpc
    from tf.gen import tfplugin_pb2_grpc as plugin_rpc

    from lacework_tokens.provider.servicer import ProviderServicer

    class Controller(controller_rpc.GRPCControllerServicer):  # type: ignore[misc]
        def Shutdown(self, request: Any, context: Any) -> Any:
            on_shutdown()
            return controller_pb.Empty()

    class Stdio(stdio_rpc.GRPCStdioServicer):  # type: ignore[misc]
        def StreamStdio(self, request: Any, context: Any) -> Iterator[Any]:
            # Nothing is forwarded: the plugin writes to stderr, which Terraform logs itself.
            return iter(())

    class Handlers:
        """Collects what the generated ``add_*_to_server`` functions register."""

        def __init__(self) -> None:
            self.generic: list[grpc.GenericRpcHandler] = []

        def add_generic_rpc_handlers(self, handlers: Any) -> None:
            self.generic.extend(handlers)

        def add_registered_method_handlers(self, service: str, handlers: Any) -> None:
            pass  # the generic handlers serve the same methods

    servicer = ProviderServicer(long_lived=long_lived)
    collected = Handlers()
    plugin_rpc.add_ProviderServicer_to_server(servicer, collected)
    controller_rpc.add_GRPCControllerServicer_to_server(Controller(), collected)
    stdio_rpc.add_GRPCStdioServicer_to_server(Stdio(), collected)
    return servicer, collected.generic


def _grpc_server(
    *, long_lived: bool, on_shutdown: Callable[[], None]
) -> tuple[Any, Callable[[], object]]:
    """A gRPC server, and the function that loads its services: called by the first call, or
    earlier (the handshake need not wait for them)."""
    import grpc

    class Services(grpc.GenericRpcHandler):  # type: ignore[misc]
        def __init__(self) -> None:
            self._lock = threading.Lock()
            self._handlers: list[Any] | None = None

        def load(self) -> list[Any]:
            with self._lock:
                if self._handlers is None:
                    servicer, self._handlers = _services(long_lived, on_shutdown)
                    servicer.preload()  # every call needs the registry
                return self._handlers

        def service(self, handler_call_details: Any) -> Any:
            for handler in self.load():
                found = handler.service(handler_call_details)
                if found is not None:
                    return found
            return None

    services = Services()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=MAX_WORKERS), handlers=(services,))
    return server, services.load


def serve() -> None:
    import grpc

    from lacework_tokens.provider.tls import load_or_create

    stopped = threading.Event()
    identity = load_or_create()
    server, load_services = _grpc_server(long_lived=False, on_shutdown=stopped.set)

    directory = _socket_directory()
    socket_path = os.path.join(directory, "plugin.sock")
    try:
        credentials = grpc.ssl_server_credentials([(identity.key_pem, identity.cert_pem)])
        server.add_secure_port(f"unix://{socket_path}", credentials)
        server.start()
        handshake = "|".join(
            (
                str(CORE_PROTOCOL_VERSION),
                str(PLUGIN_PROTOCOL_VERSION),
                "unix",
                socket_path,
                "grpc",
                identity.cert_der_b64,
            )
        )
        sys.stdout.write(handshake + "\n")
        sys.stdout.flush()
        # Load the services while Terraform connects rather than after its first call arrives.
        threading.Thread(target=load_services, name="load services", daemon=True).start()
        stopped.wait()
        # Let the Shutdown answer (and any call still running) finish.
        server.stop(grace=1.0).wait()
    finally:
        _remove_socket_directory(directory)
    # Terraform waits for the process to exit; interpreter teardown (gRPC's threads, module
    # finalisers) would add tens of milliseconds to every command, for nothing left to do.
    sys.stderr.flush()
    os._exit(0)


@contextlib.contextmanager
def long_lived() -> Iterator[str]:
    """Serve the provider, in this process, to every terraform command run meanwhile; yields
    the value of ``TF_REATTACH_PROVIDERS`` that points Terraform at it.

    Terraform then neither starts the plugin nor installs it: no plugin start per command, and
    no version, mirror or lock file entry is needed for the provider (``terraform init`` leaves
    the committed lock file alone). Terraform cannot give a reattached plugin a TLS
    certificate, so the socket sits in a directory only this user can enter. Terraform's
    Shutdown calls are ignored: the plugin stops when the block ends.
    """
    server, load_services = _grpc_server(long_lived=True, on_shutdown=lambda: None)
    directory = _socket_directory()
    socket_path = os.path.join(directory, "plugin.sock")
    try:
        server.add_insecure_port(f"unix://{socket_path}")
        server.start()
        load_services()  # now, before any terraform command starts
        yield json.dumps(
            {
                ADDRESS: {
                    "Protocol": "grpc",
                    "ProtocolVersion": PLUGIN_PROTOCOL_VERSION,
                    "Pid": os.getpid(),
                    "Test": True,
                    "Addr": {"Network": "unix", "String": socket_path},
                }
            }
        )
    finally:
        server.stop(grace=1.0).wait()
        _remove_socket_directory(directory)


if __name__ == "__main__":
    main()

"""What Terraform starts: the go-plugin handshake and the gRPC server.

Terraform runs the plugin with a magic cookie in the environment and reads one line from its
stdout: ``1|6|unix|<socket>|grpc|<certificate>``. Everything after that is gRPC over the unix
socket, TLS-protected with the certificate from the handshake. The process lives until Terraform
calls ``GRPCController.Shutdown``.

Start-up time matters (Terraform starts the plugin several times per command), so this module
imports only what the handshake needs; the SDK is imported when the provider is configured.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any, Final

__all__ = ["main", "serve"]

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
    # Terraform forwards Ctrl-C to the whole process group and then stops plugins itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Up to ten calls run at once; with the default 5 ms switch interval, gRPC's dispatch
    # thread queues behind busy handler threads and Terraform's calls arrive spread out.
    sys.setswitchinterval(0.0005)
    serve()


def serve() -> None:
    import grpc
    from tf.gen import grpc_controller_pb2 as controller_pb
    from tf.gen import grpc_controller_pb2_grpc as controller_rpc
    from tf.gen import grpc_stdio_pb2_grpc as stdio_rpc
    from tf.gen import tfplugin_pb2_grpc as plugin_rpc

    from lacework_tokens.provider.servicer import ProviderServicer
    from lacework_tokens.provider.tls import load_or_create

    stopped = threading.Event()

    class Controller(controller_rpc.GRPCControllerServicer):  # type: ignore[misc]
        def Shutdown(self, request: Any, context: Any) -> Any:
            stopped.set()
            return controller_pb.Empty()

    class Stdio(stdio_rpc.GRPCStdioServicer):  # type: ignore[misc]
        def StreamStdio(self, request: Any, context: Any) -> Iterator[Any]:
            # Nothing is forwarded: the plugin writes to stderr, which Terraform logs itself.
            return iter(())

    identity = load_or_create()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=MAX_WORKERS))
    servicer = ProviderServicer()
    plugin_rpc.add_ProviderServicer_to_server(servicer, server)
    controller_rpc.add_GRPCControllerServicer_to_server(Controller(), server)
    stdio_rpc.add_GRPCStdioServicer_to_server(Stdio(), server)

    directory = tempfile.mkdtemp(prefix="lw-plugin-")
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
        # Every call needs the registry (the resource modules, attrs): load it while Terraform
        # connects rather than after its first call arrives.
        threading.Thread(target=servicer.preload, name="preload", daemon=True).start()
        stopped.wait()
        # Let the Shutdown answer (and any call still running) finish.
        server.stop(grace=1.0).wait()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    # Terraform waits for the process to exit; interpreter teardown (gRPC's threads, module
    # finalisers) would add tens of milliseconds to every command, for nothing left to do.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()

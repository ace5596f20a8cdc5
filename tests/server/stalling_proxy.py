"""An HTTP proxy in front of a backend that stalls one chosen request, so a test can kill the
client at exactly that step, with the request either already carried out by the server or not.

```python
with StallingProxy(backend.url, "POST", "/api/v2/AgentAccessTokens", forward=True) as proxy:
    process = subprocess.Popen([... LW_API_SERVER_URL=proxy.url ...])
    proxy.stalled.wait(30)     # the server created the token; the client never hears of it
    process.kill()
```
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Final

import requests

HOP_BY_HOP: Final = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
)


class StallingProxy:
    """Forwards every request to ``target`` except the first ``method path`` (exact path), which
    is forwarded only if ``forward`` and then never answered until the proxy closes."""

    def __init__(self, target: str, method: str, path: str, *, forward: bool) -> None:
        self.target = target.rstrip("/")
        self.method = method
        self.path = path
        self.forward = forward
        self.stalled = threading.Event()  # set once the chosen request is held
        self.seen: list[str] = []  # "METHOD path" of every request, in order
        self._release = threading.Event()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    proxy.seen.append(f"{self.command} {self.path}")
                    chosen = (
                        not proxy.stalled.is_set()
                        and self.command == proxy.method
                        and self.path == proxy.path
                    )
                    if chosen:
                        proxy.stalled.set()
                if chosen:
                    if proxy.forward:
                        proxy._send(self.command, self.path, dict(self.headers), body)
                    proxy._release.wait()
                    self.close_connection = True
                    return
                status, headers, content = proxy._send(
                    self.command, self.path, dict(self.headers), body
                )
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _send(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        forwarded = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
        response = requests.request(
            method, self.target + path, headers=forwarded, data=body, timeout=30
        )
        return response.status_code, dict(response.headers), response.content

    def __enter__(self) -> StallingProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

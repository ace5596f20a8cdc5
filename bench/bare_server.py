"""The baseline: a bare ASGI endpoint on the same uvicorn settings, answering static JSON.

Run as ``python -m bench.bare_server``; prints ``listening on URL`` like ``lacework-tokens serve``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

from lacework_tokens.server.runner import _listen

Message = MutableMapping[str, Any]

# The same shape and size as a real answer for one token.
BODY = json.dumps(
    {
        "data": {
            "accessToken": "0" * 56,
            "createdTime": "2026-11-25T12:00:00.000Z",
            "props": {
                "createdTime": "2026-11-25T12:00:00.000Z",
                "description": "k8s deployment for production env",
                "os": "linux",
            },
            "tokenAlias": "prod",
            "tokenEnabled": 1,
            "version": "0.1",
        }
    },
    separators=(",", ":"),
).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def app(scope: Message, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # drain the request body, as the real app must
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    # The backend's own listener, so both sides get the same socket options (TCP_NODELAY).
    sock = _listen("127.0.0.1", 0)
    config = uvicorn.Config(
        app, lifespan="off", access_log=False, log_config=None, server_header=False
    )
    server = uvicorn.Server(config)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    main()

"""The agent's side of enrollment (this project's extension of the API): enroll with a token,
then check in with it.

Lacework's own agent protocol is not public. The backend serves ``POST /api/v2/AgentEnrollment``
and ``POST /api/v2/AgentCheckin``, authenticated by the agent access token itself (no API key):
the token can do nothing else. ``AgentConnection`` speaks them; ``lacework-tokens agent`` plays
an agent with it, for demonstrations, tests and load.

```python
from lacework_tokens.enrollment import AgentConnection

with AgentConnection("http://127.0.0.1:8080") as agent:
    enrolled = agent.enroll(token, hostname="web-1", tags={"Env": "prod"})
    agent.checkin(token, enrolled.mid)
```

A refusal raises the ``errors`` exception of its status with the server's reason: 401 for an
unknown token, 403 for a disabled, expired or used-up token or another scope, 404 for a check-in
of an agent the token did not enroll.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import requests

from lacework_tokens import __version__, errors, limits, wire
from lacework_tokens.wire import Agent, AgentCheckinRequest, AgentEnrollmentRequest

__all__ = ["AGENT_VERSION", "CHECKIN_PATH", "ENROLLMENT_PATH", "AgentConnection"]

ENROLLMENT_PATH: Final = "/api/v2/AgentEnrollment"
CHECKIN_PATH: Final = "/api/v2/AgentCheckin"
# What a simulated agent reports as its version.
AGENT_VERSION: Final = f"lacework-tokens-{__version__}"

T = TypeVar("T")


class AgentConnection:
    """An agent's connection to a server: one ``requests`` session, no API key."""

    def __init__(self, base_url: str, *, timeout: float = 30.0, verify: bool | str = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.verify = verify
        self.session.headers.update(
            {
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": f"lacework-tokens-agent/{__version__}",
            }
        )

    def __repr__(self) -> str:
        return f"AgentConnection({self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def enroll(
        self,
        token: str,
        hostname: str,
        *,
        os: str = limits.DEFAULT_OS,
        arch: str = "amd64",
        agent_version: str = AGENT_VERSION,
        ip_addr: str = "",
        tags: Mapping[str, str] | None = None,
        scope: str | None = None,
    ) -> Agent:
        """Enroll as ``hostname``; the agent as the server recorded it, ``mid`` included."""
        request = AgentEnrollmentRequest(
            hostname=hostname,
            os=os,
            arch=arch,
            agent_version=agent_version,
            ip_addr=ip_addr,
            tags=dict(tags or {}),
            scope=scope,
        )
        return self._post(ENROLLMENT_PATH, token, wire.converter.unstructure(request))

    def checkin(self, token: str, mid: int) -> Agent:
        """Check in as agent ``mid``, enrolled with ``token``."""
        request = AgentCheckinRequest(mid=mid)
        return self._post(CHECKIN_PATH, token, wire.converter.unstructure(request))

    def _post(self, path: str, token: str, body: Any) -> Agent:
        try:
            response = self.session.post(
                self.base_url + path,
                data=json.dumps(body, separators=(",", ":")),
                headers={"Authorization": token},
                timeout=self.timeout,
            )
        except requests.exceptions.RequestException as exc:
            raise errors.TransportError(
                f"POST {path} to {self.base_url}: {type(exc).__name__}"
            ) from None
        if not 200 <= response.status_code < 300:
            raise errors.error_for_status(
                response.status_code, _message(response, token), method="POST", path=path
            )
        try:
            return wire.parse(response.json()["data"], Agent)
        except (ValueError, KeyError, TypeError, wire.WireError) as exc:
            raise errors.TransportError(f"unexpected answer from POST {path}: {exc}") from None


def _message(response: requests.Response, token: str) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    text = message if isinstance(message, str) else (response.reason or "error")
    # The server never echoes a token; a proxy in between might.
    return text.replace(token, wire.mask(token)) if token else text

"""lacework-tokens: Lacework agent access tokens as code.

```python
from lacework_tokens import Client

with Client.from_env() as client:
    token = client.agent_tokens.create("prod", description="k8s production")
```
"""

from __future__ import annotations

__version__ = "0.1.0"

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lacework_tokens import errors
    from lacework_tokens.agent_tokens import AgentTokens
    from lacework_tokens.client import Client
    from lacework_tokens.errors import (
        ApiError,
        AuthenticationError,
        ConfigurationError,
        ConflictError,
        InvalidRequestError,
        LaceworkError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitedError,
        ServerError,
        TransportError,
    )
    from lacework_tokens.wire import AgentAccessToken, Expression, SearchFilter

# Public names are imported on first use: the Terraform plugin starts a process per command and
# must not pay for requests, attrs and cattrs before its handshake.
_LAZY: dict[str, str] = {
    "AgentTokens": "lacework_tokens.agent_tokens",
    "Client": "lacework_tokens.client",
    "AgentAccessToken": "lacework_tokens.wire",
    "Expression": "lacework_tokens.wire",
    "SearchFilter": "lacework_tokens.wire",
    **{
        name: "lacework_tokens.errors"
        for name in (
            "ApiError",
            "AuthenticationError",
            "ConfigurationError",
            "ConflictError",
            "InvalidRequestError",
            "LaceworkError",
            "NotFoundError",
            "PermissionDeniedError",
            "RateLimitedError",
            "ServerError",
            "TransportError",
        )
    },
}


def __getattr__(name: str) -> Any:
    if name == "errors":
        return import_module("lacework_tokens.errors")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lacework_tokens' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AgentAccessToken",
    "AgentTokens",
    "ApiError",
    "AuthenticationError",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "Expression",
    "InvalidRequestError",
    "LaceworkError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "SearchFilter",
    "ServerError",
    "TransportError",
    "__version__",
    "errors",
]

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

# The errors module imports nothing: every caller may have it at once.
from lacework_tokens import errors
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
    TokenInUseError,
    TransportError,
)

if TYPE_CHECKING:
    from lacework_tokens.agent_tokens import AgentTokens
    from lacework_tokens.agents import Agents
    from lacework_tokens.client import Client
    from lacework_tokens.config import ClientSettings
    from lacework_tokens.delivery import (
        AgentConfig,
        agent_config,
        install_command,
        kubernetes_secret,
    )
    from lacework_tokens.wire import (
        KEEP,
        Agent,
        AgentAccessToken,
        Expression,
        SearchFilter,
        TokenUsage,
    )

# The other public names are imported on first use: the Terraform plugin starts a process per
# command and must not pay for requests, attrs and cattrs before its handshake.
_LAZY: dict[str, str] = {
    "AgentTokens": "lacework_tokens.agent_tokens",
    "Agents": "lacework_tokens.agents",
    "Agent": "lacework_tokens.wire",
    "KEEP": "lacework_tokens.wire",
    "TokenUsage": "lacework_tokens.wire",
    "Client": "lacework_tokens.client",
    "ClientSettings": "lacework_tokens.config",
    "AgentConfig": "lacework_tokens.delivery",
    "agent_config": "lacework_tokens.delivery",
    "install_command": "lacework_tokens.delivery",
    "kubernetes_secret": "lacework_tokens.delivery",
    "AgentAccessToken": "lacework_tokens.wire",
    "Expression": "lacework_tokens.wire",
    "SearchFilter": "lacework_tokens.wire",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lacework_tokens' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "KEEP",
    "Agent",
    "AgentAccessToken",
    "AgentConfig",
    "AgentTokens",
    "Agents",
    "ApiError",
    "AuthenticationError",
    "Client",
    "ClientSettings",
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
    "TokenInUseError",
    "TokenUsage",
    "TransportError",
    "__version__",
    "agent_config",
    "errors",
    "install_command",
    "kubernetes_secret",
]

"""lacework-tokens: Lacework agent access tokens as code.

```python
from lacework_tokens import Client

with Client.from_env() as client:
    token = client.agent_tokens.create("prod", description="k8s production")
```
"""

from __future__ import annotations

__version__ = "0.1.0"

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

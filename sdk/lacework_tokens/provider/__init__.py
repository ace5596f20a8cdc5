"""The Terraform provider plugin ``registry.terraform.io/lacework/lacework``.

It serves the official provider's ``lacework_agent_access_token`` resource and data source over
the Terraform plugin protocol (version 6, gRPC) and does all its work through the SDK
(``lacework_tokens.Client``); it never speaks HTTP itself.

Modules, in the order a request meets them:

- ``server``: the go-plugin handshake, TLS and the gRPC server (what Terraform starts);
- ``servicer``: the plugin protocol's RPCs, translating wire values to Python and back;
- ``tokens``: plan, create, read, update, soft delete and import on the SDK;
- ``schema``, ``values``, ``diagnostics``: the shared vocabulary of the three above;
- ``install`` and ``cli``: ``lacework-tokens terraform install`` (a filesystem mirror).

Importing this package is cheap; the gRPC and SDK imports happen where they are needed, because
Terraform starts a fresh plugin process for every command.
"""

from __future__ import annotations

from typing import Final

HOSTNAME: Final = "registry.terraform.io"
NAMESPACE: Final = "lacework"
TYPE: Final = "lacework"
ADDRESS: Final = f"{HOSTNAME}/{NAMESPACE}/{TYPE}"

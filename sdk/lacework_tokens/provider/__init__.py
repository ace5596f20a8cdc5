"""The Terraform provider plugin ``registry.terraform.io/lacework/lacework``.

It serves the official provider's ``lacework_agent_access_token`` resource and data source over
the Terraform plugin protocol (version 6, gRPC) and does all its work through the SDK
(``lacework_tokens.Client``); it never speaks HTTP itself.

Modules, in the order a request meets them:

- ``server``: the go-plugin handshake, TLS and the gRPC server (what Terraform starts), or one
  long-lived server for many commands (``long_lived``, behind ``lacework-tokens terraform run``);
- ``servicer``: the plugin protocol's RPCs, each dispatched on ``registry`` by type name;
- ``registry``: every resource and data source the provider serves, one line each;
- ``resources/<type>.py`` and ``data_sources/<type>.py``: one module per Terraform type, with
  its models, schema (declared defaults, validators), plan and lifecycle on the SDK;
- ``framework``: what those modules are built from (schema, models, Resource, DataSource);
- ``configure``: the provider block, and the connection to the account it configures;
- ``values``, ``diagnostics``: Terraform values on the wire, and SDK errors as diagnostics;
- ``install``: the filesystem mirror that ``lacework-tokens terraform install``
  (``cli/terraform.py``) writes, one launcher under each served version;
- ``unavailable``: what that launcher runs when the environment behind it is gone, so Terraform
  shows one error naming the fix.

Importing this package is cheap; the gRPC and SDK imports happen where they are needed, because
Terraform starts a fresh plugin process for every command.
"""

from __future__ import annotations

from typing import Final

HOSTNAME: Final = "registry.terraform.io"
NAMESPACE: Final = "lacework"
TYPE: Final = "lacework"
ADDRESS: Final = f"{HOSTNAME}/{NAMESPACE}/{TYPE}"
# The latest release of each major version of the official lacework/lacework provider: the
# versions the plugin is installed as, so that configurations pinned to the official provider
# (~> 2.0, ~> 1.0, >= 1.18) find it. Newest first.
OFFICIAL_VERSIONS: Final = ("2.4.0", "1.19.2", "0.27.0")

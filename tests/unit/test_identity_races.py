"""A key deleted by another request between the service's read and its write: the second
request is answered 404 naming the key, as if it had come after the delete."""

from __future__ import annotations

import pytest

from lacework_tokens.server.crypto import Sealer
from lacework_tokens.server.services import NotFound, Services
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import Role


@pytest.fixture
def services(store: Store) -> Services:
    return Services(store, Sealer.ephemeral())


@pytest.mark.parametrize("operation", ["disable", "delete"])
def test_a_key_deleted_meanwhile_is_not_found(
    services: Services, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    key = services.identity.create_api_key("acme", role=Role.ADMIN)
    name = "set_api_key_enabled" if operation == "disable" else "delete_api_key"
    monkeypatch.setattr(services.identity.store, name, lambda *args, **kwargs: False)
    with pytest.raises(NotFound) as caught:
        if operation == "disable":
            services.identity.set_api_key_enabled(key.key_id, False)
        else:
            services.identity.delete_api_key(key.key_id)
    assert caught.value.message == f"API key '{key.key_id}' was not found."

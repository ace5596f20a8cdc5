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


def test_a_key_for_an_account_created_meanwhile_goes_to_that_account(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another request creates "acme" after this one looked for it and before it creates it.
    services.identity.create_account("acme")
    real_find = services.identity.store.find_account
    looks: list[str] = []

    def find_after_the_other_request(name: str) -> object:
        looks.append(name)
        return None if len(looks) == 1 else real_find(name)

    monkeypatch.setattr(services.identity.store, "find_account", find_after_the_other_request)
    key = services.identity.create_api_key("acme", role=Role.ADMIN)
    assert key.account == "acme"
    assert looks == ["acme", "acme"]
    monkeypatch.undo()
    assert services.identity.get_api_key(key.key_id).account == "acme"

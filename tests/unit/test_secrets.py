from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from lacework_tokens.server.crypto import (
    Sealer,
    SealerError,
    hash_secret,
    new_agent_token,
    new_api_key_id,
    new_api_secret,
    new_bearer_token,
    secret_matches,
)
from together import run_together

TOKEN = "6f3a" * 14


def test_sealed_token_opens_to_the_same_value_and_never_contains_it() -> None:
    sealer = Sealer.ephemeral()
    sealed = sealer.seal(TOKEN)
    assert TOKEN not in sealed
    assert sealer.open(sealed) == TOKEN
    # A fresh nonce each time: equal tokens do not give equal ciphertexts.
    assert sealer.seal(TOKEN) != sealed


def test_lookup_is_stable_per_key_and_differs_between_keys() -> None:
    one, other = Sealer.ephemeral(), Sealer.ephemeral()
    assert one.lookup(TOKEN) == one.lookup(TOKEN)
    assert re.fullmatch(r"[0-9a-f]{64}", one.lookup(TOKEN))
    assert one.lookup(TOKEN) != other.lookup(TOKEN)
    assert one.lookup(TOKEN) != hash_secret(TOKEN)  # keyed: the database alone cannot test guesses


def test_value_sealed_under_another_key_or_tampered_does_not_open() -> None:
    one, other = Sealer.ephemeral(), Sealer.ephemeral()
    sealed = one.seal(TOKEN)
    with pytest.raises(SealerError):
        other.open(sealed)
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealerError):
        one.open(tampered)
    with pytest.raises(SealerError):
        one.open("plain-text")


def test_key_file_is_created_private_once_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "server.key"
    first = Sealer.from_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_text()
    second = Sealer.from_key_file(path)
    assert path.read_text() == content
    assert second.open(first.seal(TOKEN)) == TOKEN
    assert second.lookup(TOKEN) == first.lookup(TOKEN)


def test_servers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "server.key"
    sealers = run_together(8, lambda _: Sealer.from_key_file(path))
    assert len(sealers) == 8
    assert len({s.lookup(TOKEN) for s in sealers}) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["server.key"]


def test_unusable_key_file_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "server.key"
    path.write_text("not hex\n")
    with pytest.raises(SealerError, match=r"server\.key"):
        Sealer.from_key_file(path)
    path.write_text("ab" * 16 + "\n")
    with pytest.raises(SealerError, match="32 bytes"):
        Sealer.from_key_file(path)
    with pytest.raises(SealerError, match="cannot create"):
        Sealer.from_key_file(path / "inside-a-file.key")


def test_repr_does_not_show_the_key() -> None:
    assert repr(Sealer(b"k" * 32)) == "Sealer(key=****)"


def test_secrets_are_matched_by_hash() -> None:
    secret = new_api_secret()
    assert secret_matches(secret, hash_secret(secret))
    assert not secret_matches(secret + "x", hash_secret(secret))
    assert secret not in hash_secret(secret)


def test_generated_values_have_the_documented_shapes() -> None:
    assert re.fullmatch(r"[0-9a-f]{56}", new_agent_token())
    assert re.fullmatch(r"ACME_CORP_[0-9A-F]{32}", new_api_key_id("acme-corp"))
    assert re.fullmatch(r"_[0-9a-f]{32}", new_api_secret())
    assert len(new_bearer_token()) >= 43
    assert len({new_agent_token() for _ in range(100)}) == 100

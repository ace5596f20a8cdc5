"""What every ``Store`` must do, run against each implementation through the ``store`` fixture."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import (
    AccountRecord,
    ApiKeyRecord,
    AuditAction,
    AuditEvent,
    BearerRecord,
    ConditionValue,
    DuplicateAccount,
    DuplicateAlias,
    DuplicateKey,
    Operator,
    Role,
    StoreError,
    TokenChanges,
    TokenColumn,
    TokenCondition,
    TokenRecord,
    TooManyKeys,
)
from together import run_together

T0 = datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)


def token(
    alias: str,
    *,
    account: str = "acme",
    minutes: int = 0,
    enabled: bool = True,
    description: str = "",
    os: str = "linux",
) -> TokenRecord:
    when = T0 + timedelta(minutes=minutes)
    return TokenRecord(
        account=account,
        lookup=f"lookup-{account}-{alias}",
        sealed=f"sealed-{alias}",
        alias=alias,
        enabled=enabled,
        description=description,
        os=os,
        subscription=None,
        created_time=when,
        updated_time=when,
        version="0.1",
    )


def api_key(key_id: str = "ACME_1", *, account: str = "acme") -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=key_id,
        account=account,
        secret_hash="h" * 64,
        role=Role.READ_ONLY,
        user="ci",
        enabled=True,
        created_time=T0,
    )


def search(store: Store, *conditions: TokenCondition, account: str = "acme") -> list[str]:
    return [r.alias for r in store.search_tokens(account, conditions)]


def f(column: str, operator: str, *values: ConditionValue) -> TokenCondition:
    return TokenCondition(TokenColumn(column), Operator(operator), values)


# --- API keys and bearers -------------------------------------------------------------------


def test_api_key_round_trips_and_duplicates_are_refused(store: Store) -> None:
    assert store.count_api_keys() == 0
    assert store.get_api_key("ACME_1") is None
    store.insert_api_key(api_key())
    assert store.get_api_key("ACME_1") == api_key()
    with pytest.raises(DuplicateKey):
        store.insert_api_key(api_key())
    store.insert_api_key(api_key("OTHER_1", account="other"))
    assert store.count_api_keys() == 2
    assert [k.key_id for k in store.list_api_keys()] == ["ACME_1", "OTHER_1"]
    assert [k.key_id for k in store.list_api_keys("other")] == ["OTHER_1"]


def test_api_key_can_be_disabled_and_enabled(store: Store) -> None:
    store.insert_api_key(api_key())
    assert store.set_api_key_enabled("ACME_1", False)
    assert store.get_api_key("ACME_1") == attrs.evolve(api_key(), enabled=False)
    assert store.set_api_key_enabled("ACME_1", True)
    assert store.get_api_key("ACME_1") == api_key()
    assert not store.set_api_key_enabled("NOPE", False)


def test_bearers_are_found_by_hash_and_expired_ones_purged(store: Store) -> None:
    live = BearerRecord(token_hash="a" * 64, key_id="K", account="acme", expires_at=T0)
    dead = BearerRecord(
        token_hash="b" * 64, key_id="K", account="acme", expires_at=T0 - timedelta(seconds=1)
    )
    store.insert_bearer(live)
    store.insert_bearer(dead)
    assert store.get_bearer("a" * 64) == live
    assert store.get_bearer("c" * 64) is None
    assert store.delete_expired_bearers(T0 - timedelta(microseconds=1)) == 1
    assert store.get_bearer("b" * 64) is None
    assert store.get_bearer("a" * 64) == live


# --- tokens ---------------------------------------------------------------------------------


def test_token_round_trips_with_exact_times(store: Store) -> None:
    record = attrs.evolve(token("prod"), subscription="enterprise")
    store.insert_token(record)
    assert store.get_token("acme", record.lookup) == record
    assert store.get_token("other", record.lookup) is None
    assert store.get_token("acme", "missing") is None


def test_alias_is_unique_per_account_only(store: Store) -> None:
    store.insert_token(token("prod"))
    with pytest.raises(DuplicateAlias):
        store.insert_token(attrs.evolve(token("prod"), lookup="another"))
    store.insert_token(token("prod", account="other"))
    assert search(store, account="other") == ["prod"]


def test_same_token_value_twice_is_a_store_error_not_a_duplicate_alias(store: Store) -> None:
    store.insert_token(token("prod"))
    with pytest.raises(StoreError) as caught:
        store.insert_token(attrs.evolve(token("prod"), alias="other"))
    assert not isinstance(caught.value, DuplicateAlias)


def test_concurrent_creates_of_one_alias_give_exactly_one_winner(store: Store) -> None:
    attempts = 8

    def create(n: int) -> str:
        try:
            store.insert_token(attrs.evolve(token("race"), lookup=f"lookup-{n}"))
        except DuplicateAlias:
            return "duplicate"
        return "created"

    outcomes = run_together(attempts, create)
    assert sorted(outcomes) == ["created"] + ["duplicate"] * (attempts - 1)
    assert search(store) == ["race"]


def test_list_is_oldest_first_and_per_account(store: Store) -> None:
    store.insert_token(token("b", minutes=2))
    store.insert_token(token("a", minutes=1))
    store.insert_token(token("c", minutes=3))
    store.insert_token(token("x", account="other"))
    assert [r.alias for r in store.list_tokens("acme")] == ["a", "b", "c"]
    assert [r.alias for r in store.list_tokens("nobody")] == []


def test_update_merges_and_always_moves_updated_time(store: Store) -> None:
    record = attrs.evolve(token("prod", description="d", os="windows"), subscription="standard")
    store.insert_token(record)
    later = T0 + timedelta(hours=1)
    updated = store.update_token("acme", record.lookup, TokenChanges(updated_time=later))
    assert updated == attrs.evolve(record, updated_time=later)
    renamed = store.update_token(
        "acme",
        record.lookup,
        TokenChanges(updated_time=later, alias="prod-abcde-deleted", enabled=False),
    )
    assert renamed == attrs.evolve(
        record, alias="prod-abcde-deleted", enabled=False, updated_time=later
    )
    assert store.get_token("acme", record.lookup) == renamed
    described = store.update_token(
        "acme", record.lookup, TokenChanges(updated_time=later, description="", os="linux")
    )
    assert described is not None
    assert (described.description, described.os, described.subscription) == (
        "",
        "linux",
        "standard",
    )


def test_update_of_unknown_or_foreign_token_is_none(store: Store) -> None:
    store.insert_token(token("prod"))
    changes = TokenChanges(updated_time=T0, enabled=False)
    assert store.update_token("acme", "missing", changes) is None
    assert store.update_token("other", "lookup-acme-prod", changes) is None
    assert store.get_token("acme", "lookup-acme-prod") == token("prod")


def test_rename_onto_a_taken_alias_is_refused_and_changes_nothing(store: Store) -> None:
    store.insert_token(token("a"))
    store.insert_token(token("b", minutes=1))
    with pytest.raises(DuplicateAlias):
        store.update_token(
            "acme", "lookup-acme-b", TokenChanges(updated_time=T0, alias="a", enabled=False)
        )
    assert store.get_token("acme", "lookup-acme-b") == token("b", minutes=1)
    # Renaming a token to its own alias is no conflict; the freed alias is reusable.
    assert store.update_token("acme", "lookup-acme-a", TokenChanges(updated_time=T0, alias="a"))
    store.update_token("acme", "lookup-acme-a", TokenChanges(updated_time=T0, alias="a-x-deleted"))
    store.insert_token(attrs.evolve(token("a"), lookup="new"))


# --- accounts, key limits, deletion, audit ----------------------------------------------------


def event(action: AuditAction, n: int = 0, *, account: str = "acme") -> AuditEvent:
    return AuditEvent(
        time=T0 + timedelta(seconds=n),
        account=account,
        actor="cli:test",
        action=action,
        actor_account=None,
        token_alias=f"t{n}",
        token_id=f"{n:012x}",
        key_id=None,
        detail=f"event {n}",
    )


def without_id(events: list[AuditEvent]) -> list[AuditEvent]:
    return [attrs.evolve(e, id=None) for e in events]


def test_accounts_are_found_without_case_and_unique_without_case(store: Store) -> None:
    store.insert_account(AccountRecord(name="Acme", parent=None, created_time=T0))
    store.insert_account(AccountRecord(name="prod", parent="Acme", created_time=T0))
    assert store.find_account("ACME") == AccountRecord(name="Acme", parent=None, created_time=T0)
    assert store.find_account("Prod") == AccountRecord(name="prod", parent="Acme", created_time=T0)
    assert store.find_account("nope") is None
    with pytest.raises(DuplicateAccount):
        store.insert_account(AccountRecord(name="acme", parent=None, created_time=T0))
    assert [a.name for a in store.list_accounts()] == ["Acme", "prod"]


def test_key_limit_is_checked_with_the_insert(store: Store) -> None:
    store.insert_api_key(api_key("K1"), max_per_user=2)
    store.insert_api_key(api_key("K2"), max_per_user=2)
    with pytest.raises(TooManyKeys):
        store.insert_api_key(api_key("K3"), max_per_user=2)
    with pytest.raises(DuplicateKey):
        store.insert_api_key(api_key("K1"), max_per_user=2)
    store.insert_api_key(api_key("K3", account="other"), max_per_user=2)
    assert store.get_api_key("K3") == api_key("K3", account="other")


def test_deleting_a_key_deletes_its_bearers_and_writes_its_event(store: Store) -> None:
    store.insert_api_key(api_key())
    store.insert_api_key(api_key("ACME_2"))
    for key_id, digit in (("ACME_1", "a"), ("ACME_2", "b")):
        store.insert_bearer(
            BearerRecord(token_hash=digit * 64, key_id=key_id, account="acme", expires_at=T0)
        )
    assert store.delete_api_key("ACME_1", event(AuditAction.KEY_DELETED))
    assert store.get_api_key("ACME_1") is None
    assert store.get_bearer("a" * 64) is None
    assert store.get_bearer("b" * 64) is not None
    assert not store.delete_api_key("ACME_1", event(AuditAction.KEY_DELETED, 1))
    assert not store.set_api_key_enabled("ACME_1", False, event(AuditAction.KEY_DISABLED, 2))
    assert without_id(store.list_audit()) == [event(AuditAction.KEY_DELETED)]


def test_audit_events_round_trip_newest_first(store: Store) -> None:
    for n in range(5):
        store.insert_audit(event(AuditAction.LOGIN_FAILED, n, account="acme" if n % 2 else "b"))
    everything = store.list_audit()
    assert [e.detail for e in everything] == [f"event {n}" for n in (4, 3, 2, 1, 0)]
    assert everything[0] == attrs.evolve(
        event(AuditAction.LOGIN_FAILED, 4, account="b"), id=everything[0].id
    )
    assert [e.detail for e in store.list_audit("acme", limit=1)] == ["event 3"]


def test_audited_changes_write_their_event_in_the_same_transaction(store: Store) -> None:
    record = token("prod")
    store.insert_token(record, event(AuditAction.TOKEN_CREATED))
    seen: list[tuple[TokenRecord, TokenRecord]] = []

    def audit(before: TokenRecord, after: TokenRecord) -> AuditEvent:
        seen.append((before, after))
        return event(AuditAction.TOKEN_DISABLED, 1)

    later = T0 + timedelta(hours=1)
    after = store.update_token(
        "acme", record.lookup, TokenChanges(updated_time=later, enabled=False), audit
    )
    assert seen == [(record, after)]
    assert after == attrs.evolve(record, enabled=False, updated_time=later)
    # A refused or missing change writes nothing.
    store.insert_token(token("b"))
    with pytest.raises(DuplicateAlias):
        store.update_token("acme", "lookup-acme-b", TokenChanges(later, alias="prod"), audit)
    with pytest.raises(DuplicateAlias):
        store.insert_token(
            attrs.evolve(token("prod"), lookup="x"), event(AuditAction.TOKEN_CREATED)
        )
    assert store.update_token("acme", "missing", TokenChanges(later), audit) is None
    assert store.update_token("other", record.lookup, TokenChanges(later), audit) is None
    assert len(seen) == 1
    assert [e.action for e in store.list_audit()] == [
        AuditAction.TOKEN_DISABLED,
        AuditAction.TOKEN_CREATED,
    ]


# --- search ---------------------------------------------------------------------------------


@pytest.fixture
def populated(store: Store) -> Store:
    store.insert_token(token("prod-web", minutes=1, description="Web tier", os="linux"))
    store.insert_token(token("prod_db", minutes=2, description="db 100%", os="windows"))
    store.insert_token(token("Staging", minutes=3, enabled=False, os="linux"))
    store.insert_token(token("dev", minutes=4, description="WEB dev", os="linux"))
    store.insert_token(token("prod-web", account="other"))
    return store


def test_search_without_filters_lists_the_account(populated: Store) -> None:
    assert search(populated) == ["prod-web", "prod_db", "Staging", "dev"]


def test_search_eq_ne_in(populated: Store) -> None:
    assert search(populated, f("alias", "eq", "prod-web")) == ["prod-web"]
    assert search(populated, f("alias", "eq", "staging")) == []
    assert search(populated, f("enabled", "eq", False)) == ["Staging"]
    assert search(populated, f("enabled", "ne", False)) == ["prod-web", "prod_db", "dev"]
    assert search(populated, f("os", "ne", "linux")) == ["prod_db"]
    values = f("alias", "in", "dev", "Staging")
    assert search(populated, values) == ["Staging", "dev"]


def test_search_filters_combine_with_and(populated: Store) -> None:
    assert search(populated, f("os", "eq", "linux"), f("enabled", "eq", True)) == [
        "prod-web",
        "dev",
    ]


def test_like_is_case_sensitive_with_sql_wildcards(populated: Store) -> None:
    assert search(populated, f("alias", "like", "prod%")) == ["prod-web", "prod_db"]
    assert search(populated, f("alias", "like", "PROD%")) == []
    assert search(populated, f("alias", "like", "s%")) == []
    assert search(populated, f("alias", "like", "d_v")) == ["dev"]
    # ``_`` matches any one character unless escaped.
    assert search(populated, f("alias", "like", "prod_%")) == ["prod-web", "prod_db"]
    assert search(populated, f("alias", "like", "prod\\_%")) == ["prod_db"]
    assert search(populated, f("description", "like", "%100\\%")) == ["prod_db"]
    # GLOB metacharacters in a LIKE pattern are plain characters.
    assert search(populated, f("alias", "like", "*")) == []
    assert search(populated, f("alias", "like", "[dp]%")) == []


def test_ilike_ignores_case(populated: Store) -> None:
    assert search(populated, f("description", "ilike", "%web%")) == ["prod-web", "dev"]
    assert search(populated, f("alias", "ilike", "STAG%")) == ["Staging"]
    assert search(populated, f("alias", "ilike", "prod\\_%")) == ["prod_db"]


def test_time_conditions_compare_the_update_time(populated: Store) -> None:
    def at(minutes: int) -> datetime:
        return T0 + timedelta(minutes=minutes)

    assert search(populated, f("updated_time", "gt", at(2))) == ["Staging", "dev"]
    assert search(populated, f("updated_time", "ge", at(2))) == ["prod_db", "Staging", "dev"]
    assert search(populated, f("updated_time", "lt", at(2))) == ["prod-web"]
    assert search(populated, f("updated_time", "le", at(2))) == ["prod-web", "prod_db"]
    assert search(populated, f("updated_time", "eq", at(3))) == ["Staging"]
    # An update moves a token past the cut-off; its creation order does not change.
    populated.update_token(
        "acme", "lookup-acme-prod-web", TokenChanges(updated_time=T0 + timedelta(hours=1))
    )
    assert search(populated, f("updated_time", "gt", at(2))) == ["prod-web", "Staging", "dev"]
    # Other time zones and precisions denote the same instant.
    plus_one = timezone(timedelta(hours=1))
    cut = datetime(2026, 11, 25, 13, 2, 0, 200000, tzinfo=plus_one)
    assert search(populated, f("updated_time", "lt", cut)) == ["prod_db"]


def test_text_comparisons_order_bytewise(populated: Store) -> None:
    assert search(populated, f("alias", "lt", "a")) == ["Staging"]
    assert search(populated, f("alias", "ge", "p")) == ["prod-web", "prod_db"]


# --- like / ilike against a reference matcher -----------------------------------------------

_ALIAS_CHARS = "aAbB-_%*?[]\\"


def _like_regex(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """LIKE as the SQL standard and PostgreSQL define it, with ``\\`` as the escape."""
    out = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(re.escape(next(chars)))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


_patterns = st.text(alphabet=_ALIAS_CHARS, max_size=6).filter(
    lambda p: (len(p) - len(p.rstrip("\\"))) % 2 == 0
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    aliases=st.lists(
        st.text(alphabet=_ALIAS_CHARS, min_size=1, max_size=5), max_size=6, unique=True
    ),
    pattern=_patterns,
    ignore_case=st.booleans(),
)
def test_like_and_ilike_match_the_sql_definition(
    store: Store, aliases: list[str], pattern: str, ignore_case: bool
) -> None:
    # Each example works in an account of its own, so examples share one store.
    account = f"acct-{uuid.uuid4().hex}"
    for n, alias in enumerate(aliases):
        store.insert_token(
            attrs.evolve(token(alias, account=account, minutes=n), lookup=f"{account}-{n}")
        )
    expression = "ilike" if ignore_case else "like"
    regex = _like_regex(pattern, ignore_case=ignore_case)
    expected = [a for a in aliases if regex.fullmatch(a)]
    assert search(store, f("alias", expression, pattern), account=account) == expected


# --- pages, bearers with their keys, batches of audit events ---------------------------------


def test_token_pages_hold_what_a_search_finds_each_token_once_in_order(store: Store) -> None:
    # Several tokens share a creation time: the row id breaks the tie, as in a search.
    for index in range(23):
        store.insert_token(token(f"p{index:02d}", minutes=index // 4))
    store.insert_token(token("elsewhere", account="other"))
    for size in (1, 5, 23, 100):
        pages = list(store.token_pages("acme", page_size=size))
        assert all(1 <= len(page) <= size for page in pages)
        assert [r.alias for page in pages for r in page] == search(store)
    odd = (f("alias", "like", "p%1"),)
    assert [r.alias for page in store.token_pages("acme", odd, 2) for r in page] == search(
        store, *odd
    )
    assert list(store.token_pages("nobody")) == []


def test_a_token_created_while_paging_is_never_read_twice(store: Store) -> None:
    for index in range(6):
        store.insert_token(token(f"t{index}", minutes=index))
    pages = store.token_pages("acme", page_size=2)
    seen = [r.alias for r in next(pages)]
    store.insert_token(token("late", minutes=100))
    store.update_token("acme", "lookup-acme-t0", TokenChanges(updated_time=T0, alias="t0-renamed"))
    seen += [r.alias for page in pages for r in page]
    assert seen == ["t0", "t1", "t2", "t3", "t4", "t5", "late"]


def test_a_bearer_is_read_with_its_key_and_revoked_one_or_all(store: Store) -> None:
    store.insert_api_key(api_key())
    expires = T0 + timedelta(hours=1)
    for name in ("one", "two", "three"):
        store.insert_bearer(BearerRecord(f"hash-{name}", "ACME_1", "acme", expires))
    found = store.get_bearer_and_key("hash-one")
    assert found is not None
    assert found[0] == BearerRecord("hash-one", "ACME_1", "acme", expires)
    assert found[1] == api_key()
    assert store.get_bearer_and_key("hash-none") is None
    event = AuditEvent(T0, "acme", "cli:ops", AuditAction.KEY_BEARERS_REVOKED, key_id="ACME_1")
    assert store.delete_bearers("ACME_1", "hash-one", event) == 1
    assert store.delete_bearers("OTHER", "hash-two") == 0  # another key's bearer: untouched
    assert store.get_bearer_and_key("hash-one") is None
    assert store.get_bearer_and_key("hash-two") is not None
    assert store.delete_bearers("ACME_1") == 2
    assert store.get_bearer_and_key("hash-three") is None
    assert [e.action for e in store.list_audit("acme")] == [AuditAction.KEY_BEARERS_REVOKED]


def test_disabling_a_key_deletes_its_bearers(store: Store) -> None:
    store.insert_api_key(api_key())
    store.insert_bearer(BearerRecord("hash-one", "ACME_1", "acme", T0 + timedelta(hours=1)))
    assert store.set_api_key_enabled("ACME_1", False)
    assert store.set_api_key_enabled("ACME_1", True)
    assert store.get_bearer("hash-one") is None


def test_audit_events_are_written_in_batches_with_their_address(store: Store) -> None:
    events = [
        AuditEvent(
            T0 + timedelta(seconds=n),
            "acme",
            "ACME_1",
            AuditAction.TOKENS_LISTED,
            detail=f"{n} token values",
            address=f"192.0.2.{n}",
        )
        for n in range(3)
    ]
    store.insert_audit_events(events)
    store.insert_audit_events([])
    listed = store.list_audit("acme")
    assert [(e.detail, e.address) for e in reversed(listed)] == [
        (f"{n} token values", f"192.0.2.{n}") for n in range(3)
    ]

"""Who may call: accounts, API keys, bearer tokens, and ``authenticate`` → ``Principal``.

- Every API key belongs to one account. A sub-account has a top-level parent account, whose
  keys may act in it by naming it in ``Account-Name``; any other name is 403, the same answer
  whether that account exists or not.
- A user has at most ``MAX_API_KEYS_PER_USER`` keys per account. User names are compared
  normalized and case-folded (``Admin`` and ``admin`` are one user) and may not hold invisible
  or bidirectional formatting characters. API secrets and bearer tokens are kept as hashes
  only; a secret is shown once, when its key is created.
- A bearer token is issued for a key's id and secret; an unknown key, a wrong or missing secret
  and a disabled key get one answer, after the same work (one key lookup, one hash compared,
  the failure's audit event queued for a known key and a list append skipped for an unknown
  one), so a caller learns nothing about which keys exist.
- A bearer and its key are read together on every request, so revoking the bearers of a key,
  disabling it (which revokes them: enabling it again brings none back) or deleting it locks
  them out at once, in every process sharing the database.
- ``user_profile`` answers ``GET /api/v2/UserProfile`` in Lacework's shape: whose key it is, the
  account it belongs to (as the host name ``<account>.lacework.net``, which is how Lacework's
  clients read it) and the accounts it may act in.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from datetime import datetime, timedelta
from typing import Final

import attrs
from attrs import frozen

from lacework_tokens import limits
from lacework_tokens.server.crypto import (
    hash_secret,
    new_api_key_id,
    new_api_secret,
    new_bearer_token,
    secret_matches,
)
from lacework_tokens.server.services.audit import DEFAULT_ACTOR, DeferredAudit, key_event
from lacework_tokens.server.services.clock import Clock
from lacework_tokens.server.services.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    check_field,
)
from lacework_tokens.server.storage.protocol import Store
from lacework_tokens.server.storage.records import (
    AccountRecord,
    ApiKeyRecord,
    AuditAction,
    AuditEvent,
    BearerRecord,
    DuplicateAccount,
    DuplicateKey,
    Role,
    TooManyKeys,
)
from lacework_tokens.wire import (
    AccessTokenRequest,
    AccessTokenResponse,
    ApiKeyFile,
    UserProfile,
    UserProfileAccount,
)

__all__ = ["MAX_API_KEYS_PER_USER", "IdentityService", "Principal", "may_manage_keys"]

MAX_API_KEYS_PER_USER: Final = 20  # Lacework's documented limit
BEARER_PURGE_INTERVAL_SECONDS: Final = 60.0
# Accounts never disappear or change parent, so what was found stays true; the bound keeps
# memory flat.
ACCOUNT_CACHE_SIZE: Final = 10_000

INVALID_KEY_MESSAGE: Final = "Invalid API key or secret."
MISSING_AUTHORIZATION_MESSAGE: Final = "Missing Authorization header."
INVALID_BEARER_MESSAGE: Final = "Invalid or expired access token."
INVALID_SESSION_MESSAGE: Final = "The API key of this session is disabled or deleted."
# Keys are managed over HTTP only by a signed-in admin; ``lacework-tokens keys`` on the
# database needs no role.
_CAN_MANAGE_KEYS: Final = frozenset({Role.ADMIN})
# What a missing key's secret is compared with: the hash of no secret, which nothing matches
# (an empty secret is refused before the comparison counts).
_NO_SECRET_HASH: Final = hash_secret("")


@frozen
class Principal:
    """Who is calling, resolved from a bearer token.

    ``account`` is the effective account (the key's own, or a sub-account of it chosen with
    ``Account-Name``); ``key_account`` is the account the key belongs to; ``address`` is the
    client's network address, for the audit trail.
    """

    account: str
    key_id: str
    role: Role
    key_account: str
    address: str | None = None


class IdentityService:
    """Accounts, API keys and bearer tokens, with every rule that governs them."""

    def __init__(self, store: Store, clock: Clock, deferred: DeferredAudit | None = None) -> None:
        self.store = store
        self.clock = clock
        self.deferred = deferred or DeferredAudit(store)
        self._purge_lock = threading.Lock()
        self._next_purge = 0.0  # time.monotonic() after which expired bearers are purged
        self._accounts: dict[str, AccountRecord] = {}  # folded name -> sub-account

    def __repr__(self) -> str:
        return f"IdentityService({self.store!r})"

    # --- accounts ---------------------------------------------------------------------------

    def create_account(
        self, name: str, *, parent: str | None = None, actor: str = DEFAULT_ACTOR
    ) -> AccountRecord:
        """A new top-level account, or a sub-account of ``parent`` (a top-level account)."""
        name = _account_name(name)
        parent_name: str | None = None
        if parent is not None:
            found = self.store.find_account(_account_name(parent, "parent"))
            if found is None:
                raise NotFound(f"Account '{parent.strip()}' was not found.")
            if found.parent is not None:
                raise BadRequest(
                    f"Account '{found.name}' is itself a sub-account of '{found.parent}': "
                    "sub-accounts belong to a top-level account.",
                    "parent",
                )
            parent_name = found.name
        record = AccountRecord(name=name, parent=parent_name, created_time=self.clock.now())
        detail = f"sub-account of {parent_name!r}" if parent_name else "top-level account"
        try:
            self.store.insert_account(
                record,
                AuditEvent(
                    time=record.created_time,
                    account=parent_name or name,
                    actor=actor,
                    action=AuditAction.ACCOUNT_CREATED,
                    detail=f"account {name!r}: {detail}",
                ),
            )
        except DuplicateAccount:
            raise Conflict(f"Account '{name}' already exists.") from None
        return record

    def list_accounts(self) -> list[AccountRecord]:
        return self.store.list_accounts()

    def find_account(self, name: str) -> AccountRecord | None:
        return self.store.find_account(name.strip())

    def _account_for_key(self, name: str, actor: str) -> AccountRecord:
        """The account a new key goes to; an unknown name becomes a new top-level account."""
        name = _account_name(name)
        found = self.store.find_account(name)
        if found is not None:
            return found
        try:
            return self.create_account(name, actor=actor)
        except Conflict:  # created meanwhile by someone else
            found = self.store.find_account(name)
            if found is None:  # pragma: no cover - accounts are never deleted
                raise
            return found

    # --- API keys ---------------------------------------------------------------------------

    def has_api_keys(self) -> bool:
        return self.store.count_api_keys() > 0

    def create_api_key(
        self,
        account: str,
        *,
        role: Role = Role.ADMIN,
        user: str = "admin",
        actor: str = DEFAULT_ACTOR,
    ) -> ApiKeyFile:
        """A new key in Lacework's download format; its secret is shown only here.

        ``account`` may name a sub-account: the key then acts in that sub-account only.
        """
        home = self._account_for_key(account, actor)
        user = _user_name(user)
        secret = new_api_secret()
        while True:
            key_id = new_api_key_id(home.name)
            try:
                self._insert_key(home, key_id, secret, role, user, actor)
            except DuplicateKey:  # 128 random bits collided: draw again
                continue
            return _key_file(home, key_id, secret)

    def ensure_api_key(
        self,
        account: str,
        key_id: str,
        secret: str,
        *,
        role: Role = Role.ADMIN,
        user: str = "admin",
        actor: str = DEFAULT_ACTOR,
    ) -> bool:
        """Make sure this key exists (e.g. from ``LW_API_KEY``/``LW_API_SECRET`` at startup).

        ``True`` when it was created. A key with this id but another secret or account is a
        ``Conflict``: an existing key is never silently re-keyed. A secret chosen by an
        operator must pass ``limits.api_secret_problem``, whether the key exists or not.
        """
        account = _account_name(account)
        if not key_id or not key_id.isascii() or not key_id.isprintable():
            raise BadRequest("keyId must be printable ASCII.", "keyId")
        if not secret:
            raise BadRequest("The API secret must not be empty.", "secret")
        problem = limits.api_secret_problem(secret)
        if problem is not None:
            raise BadRequest(f"The API secret {problem}.", "secret")
        existing = self.store.get_api_key(key_id)
        if existing is None:
            home = self._account_for_key(account, actor)
            try:
                self._insert_key(home, key_id, secret, role, _user_name(user), actor)
                return True
            except DuplicateKey:
                existing = self.store.get_api_key(key_id)
        if (
            existing is None
            or existing.account.casefold() != account.casefold()
            or not secret_matches(secret, existing.secret_hash)
        ):
            raise Conflict(f"API key '{key_id}' already exists with another secret or account.")
        return False

    def _insert_key(
        self, home: AccountRecord, key_id: str, secret: str, role: Role, user: str, actor: str
    ) -> None:
        """Store a new enabled key (and its audit event) within the per-user limit."""
        record = ApiKeyRecord(
            key_id=key_id,
            account=home.name,
            secret_hash=hash_secret(secret),
            role=role,
            user=user,
            enabled=True,
            created_time=self.clock.now(),
        )
        try:
            self.store.insert_api_key(
                record,
                max_per_user=MAX_API_KEYS_PER_USER,
                audit=key_event(record, AuditAction.KEY_CREATED, record.created_time, actor),
            )
        except TooManyKeys:
            raise Conflict(
                f"User '{record.user}' already has {MAX_API_KEYS_PER_USER} API keys in account "
                f"'{record.account}', the most allowed: delete one first."
            ) from None

    def list_api_keys(self, account: str | None = None) -> list[ApiKeyRecord]:
        if account is not None:
            found = self.store.find_account(account.strip())
            if found is None:
                return []
            account = found.name
        return self.store.list_api_keys(account)

    def get_api_key(self, key_id: str) -> ApiKeyRecord:
        key = self.store.get_api_key(key_id)
        if key is None:
            raise _key_not_found(key_id)
        return key

    def set_api_key_enabled(
        self, key_id: str, enabled: bool, *, actor: str = DEFAULT_ACTOR
    ) -> None:
        """Disable (or re-enable) a key; its bearer tokens stop (or resume) working at once."""
        key = self.get_api_key(key_id)
        action = AuditAction.KEY_ENABLED if enabled else AuditAction.KEY_DISABLED
        event = key_event(key, action, self.clock.now(), actor)
        if not self.store.set_api_key_enabled(key_id, enabled, event):
            raise _key_not_found(key_id)

    def delete_api_key(self, key_id: str, *, actor: str = DEFAULT_ACTOR) -> ApiKeyRecord:
        """Delete a key and its bearer tokens; they stop working at once."""
        key = self.get_api_key(key_id)
        event = key_event(key, AuditAction.KEY_DELETED, self.clock.now(), actor)
        if not self.store.delete_api_key(key_id, event):
            raise _key_not_found(key_id)
        return key

    # --- bearer tokens ----------------------------------------------------------------------

    def issue_access_token(
        self, request: AccessTokenRequest, secret: str | None, address: str | None = None
    ) -> AccessTokenResponse:
        """A bearer token for ``request.key_id`` if ``secret`` is its secret, valid for
        ``request.expiry_time`` seconds (bounded by the wire format, which parsed it).

        Unknown key, missing or wrong secret and disabled key all get the same answer after
        the same work, so a caller learns nothing about which keys exist. A failure with a
        known key is audited (with ``address``), in the next batch of deferred events.
        """
        key = self.verify_api_key(request.key_id, secret, address)
        now = self.clock.now()
        self._purge_expired_bearers(now)
        bearer = new_bearer_token()
        expires_at = now + timedelta(seconds=request.expiry_time)
        self.store.insert_bearer(
            BearerRecord(
                token_hash=hash_secret(bearer),
                key_id=key.key_id,
                account=key.account,
                expires_at=expires_at,
            )
        )
        return AccessTokenResponse(token=bearer, expires_at=expires_at)

    def verify_api_key(
        self, key_id: str, secret: str | None, address: str | None = None
    ) -> ApiKeyRecord:
        """The enabled key ``key_id`` if ``secret`` is its secret (a bearer request and a console
        sign-in both start here).

        Unknown key, missing or wrong secret and disabled key all get the same answer, so a
        caller learns nothing about which keys exist; a failure with a known key is audited (with
        ``address``), in the next batch of deferred events.
        """
        key = self.store.get_api_key(key_id) if key_id else None
        # Hash even without a key so both paths cost the same.
        matches = secret_matches(secret or "", key.secret_hash if key else _NO_SECRET_HASH)
        if key is None or not secret or not matches or not key.enabled:
            # The same event and the same call whether the key exists or not; only a known
            # key's is written (with no key there is no account to file it under).
            self.deferred.record(
                functools.partial(
                    AuditEvent,
                    time=self.clock.now(),
                    account=key.account if key else "",
                    actor=key.key_id if key else key_id[:128],
                    actor_account=key.account if key else "",
                    action=AuditAction.LOGIN_FAILED,
                    key_id=key.key_id if key else key_id[:128],
                    detail="the key is disabled"
                    if key is not None and not key.enabled and matches
                    else "wrong or missing secret",
                    address=address,
                ),
                write=key is not None,
            )
            raise Unauthorized(INVALID_KEY_MESSAGE)
        return key

    def revoke_bearers(
        self, key_id: str, *, bearer: str | None = None, actor: str = DEFAULT_ACTOR
    ) -> int:
        """Revoke every bearer token of a key, or only ``bearer``; the key stays as it is.
        Returns how many were revoked; ``NotFound`` when there is no such key."""
        key = self.get_api_key(key_id)
        token_hash = None if bearer is None else hash_secret(bearer.strip())
        which = "all bearer tokens" if bearer is None else "one bearer token"
        event = key_event(key, AuditAction.KEY_BEARERS_REVOKED, self.clock.now(), actor)
        return self.store.delete_bearers(
            key_id, token_hash, attrs.evolve(event, detail=f"{which}; {event.detail}")
        )

    def _purge_expired_bearers(self, now: datetime) -> None:
        """Delete expired bearers at most once a minute, by whichever request comes first."""
        if time.monotonic() < self._next_purge or not self._purge_lock.acquire(blocking=False):
            return
        try:
            self._next_purge = time.monotonic() + BEARER_PURGE_INTERVAL_SECONDS
            self.store.delete_expired_bearers(now)
        finally:
            self._purge_lock.release()

    def authenticate(
        self,
        authorization: str | None,
        subaccount: str | None = None,
        address: str | None = None,
    ) -> Principal:
        """The caller behind an ``Authorization`` header: ``Bearer <t>`` or the raw ``<t>``,
        calling from ``address``.

        The bearer and its key are read on every call, so a revoked bearer or a disabled key
        is locked out at once. ``subaccount`` (the ``Account-Name`` header) may name the key's
        own account or, for a key of a top-level account, one of its sub-accounts; anything
        else is ``Forbidden``, with one message whether the account exists or not.
        """
        if authorization is None or not authorization.strip():
            raise Unauthorized(MISSING_AUTHORIZATION_MESSAGE)
        value = authorization.strip()
        scheme, _, rest = value.partition(" ")
        if rest and scheme.lower() == "bearer":
            value = rest.strip()
        if not value or len(value) > limits.TOKEN_VALUE_MAX_LENGTH:
            raise Unauthorized(INVALID_BEARER_MESSAGE)
        # One indexed point query: a revoked bearer or a disabled key is locked out at once.
        found = self.store.get_bearer_and_key(hash_secret(value))
        if found is None:
            raise Unauthorized(INVALID_BEARER_MESSAGE)
        bearer, key = found
        if (
            bearer.expires_at <= self.clock.precise()
            or not key.enabled
            or key.account != bearer.account
        ):
            raise Unauthorized(INVALID_BEARER_MESSAGE)
        account = key.account
        if subaccount:
            wanted = subaccount.strip()
            if wanted and wanted.casefold() != account.casefold():
                account = self._subaccount_of(key, wanted)
        return Principal(
            account=account,
            key_id=key.key_id,
            role=key.role,
            key_account=key.account,
            address=address,
        )

    def _live_key(self, key_id: str, account: str) -> ApiKeyRecord | None:
        """The key ``key_id`` of ``account`` if it still exists and is enabled."""
        key = self.store.get_api_key(key_id)
        if key is None or not key.enabled or key.account != account:
            return None
        return key

    def sign_in(self, key_id: str, secret: str | None, address: str | None = None) -> Principal:
        """A person signing in to the console with an API key from ``address``: checked as a
        bearer request is (one answer for every failure, failures audited), and the sign-in
        itself audited."""
        key = self.verify_api_key(key_id, secret, address)
        self.store.insert_audit(
            AuditEvent(
                time=self.clock.now(),
                account=key.account,
                actor=key.key_id,
                actor_account=key.account,
                action=AuditAction.CONSOLE_SIGNED_IN,
                key_id=key.key_id,
                detail=f"role {key.role.value}, user {key.user!r}",
                address=address,
            )
        )
        return _principal(key)

    def principal_for_key(self, key_id: str, account: str) -> Principal:
        """The caller behind a console session opened with the key ``key_id`` of ``account``.

        Like ``authenticate``, it reads the key on every call: disabling or deleting the key
        ends its sessions at once.
        """
        key = self._live_key(key_id, account)
        if key is None:
            raise Unauthorized(INVALID_SESSION_MESSAGE)
        return _principal(key)

    # --- API keys managed by a signed-in admin (the console) ---------------------------------

    def list_api_keys_as(self, principal: Principal) -> list[ApiKeyRecord]:
        """The keys of the caller's account; only an admin may see them."""
        _require_key_admin(principal, "list API keys")
        return self.store.list_api_keys(principal.account)

    def create_api_key_as(
        self, principal: Principal, *, role: Role = Role.ADMIN, user: str | None = None
    ) -> ApiKeyFile:
        """A new key of the caller's account, for ``user`` (the caller's own user by default),
        with the same rules as ``create_api_key`` (at most ``MAX_API_KEYS_PER_USER`` per user,
        audited with the caller as the actor); its secret is shown only here."""
        _require_key_admin(principal, "create API keys")
        if user is None:
            user = self.get_api_key(principal.key_id).user
        return self.create_api_key(principal.account, role=role, user=user, actor=principal.key_id)

    def set_api_key_enabled_as(self, principal: Principal, key_id: str, enabled: bool) -> None:
        """Disable or enable a key of the caller's account, never the caller's own key."""
        self._managed_key(principal, key_id, "disable" if not enabled else "enable")
        self.set_api_key_enabled(key_id, enabled, actor=principal.key_id)

    def delete_api_key_as(self, principal: Principal, key_id: str) -> ApiKeyRecord:
        """Delete a key of the caller's account, never the caller's own key."""
        self._managed_key(principal, key_id, "delete")
        return self.delete_api_key(key_id, actor=principal.key_id)

    def _managed_key(self, principal: Principal, key_id: str, verb: str) -> ApiKeyRecord:
        _require_key_admin(principal, f"{verb} API keys")
        key = self.store.get_api_key(key_id)
        # Another account's key is answered like a key that does not exist.
        if key is None or key.account != principal.account:
            raise _key_not_found(key_id)
        if key.key_id == principal.key_id:
            raise Conflict(
                f"API key '{key_id}' is the key this session uses: sign in with another "
                f"admin key to {verb} it."
            )
        return key

    def _subaccount_of(self, key: ApiKeyRecord, wanted: str) -> str:
        """The canonical name of sub-account ``wanted`` if ``key``'s account is its parent."""
        folded = wanted.casefold()
        found = self._accounts.get(folded)
        if found is None and limits.ACCOUNT_NAME.fullmatch(wanted):
            found = self.store.find_account(wanted)
            if found is not None and found.parent is not None:
                if len(self._accounts) >= ACCOUNT_CACHE_SIZE:
                    self._accounts.clear()
                self._accounts[folded] = found
        if found is None or found.parent is None or found.parent != key.account:
            raise Forbidden(
                f"This API key may not act in account '{wanted[:64]}' (Account-Name): "
                "use a key of that account or of its parent account."
            )
        return found.name

    # --- who am I ---------------------------------------------------------------------------

    def user_profile(self, caller: Principal) -> UserProfile:
        """The caller's key as Lacework's ``UserProfile`` describes a user.

        ``url`` names the top-level account (``acme.lacework.net``: a sub-account key's account
        is its parent's, as in its key file); ``accounts`` lists the accounts the key may act
        in: its own and, for a key of a top-level account, that account's sub-accounts. A key
        of a top-level account is an organization user (``orgUser``), and an organization
        admin (``orgAdmin``) with the admin role; ``orgAccount`` says the account has
        sub-accounts. The GUIDs are stable digests of the account and user names.
        """
        key = self.store.get_api_key(caller.key_id)
        home = self.store.find_account(caller.key_account)
        if key is None or home is None:  # pragma: no cover - authenticate just read both
            raise Unauthorized(INVALID_BEARER_MESSAGE)
        top = home.parent or home.name
        subs = [a for a in self.store.list_accounts() if a.parent == top]
        reachable = [home.name] if home.parent is not None else [home.name, *(a.name for a in subs)]
        admin = key.role is Role.ADMIN
        return UserProfile(
            username=key.user,
            url=f"{top.lower()}.lacework.net",
            org_account=bool(subs),
            org_admin=admin and home.parent is None,
            org_user=home.parent is None,
            accounts=tuple(
                UserProfileAccount(
                    account_name=name,
                    admin=admin,
                    cust_guid=_guid("account", name),
                    user_guid=_guid("user", home.name, key.user),
                    user_enabled=key.enabled,
                )
                for name in reachable
            ),
        )


def _principal(key: ApiKeyRecord) -> Principal:
    """A key acting in its own account."""
    return Principal(account=key.account, key_id=key.key_id, role=key.role, key_account=key.account)


def may_manage_keys(role: Role) -> bool:
    """Whether a key of this role may list, create, disable and delete API keys."""
    return role in _CAN_MANAGE_KEYS


def _require_key_admin(principal: Principal, action: str) -> None:
    if not may_manage_keys(principal.role):
        raise Forbidden(f"API key role '{principal.role.value}' may not {action}.")


def _guid(*parts: str) -> str:
    """A stable, opaque identifier in the style of Lacework's GUIDs."""
    digest = hashlib.sha256("\x00".join(parts).casefold().encode()).hexdigest()
    return digest[:32].upper()


def _account_name(account: str, field: str = "account") -> str:
    account = account.strip()
    problem = limits.account_name_problem(account)
    if problem is not None:
        raise BadRequest(f"{field} {problem} (got {account[:64]!r}).", field)
    return account


def _user_name(user: str) -> str:
    """The user as keys are counted under it (see ``limits.normalized_user_name``)."""
    normalized = limits.normalized_user_name(user)
    check_field(
        "user", limits.user_name_problem(user.strip()) or limits.user_name_problem(normalized)
    )
    return normalized


def _key_not_found(key_id: str) -> NotFound:
    return NotFound(f"API key '{key_id[:128]}' was not found.")


def _key_file(home: AccountRecord, key_id: str, secret: str) -> ApiKeyFile:
    """Lacework's download format: a sub-account key names its parent and the sub-account."""
    if home.parent is not None:
        return ApiKeyFile(key_id=key_id, secret=secret, account=home.parent, sub_account=home.name)
    return ApiKeyFile(key_id=key_id, secret=secret, account=home.name)

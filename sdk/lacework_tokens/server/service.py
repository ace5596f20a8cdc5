"""The backend's rules, independent of HTTP and of the database.

The HTTP app resolves a caller with ``authenticate`` and calls one method per operation; every
failure is a ``ServiceError`` whose ``status`` and ``message`` go to the client as they are
(messages never contain a secret: token values appear only masked).

Rules kept here, so they hold whatever the store:
- token values are 224 random bits; the server owns every time (client-sent times are ignored)
  and keeps them to the millisecond, as the wire shows them;
- aliases are unique per account, 1 to 64 characters without surrounding whitespace or control
  characters; a soft-deleted alias (``<name>-xxxxx-deleted``) may be longer;
- a PATCH merges ``props`` key by key and always moves the update time;
- roles: ``admin`` may do everything, ``agent-installer`` may create and read tokens,
  ``read-only`` may only read;
- tenancy: every API key belongs to one account; the ``Account-Name`` header may name the key's
  own account or, for a key of a top-level account, one of its sub-accounts; any other name is
  403 (the same answer whether that account exists or not). Tokens live in the effective
  account, and a token of another account is indistinguishable from one that does not exist;
- a user has at most ``MAX_API_KEYS_PER_USER`` keys per account; disabling or deleting a key
  locks its bearer tokens out at once (the key is read on every request);
- every lifecycle change (tokens, keys, accounts) and every failed login with a known key is
  written to the audit trail in the same transaction as the change. An event names a token by
  alias and by the first 12 hex characters of its keyed lookup hash, never by its value.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Final

from attrs import frozen

from lacework_tokens import limits, wire
from lacework_tokens.limits import (
    ACCOUNT_NAME,
    DEFAULT_OS,
    SEARCH_VALUES_MAX,
    TOKEN_VALUE_MAX_LENGTH,
    is_printable_token_value,
)
from lacework_tokens.server.crypto import (
    Sealer,
    hash_secret,
    new_agent_token,
    new_api_key_id,
    new_api_secret,
    new_bearer_token,
    secret_matches,
)
from lacework_tokens.server.sql import ends_in_escape
from lacework_tokens.server.store import (
    AccountRecord,
    ApiKeyRecord,
    AuditAction,
    AuditEvent,
    BearerRecord,
    DuplicateAccount,
    DuplicateAlias,
    DuplicateKey,
    Role,
    Store,
    TokenChanges,
    TokenRecord,
    TooManyKeys,
)
from lacework_tokens.wire import (
    AccessTokenRequest,
    AccessTokenResponse,
    AgentAccessToken,
    ApiKeyFile,
    CreateAgentTokenRequest,
    Expression,
    SearchFilter,
    SearchRequest,
    TokenProps,
    UpdateAgentTokenRequest,
)

__all__ = [
    "AUDIT_LIMIT_MAX",
    "MAX_API_KEYS_PER_USER",
    "SUBSCRIPTIONS",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "Principal",
    "ServiceError",
    "TokenService",
    "Unauthorized",
]

SUBSCRIPTIONS: Final = frozenset({"standard", "professional", "enterprise"})
BEARER_PURGE_INTERVAL_SECONDS: Final = 60.0
# Bearer records never change once issued (they are only deleted after expiry, which is checked
# here anyway), so remembering them is always correct; the bound keeps memory flat.
BEARER_CACHE_SIZE: Final = 10_000
MAX_API_KEYS_PER_USER: Final = 20  # Lacework's documented limit
AUDIT_LIMIT_MAX: Final = 100_000
TOKEN_ID_LENGTH: Final = 12
# Accounts never disappear or change parent, so what was found stays true; the bound keeps
# memory flat.
ACCOUNT_CACHE_SIZE: Final = 10_000
DEFAULT_ACTOR: Final = "system"

INVALID_KEY_MESSAGE: Final = "Invalid API key or secret."
MISSING_AUTHORIZATION_MESSAGE: Final = "Missing Authorization header."
INVALID_BEARER_MESSAGE: Final = "Invalid or expired access token."


# --- errors ---------------------------------------------------------------------------------


class ServiceError(Exception):
    """A failure to report to the client: ``status`` and a ``message`` safe to show."""

    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadRequest(ServiceError):
    """400: the request is malformed; ``field`` is the wire name of the culprit."""

    status = 400

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


# --- the caller -----------------------------------------------------------------------------


@frozen
class Principal:
    """Who is calling, resolved from a bearer token.

    ``account`` is the effective account (the key's own, or a sub-account of it chosen with
    ``Account-Name``); ``key_account`` is the account the key belongs to.
    """

    account: str
    key_id: str
    role: Role
    key_account: str


_CAN_CREATE: Final = frozenset({Role.ADMIN, Role.AGENT_INSTALLER})
_CAN_UPDATE: Final = frozenset({Role.ADMIN})


def _truncate_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def token_id(lookup: str) -> str:
    """How the audit trail names a token: a prefix of its keyed hash, not reversible."""
    return lookup[:TOKEN_ID_LENGTH]


def _changes(before: TokenRecord, after: TokenRecord) -> list[str]:
    changed: list[str] = []
    if before.alias != after.alias:
        changed.append(f"tokenAlias {before.alias!r} -> {after.alias!r}")
    if before.enabled != after.enabled:
        changed.append(f"tokenEnabled {int(before.enabled)} -> {int(after.enabled)}")
    if before.description != after.description:
        changed.append("props.description changed")
    if before.os != after.os:
        changed.append(f"props.os {before.os!r} -> {after.os!r}")
    if before.subscription != after.subscription:
        changed.append(f"props.subscription {before.subscription!r} -> {after.subscription!r}")
    return changed


def _update_action(before: TokenRecord, after: TokenRecord) -> AuditAction:
    renamed = before.alias != after.alias
    if renamed and not after.enabled and after.alias.endswith(limits.SOFT_DELETE_SUFFIX):
        return AuditAction.TOKEN_SOFT_DELETED  # what the provider's destroy does
    if renamed:
        return AuditAction.TOKEN_RENAMED
    if before.enabled != after.enabled:
        return AuditAction.TOKEN_ENABLED if after.enabled else AuditAction.TOKEN_DISABLED
    return AuditAction.TOKEN_UPDATED


def _not_found(token: str) -> NotFound:
    shown = wire.mask(token) if is_printable_token_value(token) else "****"
    return NotFound(f"Agent access token '{shown}' was not found.")


# --- validation -----------------------------------------------------------------------------


def _check(field: str, problem: str | None) -> None:
    if problem is not None:
        raise BadRequest(f"{field} {problem}.", field)


def _validate_alias(alias: str, *, allow_soft_deleted: bool) -> str:
    _check("tokenAlias", limits.alias_problem(alias, allow_soft_deleted=allow_soft_deleted))
    return alias


def _validate_props(props: TokenProps) -> TokenProps:
    if props.description is not None:
        _check("props.description", limits.description_problem(props.description))
    if props.os is not None:
        _check("props.os", limits.os_problem(props.os))
    if props.subscription is not None and props.subscription not in SUBSCRIPTIONS:
        allowed = ", ".join(sorted(SUBSCRIPTIONS))
        raise BadRequest(f"props.subscription must be one of {allowed}.", "props.subscription")
    return props


def _validate_filter(index: int, item: SearchFilter) -> None:
    where = f"filters[{index}]"
    if item.field not in wire.SEARCH_FIELDS:
        raise BadRequest(f"{where}.field: cannot search on {item.field[:64]!r}.", f"{where}.field")
    if item.expression is Expression.IN:
        values = item.values or ()
        if not values:
            raise BadRequest(f"{where}.values must be a non-empty list.", f"{where}.values")
        if len(values) > SEARCH_VALUES_MAX:
            raise BadRequest(
                f"{where}.values may hold at most {SEARCH_VALUES_MAX} values.", f"{where}.values"
            )
        for position, value in enumerate(values):
            _validate_filter_value(item, value, f"{where}.values[{position}]")
        return
    if item.expression in (Expression.LIKE, Expression.ILIKE) and item.field in (
        "tokenEnabled",
        "createdTime",
    ):
        raise BadRequest(
            f"{where}.expression: {item.expression.value!r} applies to text fields only.",
            f"{where}.expression",
        )
    _validate_filter_value(item, item.value, f"{where}.value")
    if item.expression in (Expression.LIKE, Expression.ILIKE) and ends_in_escape(str(item.value)):
        # PostgreSQL refuses such a pattern; refuse it here so every store answers alike.
        raise BadRequest(
            f"{where}.value: a pattern must not end with an unescaped backslash.", f"{where}.value"
        )


def _validate_filter_value(item: SearchFilter, value: str | int | None, where: str) -> None:
    if value is None:
        raise BadRequest(f"{where} is required.", where)
    if item.field == "tokenEnabled":
        if value not in (0, 1, "0", "1"):
            raise BadRequest(f"{where}: tokenEnabled is 0 or 1.", where)
    elif item.field == "createdTime":
        if not isinstance(value, str):
            raise BadRequest(f"{where}: createdTime must be an RFC 3339 time.", where)
        try:
            wire.parse_time(value)
        except ValueError:
            raise BadRequest(f"{where}: createdTime must be an RFC 3339 time.", where) from None
    elif isinstance(value, str) and len(value) > limits.DESCRIPTION_MAX_LENGTH:
        raise BadRequest(f"{where} is too long.", where)


# --- the service ----------------------------------------------------------------------------


class TokenService:
    """API keys, bearer tokens and agent access tokens, with every rule that governs them."""

    def __init__(
        self, store: Store, sealer: Sealer, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = store
        self.sealer = sealer
        self._clock = clock or _utc_now
        self._purge_lock = threading.Lock()
        self._next_purge = 0.0  # time.monotonic() after which expired bearers are purged
        self._bearers: dict[str, BearerRecord] = {}
        self._accounts: dict[str, AccountRecord] = {}  # folded name -> sub-account

    def __repr__(self) -> str:
        return f"TokenService({self.store!r})"

    def now(self) -> datetime:
        """The server's time, to the millisecond (the wire's precision)."""
        value = self._clock()
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return _truncate_ms(value.astimezone(UTC))

    # --- accounts ---------------------------------------------------------------------------

    def create_account(
        self, name: str, *, parent: str | None = None, actor: str = DEFAULT_ACTOR
    ) -> AccountRecord:
        """A new top-level account, or a sub-account of ``parent`` (a top-level account)."""
        name = _validate_account(name)
        parent_name: str | None = None
        if parent is not None:
            found = self.store.find_account(_validate_account(parent, "parent"))
            if found is None:
                raise NotFound(f"Account '{parent.strip()}' was not found.")
            if found.parent is not None:
                raise BadRequest(
                    f"Account '{found.name}' is itself a sub-account of '{found.parent}': "
                    "sub-accounts belong to a top-level account.",
                    "parent",
                )
            parent_name = found.name
        record = AccountRecord(name=name, parent=parent_name, created_time=self.now())
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
        name = _validate_account(name)
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
        user = _validate_user(user)
        secret = new_api_secret()
        while True:
            key_id = new_api_key_id(home.name)
            record = ApiKeyRecord(
                key_id=key_id,
                account=home.name,
                secret_hash=hash_secret(secret),
                role=role,
                user=user,
                enabled=True,
                created_time=self.now(),
            )
            try:
                self._insert_key(record, actor)
            except DuplicateKey:  # 128 random bits collided: draw again
                continue
            return _key_file(home, key_id, secret)

    def _insert_key(self, record: ApiKeyRecord, actor: str) -> None:
        try:
            self.store.insert_api_key(
                record,
                max_per_user=MAX_API_KEYS_PER_USER,
                audit=AuditEvent(
                    time=record.created_time,
                    account=record.account,
                    actor=actor,
                    action=AuditAction.KEY_CREATED,
                    key_id=record.key_id,
                    detail=f"role {record.role.value}, user {record.user!r}",
                ),
            )
        except TooManyKeys:
            raise Conflict(
                f"User '{record.user}' already has {MAX_API_KEYS_PER_USER} API keys in account "
                f"'{record.account}', the most allowed: delete one first."
            ) from None

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
        ``Conflict``: an existing key is never silently re-keyed.
        """
        account = _validate_account(account)
        if not key_id or not key_id.isascii() or not key_id.isprintable():
            raise BadRequest("keyId must be printable ASCII.", "keyId")
        if not secret:
            raise BadRequest("The API secret must not be empty.", "secret")
        existing = self.store.get_api_key(key_id)
        if existing is None:
            home = self._account_for_key(account, actor)
            record = ApiKeyRecord(
                key_id=key_id,
                account=home.name,
                secret_hash=hash_secret(secret),
                role=role,
                user=_validate_user(user),
                enabled=True,
                created_time=self.now(),
            )
            try:
                self._insert_key(record, actor)
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
            raise NotFound(f"API key '{key_id[:128]}' was not found.")
        return key

    def set_api_key_enabled(
        self, key_id: str, enabled: bool, *, actor: str = DEFAULT_ACTOR
    ) -> None:
        """Disable (or re-enable) a key; its bearer tokens stop (or resume) working at once."""
        key = self.get_api_key(key_id)
        event = AuditEvent(
            time=self.now(),
            account=key.account,
            actor=actor,
            action=AuditAction.KEY_ENABLED if enabled else AuditAction.KEY_DISABLED,
            key_id=key.key_id,
            detail=f"role {key.role.value}, user {key.user!r}",
        )
        if not self.store.set_api_key_enabled(key_id, enabled, event):
            raise NotFound(f"API key '{key_id[:128]}' was not found.")

    def delete_api_key(self, key_id: str, *, actor: str = DEFAULT_ACTOR) -> ApiKeyRecord:
        """Delete a key and its bearer tokens; they stop working at once."""
        key = self.get_api_key(key_id)
        event = AuditEvent(
            time=self.now(),
            account=key.account,
            actor=actor,
            action=AuditAction.KEY_DELETED,
            key_id=key.key_id,
            detail=f"role {key.role.value}, user {key.user!r}",
        )
        if not self.store.delete_api_key(key_id, event):
            raise NotFound(f"API key '{key_id[:128]}' was not found.")
        return key

    # --- audit trail ------------------------------------------------------------------------

    def list_audit(self, account: str | None = None, limit: int = 100) -> list[AuditEvent]:
        """The newest ``limit`` events, newest first; only ``account``'s when given."""
        if not 1 <= limit <= AUDIT_LIMIT_MAX:
            raise BadRequest(f"limit must be from 1 to {AUDIT_LIMIT_MAX}.", "limit")
        if account is not None:
            found = self.store.find_account(account.strip())
            account = found.name if found is not None else account.strip()
        return self.store.list_audit(account, limit)

    # --- bearer tokens ----------------------------------------------------------------------

    def issue_access_token(
        self, request: AccessTokenRequest, secret: str | None
    ) -> AccessTokenResponse:
        """A bearer token for ``request.key_id`` if ``secret`` is its secret.

        Unknown key, missing or wrong secret and disabled key all get the same answer, so a
        caller learns nothing about which keys exist.
        """
        _check("expiryTime", limits.expiry_problem(request.expiry_time))
        key = self.store.get_api_key(request.key_id) if request.key_id else None
        # Hash even without a key so both paths cost the same.
        matches = secret_matches(secret or "", key.secret_hash if key else hash_secret(""))
        if key is None or not secret or not matches or not key.enabled:
            if key is not None:
                self.store.insert_audit(
                    AuditEvent(
                        time=self.now(),
                        account=key.account,
                        actor=key.key_id,
                        actor_account=key.account,
                        action=AuditAction.LOGIN_FAILED,
                        key_id=key.key_id,
                        detail="the key is disabled"
                        if key.enabled is False and matches
                        else "wrong or missing secret",
                    )
                )
            raise Unauthorized(INVALID_KEY_MESSAGE)
        now = self.now()
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

    def _purge_expired_bearers(self, now: datetime) -> None:
        """Delete expired bearers at most once a minute, by whichever request comes first."""
        if time.monotonic() < self._next_purge or not self._purge_lock.acquire(blocking=False):
            return
        try:
            self._next_purge = time.monotonic() + BEARER_PURGE_INTERVAL_SECONDS
            self.store.delete_expired_bearers(now)
        finally:
            self._purge_lock.release()

    def authenticate(self, authorization: str | None, subaccount: str | None = None) -> Principal:
        """The caller behind an ``Authorization`` header: ``Bearer <t>`` or the raw ``<t>``.

        The key behind the bearer is read on every call, so disabling a key locks its bearers
        out at once. ``subaccount`` (the ``Account-Name`` header) may name the key's own
        account or, for a key of a top-level account, one of its sub-accounts; anything else is
        ``Forbidden``, with one message whether the account exists or not.
        """
        if authorization is None or not authorization.strip():
            raise Unauthorized(MISSING_AUTHORIZATION_MESSAGE)
        value = authorization.strip()
        scheme, _, rest = value.partition(" ")
        if rest and scheme.lower() == "bearer":
            value = rest.strip()
        if not value or len(value) > TOKEN_VALUE_MAX_LENGTH:
            raise Unauthorized(INVALID_BEARER_MESSAGE)
        bearer = self._get_bearer(hash_secret(value))
        if bearer is None or bearer.expires_at <= self._clock_now_precise():
            raise Unauthorized(INVALID_BEARER_MESSAGE)
        # Read on every call (one indexed point query): a disabled key locks out at once.
        key = self.store.get_api_key(bearer.key_id)
        if key is None or not key.enabled or key.account != bearer.account:
            raise Unauthorized(INVALID_BEARER_MESSAGE)
        account = key.account
        if subaccount:
            wanted = subaccount.strip()
            if wanted and wanted.casefold() != account.casefold():
                account = self._subaccount_of(key, wanted)
        return Principal(account=account, key_id=key.key_id, role=key.role, key_account=key.account)

    def _subaccount_of(self, key: ApiKeyRecord, wanted: str) -> str:
        """The canonical name of sub-account ``wanted`` if ``key``'s account is its parent."""
        folded = wanted.casefold()
        found = self._accounts.get(folded)
        if found is None and ACCOUNT_NAME.fullmatch(wanted):
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

    def _get_bearer(self, token_hash: str) -> BearerRecord | None:
        bearer = self._bearers.get(token_hash)
        if bearer is None:
            bearer = self.store.get_bearer(token_hash)
            if bearer is not None:
                if len(self._bearers) >= BEARER_CACHE_SIZE:
                    self._bearers.clear()  # rare, and refilled by one query per live bearer
                self._bearers[token_hash] = bearer
        return bearer

    def _clock_now_precise(self) -> datetime:
        value = self._clock()
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    # --- agent access tokens ----------------------------------------------------------------

    def _to_wire(self, record: TokenRecord, token: str | None = None) -> AgentAccessToken:
        return AgentAccessToken(
            token=token if token is not None else self.sealer.open(record.sealed),
            name=record.alias,
            description=record.description,
            os=record.os,
            enabled=record.enabled,
            created_time=record.created_time,
            last_updated_time=record.updated_time,
            version=record.version,
            subscription=record.subscription,
        )

    def list_tokens(self, principal: Principal) -> list[AgentAccessToken]:
        return [self._to_wire(r) for r in self.store.list_tokens(principal.account)]

    def get_token(self, principal: Principal, token: str) -> AgentAccessToken:
        record = self._find(principal, token)
        # Found by the keyed hash of ``token``, so the value is ``token``: no need to decrypt.
        return self._to_wire(record, token)

    def _find(self, principal: Principal, token: str) -> TokenRecord:
        if not is_printable_token_value(token):
            raise _not_found(token)
        record = self.store.get_token(principal.account, self.sealer.lookup(token))
        if record is None:
            raise _not_found(token)
        return record

    def create_token(
        self, principal: Principal, request: CreateAgentTokenRequest
    ) -> AgentAccessToken:
        _require(principal, _CAN_CREATE, "create agent access tokens")
        alias = _validate_alias(request.token_alias, allow_soft_deleted=False)
        props = _validate_props(request.props)
        token = new_agent_token()
        now = self.now()
        record = TokenRecord(
            account=principal.account,
            lookup=self.sealer.lookup(token),
            sealed=self.sealer.seal(token),
            alias=alias,
            enabled=request.token_enabled,
            description=props.description or "",
            os=props.os if props.os is not None else DEFAULT_OS,
            subscription=props.subscription,
            created_time=now,
            updated_time=now,
            version=wire.TOKEN_VERSION,
        )
        audit = AuditEvent(
            time=now,
            account=principal.account,
            actor=principal.key_id,
            actor_account=principal.key_account,
            action=AuditAction.TOKEN_CREATED,
            token_alias=alias,
            token_id=token_id(record.lookup),
            detail=f"tokenEnabled {int(record.enabled)}, props.os {record.os!r}",
        )
        try:
            self.store.insert_token(record, audit)
        except DuplicateAlias:
            raise _duplicate(alias) from None
        return self._to_wire(record, token)

    def update_token(
        self, principal: Principal, token: str, request: UpdateAgentTokenRequest
    ) -> AgentAccessToken:
        _require(principal, _CAN_UPDATE, "update agent access tokens")
        alias = request.token_alias
        if alias is not None:
            _validate_alias(alias, allow_soft_deleted=True)
        props = _validate_props(request.props or TokenProps())
        if not is_printable_token_value(token):
            raise _not_found(token)
        changes = TokenChanges(
            updated_time=self.now(),
            alias=alias,
            enabled=request.token_enabled,
            description=props.description,
            os=props.os,
            subscription=props.subscription,
        )
        lookup = self.sealer.lookup(token)

        def audit(before: TokenRecord, after: TokenRecord) -> AuditEvent:
            return AuditEvent(
                time=changes.updated_time,
                account=principal.account,
                actor=principal.key_id,
                actor_account=principal.key_account,
                action=_update_action(before, after),
                token_alias=after.alias,
                token_id=token_id(lookup),
                detail="; ".join(_changes(before, after)) or "no change",
            )

        try:
            record = self.store.update_token(principal.account, lookup, changes, audit)
        except DuplicateAlias:
            raise _duplicate(alias or "") from None
        if record is None:
            raise _not_found(token)
        return self._to_wire(record, token)

    def search_tokens(self, principal: Principal, request: SearchRequest) -> list[AgentAccessToken]:
        filters: Sequence[SearchFilter] = request.filters
        for index, item in enumerate(filters):
            _validate_filter(index, item)
        return [self._to_wire(r) for r in self.store.search_tokens(principal.account, filters)]


def _require(principal: Principal, allowed: frozenset[Role], action: str) -> None:
    if principal.role not in allowed:
        raise Forbidden(f"API key role '{principal.role.value}' may not {action}.")


def _duplicate(alias: str) -> Conflict:
    return Conflict(f"Agent access token with name '{alias}' already exists.")


def _validate_account(account: str, field: str = "account") -> str:
    account = account.strip()
    problem = limits.account_name_problem(account)
    if problem is not None:
        raise BadRequest(f"{field} {problem} (got {account[:64]!r}).", field)
    return account


def _validate_user(user: str) -> str:
    user = user.strip()
    _check("user", limits.user_name_problem(user))
    return user


def _key_file(home: AccountRecord, key_id: str, secret: str) -> ApiKeyFile:
    """Lacework's download format: a sub-account key names its parent and the sub-account."""
    if home.parent is not None:
        return ApiKeyFile(key_id=key_id, secret=secret, account=home.parent, sub_account=home.name)
    return ApiKeyFile(key_id=key_id, secret=secret, account=home.name)

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
- a token of another account is indistinguishable from a token that does not exist.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Final

from attrs import frozen

from lacework_tokens import wire
from lacework_tokens.server.secrets import (
    Sealer,
    hash_secret,
    new_agent_token,
    new_api_key_id,
    new_api_secret,
    new_bearer_token,
    secret_matches,
)
from lacework_tokens.server.store import (
    ApiKeyRecord,
    BearerRecord,
    DuplicateAlias,
    DuplicateKey,
    Role,
    Store,
    TokenChanges,
    TokenRecord,
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
DEFAULT_OS: Final = "linux"
# Longer than any value this server mints; bounds the work done on a garbage path segment.
TOKEN_VALUE_MAX_LENGTH: Final = 256
SEARCH_VALUES_MAX: Final = 1000
BEARER_PURGE_INTERVAL_SECONDS: Final = 60.0
# Bearer records never change once issued (they are only deleted after expiry, which is checked
# here anyway), so remembering them is always correct; the bound keeps memory flat.
BEARER_CACHE_SIZE: Final = 10_000
SOFT_DELETE_SUFFIX: Final = "-deleted"

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
    """Who is calling, resolved from a bearer token: the API key's account, id and role."""

    account: str
    key_id: str
    role: Role


_CAN_CREATE: Final = frozenset({Role.ADMIN, Role.AGENT_INSTALLER})
_CAN_UPDATE: Final = frozenset({Role.ADMIN})


def _truncate_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in text)


def _printable_token_value(value: str) -> bool:
    return 0 < len(value) <= TOKEN_VALUE_MAX_LENGTH and value.isascii() and value.isprintable()


def _not_found(token: str) -> NotFound:
    shown = wire.mask(token) if _printable_token_value(token) else "****"
    return NotFound(f"Agent access token '{shown}' was not found.")


# --- validation -----------------------------------------------------------------------------


def _validate_alias(alias: str, *, allow_soft_deleted: bool) -> str:
    limit = wire.ALIAS_MAX_LENGTH
    if allow_soft_deleted and alias.endswith(SOFT_DELETE_SUFFIX):
        limit = wire.SOFT_DELETE_MAX_LENGTH
    if not 1 <= len(alias) <= limit:
        raise BadRequest(f"tokenAlias must be 1 to {limit} characters long.", "tokenAlias")
    if alias != alias.strip():
        raise BadRequest("tokenAlias must not start or end with whitespace.", "tokenAlias")
    if _has_control_characters(alias):
        raise BadRequest("tokenAlias must not contain control characters.", "tokenAlias")
    return alias


def _validate_props(props: TokenProps) -> TokenProps:
    if props.description is not None and len(props.description) > wire.DESCRIPTION_MAX_LENGTH:
        raise BadRequest(
            f"props.description must be at most {wire.DESCRIPTION_MAX_LENGTH} characters long.",
            "props.description",
        )
    if props.os is not None:
        if not 1 <= len(props.os) <= wire.OS_MAX_LENGTH:
            raise BadRequest(
                f"props.os must be 1 to {wire.OS_MAX_LENGTH} characters long.", "props.os"
            )
        if props.os != props.os.strip() or _has_control_characters(props.os):
            raise BadRequest(
                "props.os must not contain control characters or surrounding whitespace.",
                "props.os",
            )
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
    if item.expression in (Expression.LIKE, Expression.ILIKE) and _ends_in_escape(str(item.value)):
        # PostgreSQL refuses such a pattern; refuse it here so every store answers alike.
        raise BadRequest(
            f"{where}.value: a pattern must not end with an unescaped backslash.", f"{where}.value"
        )


def _ends_in_escape(pattern: str) -> bool:
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return trailing % 2 == 1


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
    elif isinstance(value, str) and len(value) > wire.DESCRIPTION_MAX_LENGTH:
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

    def __repr__(self) -> str:
        return f"TokenService({self.store!r})"

    def now(self) -> datetime:
        """The server's time, to the millisecond (the wire's precision)."""
        value = self._clock()
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return _truncate_ms(value.astimezone(UTC))

    # --- API keys ---------------------------------------------------------------------------

    def has_api_keys(self) -> bool:
        return self.store.count_api_keys() > 0

    def create_api_key(
        self, account: str, *, role: Role = Role.ADMIN, user: str = "admin"
    ) -> ApiKeyFile:
        """A new key in Lacework's download format; its secret is shown only here."""
        account = _validate_account(account)
        secret = new_api_secret()
        while True:
            key_id = new_api_key_id(account)
            try:
                self.store.insert_api_key(
                    ApiKeyRecord(
                        key_id=key_id,
                        account=account,
                        secret_hash=hash_secret(secret),
                        role=role,
                        user=user,
                        enabled=True,
                        created_time=self.now(),
                    )
                )
            except DuplicateKey:  # 128 random bits collided: draw again
                continue
            return ApiKeyFile(key_id=key_id, secret=secret, account=account)

    def ensure_api_key(
        self,
        account: str,
        key_id: str,
        secret: str,
        *,
        role: Role = Role.ADMIN,
        user: str = "admin",
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
        record = ApiKeyRecord(
            key_id=key_id,
            account=account,
            secret_hash=hash_secret(secret),
            role=role,
            user=user,
            enabled=True,
            created_time=self.now(),
        )
        try:
            self.store.insert_api_key(record)
        except DuplicateKey:
            existing = self.store.get_api_key(key_id)
            if (
                existing is None
                or existing.account != account
                or not secret_matches(secret, existing.secret_hash)
            ):
                raise Conflict(
                    f"API key '{key_id}' already exists with another secret or account."
                ) from None
            return False
        return True

    def list_api_keys(self, account: str | None = None) -> list[ApiKeyRecord]:
        return self.store.list_api_keys(account)

    def set_api_key_enabled(self, key_id: str, enabled: bool) -> None:
        """Disable (or re-enable) a key; its bearer tokens stop (or resume) working at once."""
        if not self.store.set_api_key_enabled(key_id, enabled):
            raise NotFound(f"API key '{key_id[:128]}' was not found.")

    # --- bearer tokens ----------------------------------------------------------------------

    def issue_access_token(
        self, request: AccessTokenRequest, secret: str | None
    ) -> AccessTokenResponse:
        """A bearer token for ``request.key_id`` if ``secret`` is its secret.

        Unknown key, missing or wrong secret and disabled key all get the same answer, so a
        caller learns nothing about which keys exist.
        """
        if not 1 <= request.expiry_time <= wire.EXPIRY_MAX_SECONDS:
            raise BadRequest(
                f"expiryTime must be an integer from 1 to {wire.EXPIRY_MAX_SECONDS}.",
                "expiryTime",
            )
        key = self.store.get_api_key(request.key_id) if request.key_id else None
        # Hash even without a key so both paths cost the same.
        matches = secret_matches(secret or "", key.secret_hash if key else hash_secret(""))
        if key is None or not secret or not matches or not key.enabled:
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
        out at once. ``subaccount`` (the ``Account-Name`` header): keys are scoped to one
        account, so a sub-account other than the key's own is refused as ``Unauthorized``.
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
        if subaccount and subaccount.strip().casefold() != key.account.casefold():
            raise Unauthorized(
                f"This API key cannot access sub-account '{subaccount.strip()[:64]}'."
            )
        return Principal(account=key.account, key_id=key.key_id, role=key.role)

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
        if not _printable_token_value(token):
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
        try:
            self.store.insert_token(record)
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
        if not _printable_token_value(token):
            raise _not_found(token)
        changes = TokenChanges(
            updated_time=self.now(),
            alias=alias,
            enabled=request.token_enabled,
            description=props.description,
            os=props.os,
            subscription=props.subscription,
        )
        try:
            record = self.store.update_token(principal.account, self.sealer.lookup(token), changes)
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


def _validate_account(account: str) -> str:
    account = account.strip()
    if not account or _has_control_characters(account) or len(account) > 255:
        raise BadRequest("account must be 1 to 255 printable characters.", "account")
    return account

"""Authentication and authorization for every route that names an account.

It lives with the credentials it checks (tokens, users, permission groups); routes depend on
`account_guard`, and the kernel's fast lane gets `authenticate` from the app."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from creditgate.accounts import service as accounts_service
from creditgate.accounts.permissions import grants
from creditgate.accounts.service import Principal
from creditgate.kernel import errors
from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import Runtime, runtime_of
from creditgate.kernel.services import ServiceKey


class CredentialCache:
    """Recently verified credentials, so the hot path does not read the database per request.

    Keyed by a SHA-256 of the credential (never the secret itself). Only successes are cached,
    so a new token works at once; a revoked token stops working once its entry is older than
    `ttl_ms` (CREDITGATE_AUTH_CACHE_MS, default 1000; 0 turns the cache off).

    When an entry expires under load, the requests that find it missing share one database
    read instead of each starting their own.
    """

    MAX_ACCOUNTS = 100_000

    def __init__(self, ttl_ms: int) -> None:
        self.ttl_ms = ttl_ms
        self._entries: dict[str, tuple[Principal, int]] = {}
        # Accounts an operator's request found: accounts are never deleted, so a positive
        # answer cannot go stale (a gateway's operator token would otherwise read per call).
        self._existing: set[str] = set()
        self._reading: dict[str, asyncio.Future[Principal]] = {}

    def get(self, key: str, now_ms: int) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None or now_ms - entry[1] >= self.ttl_ms:
            return None
        return entry[0]

    async def read_through(self, key: str, now_ms: int,
                           read: Callable[[], Awaitable[Principal]]) -> Principal:
        """The cached principal, or the result of `read` (shared with concurrent callers)."""
        cached = self.get(key, now_ms)
        if cached is not None:
            return cached
        loop = asyncio.get_running_loop()
        reading = self._reading.get(key)
        if reading is None or reading.get_loop() is not loop:
            reading = self._reading[key] = asyncio.ensure_future(read())
            reading.add_done_callback(lambda done: self._forget(key, done))
        # Shielded: a caller that goes away does not cancel the read the others wait for.
        principal = await asyncio.shield(reading)
        self.put(key, principal, now_ms)
        return principal

    def _forget(self, key: str, done: asyncio.Future[Principal]) -> None:
        if self._reading.get(key) is done:
            del self._reading[key]

    def put(self, key: str, principal: Principal, now_ms: int) -> None:
        if self.ttl_ms > 0:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (principal, now_ms)

    def exists(self, account_id: str) -> bool:
        return account_id in self._existing

    def found(self, account_id: str) -> None:
        if self.ttl_ms > 0:
            if len(self._existing) >= self.MAX_ACCOUNTS:
                self._existing.clear()
            self._existing.add(account_id)


def _credential(headers: Mapping[str, str]) -> tuple[str, str, str]:
    """("token", secret, "") or ("key", email, key) from the headers, or an ApiError."""
    header = headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise ApiError(errors.AUTH_MISSING, "Authorization must be 'Bearer <API token>'")
        return "token", secret.strip(), ""
    email = headers.get("x-auth-email")
    key = headers.get("x-auth-key")
    if email and key:
        return "key", email, key
    raise ApiError(errors.AUTH_MISSING,
                   "Missing credentials: send 'Authorization: Bearer <API token>'")


def _look_up(runtime: Runtime, kind: str, first: str, second: str) -> Principal:
    with runtime.db.read() as conn:
        if kind == "token":
            principal = accounts_service.principal_for_token(conn, first)
            if principal is None:
                raise ApiError(errors.AUTH_MISSING, "Invalid or revoked API token")
            return principal
        principal = accounts_service.principal_for_global_key(conn, first, second)
        if principal is None:
            raise ApiError(errors.AUTH_MISSING, "Invalid X-Auth-Email / X-Auth-Key")
        return principal


CREDENTIAL_CACHE = ServiceKey[CredentialCache]("credential_cache")


async def current_principal(request: Request) -> Principal:
    return await principal_from(runtime_of(request), request.headers)


async def principal_from(runtime: Runtime, headers: Mapping[str, str]) -> Principal:
    kind, first, second = _credential(headers)
    cache = runtime.services[CREDENTIAL_CACHE]
    key = hashlib.sha256(f"{kind}\0{first}\0{second}".encode()).hexdigest()
    return await cache.read_through(key, runtime.clock.now_ms(), lambda: run_in_threadpool(
        _look_up, runtime, kind, first, second))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(principal: Principal, account_id: str, permission: str | None) -> None:
    """Refuse unless the caller may act on the account with the permission.

    An account the caller cannot reach answers exactly like one that does not exist.
    Tokens are issued only for existing accounts, so reachability implies existence.
    (An operator reaches every account: `authenticate` checks existence for it instead.)
    """
    if account_id not in principal.account_ids:
        raise ApiError(errors.ACCOUNT_UNREACHABLE, "Unauthorized to access requested resource")
    if permission is not None and not grants(principal.permissions, permission):
        raise ApiError(errors.AUTH_FORBIDDEN,
                       f"Authentication error: this route needs the '{permission}' permission")


def account_guard(permission: str) -> Any:
    """A dependency that authenticates and checks `account_id` from the path."""

    # One level of dependency, not two: each level costs FastAPI a full parameter solve.
    async def guard(request: Request) -> str:
        account_id = str(request.path_params["account_id"])
        await authenticate(runtime_of(request), request.headers, account_id, permission)
        return account_id

    return Depends(guard)


def account_principal_guard(permission: str | None) -> Any:
    """Like `account_guard`, answering the caller (for routes whose answer depends on who
    asks: the token routes bound what a token may mint by its own permissions). None: any
    credential that reaches the account, whatever its permissions."""

    async def guard(request: Request) -> Principal:
        account_id = str(request.path_params["account_id"])
        return await authenticated(runtime_of(request), request.headers, account_id, permission)

    return Depends(guard)


def operator_guard() -> Any:
    """A dependency for operator-only routes: answers the operator's principal.

    Any other credential, however many permissions it holds, is refused with 403 before the
    route runs, so it changes nothing."""

    async def guard(request: Request) -> Principal:
        principal = await current_principal(request)
        if not principal.operator:
            raise ApiError(errors.AUTH_FORBIDDEN,
                           "Authentication error: this route needs an operator token")
        return principal

    return Depends(guard)


async def authenticate(runtime: Runtime, headers: Mapping[str, str], account_id: str,
                       permission: str) -> None:
    """Refuse unless the request's credentials may act on the account with the permission.

    The fast lane's check: an account token's stays one cached lookup and a set test."""
    principal = await principal_from(runtime, headers)
    if principal.operator:
        await _require_existing(runtime, account_id)
        return
    require(principal, account_id, permission)


async def authenticated(runtime: Runtime, headers: Mapping[str, str], account_id: str,
                        permission: str | None) -> Principal:
    """The request's principal, once it may act on the account with the permission."""
    principal = await principal_from(runtime, headers)
    if principal.operator:
        await _require_existing(runtime, account_id)
        return principal
    require(principal, account_id, permission)
    return principal


async def _require_existing(runtime: Runtime, account_id: str) -> None:
    """An operator reaches every account that exists; one that does not answers as for any
    token. Only operators pay for this read, once per account: an account token's check
    stays in memory."""
    cache = runtime.services[CREDENTIAL_CACHE]
    if cache.exists(account_id):
        return
    if not await run_in_threadpool(_account_exists, runtime, account_id):
        raise ApiError(errors.ACCOUNT_UNREACHABLE, "Unauthorized to access requested resource")
    cache.found(account_id)


def _account_exists(runtime: Runtime, account_id: str) -> bool:
    with runtime.db.read() as conn:
        return accounts_service.account_exists(conn, account_id)

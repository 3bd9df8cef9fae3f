"""Authentication and authorization for every route that names an account."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from creditgate.accounts import service as accounts_service
from creditgate.accounts.permissions import grants
from creditgate.accounts.service import Principal
from creditgate.kernel import errors
from creditgate.kernel.errors import ApiError
from creditgate.kernel.runtime import Runtime, runtime_of


def _authenticate(runtime: Runtime, request: Request) -> Principal:
    header = request.headers.get("authorization")
    email = request.headers.get("x-auth-email")
    key = request.headers.get("x-auth-key")
    with runtime.db.read() as conn:
        if header is not None:
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                raise ApiError(errors.AUTH_MISSING, "Authorization must be 'Bearer <API token>'")
            principal = accounts_service.principal_for_token(conn, secret.strip())
            if principal is None:
                raise ApiError(errors.AUTH_MISSING, "Invalid or revoked API token")
            return principal
        if email and key:
            principal = accounts_service.principal_for_global_key(conn, email, key)
            if principal is None:
                raise ApiError(errors.AUTH_MISSING, "Invalid X-Auth-Email / X-Auth-Key")
            return principal
    raise ApiError(errors.AUTH_MISSING,
                   "Missing credentials: send 'Authorization: Bearer <API token>'")


async def current_principal(request: Request) -> Principal:
    return await run_in_threadpool(_authenticate, runtime_of(request), request)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(principal: Principal, account_id: str, permission: str) -> None:
    """Refuse unless the caller may act on the account with the permission.

    An account the caller cannot reach answers exactly like one that does not exist.
    Tokens are issued only for existing accounts, so reachability implies existence.
    """
    if account_id not in principal.account_ids:
        raise ApiError(errors.ACCOUNT_UNREACHABLE, "Unauthorized to access requested resource")
    if not grants(principal.permissions, permission):
        raise ApiError(errors.AUTH_FORBIDDEN,
                       f"Authentication error: this route needs the '{permission}' permission")


def account_guard(permission: str) -> Any:
    """A dependency that authenticates and checks `account_id` from the path."""

    async def guard(request: Request, principal: CurrentPrincipal) -> str:
        account_id = request.path_params["account_id"]
        require(principal, account_id, permission)
        return str(account_id)

    return Depends(guard)

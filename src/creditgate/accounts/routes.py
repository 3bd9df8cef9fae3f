"""Accounts and their API tokens, in Cloudflare's shapes (docs/accounts.md), and
GET /user/tokens/verify."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from creditgate.accounts import management
from creditgate.accounts.auth import (
    CurrentPrincipal,
    account_principal_guard,
    operator_guard,
)
from creditgate.accounts.permissions import BILLING_READ, BILLING_WRITE
from creditgate.accounts.schemas import (
    Account,
    AccountIn,
    AccountsQuery,
    AccountUpdateIn,
    PageQuery,
    PermissionGroup,
    PermissionGroupsQuery,
    Token,
    TokenCreated,
    TokenDeleted,
    TokenIn,
    TokenStatus,
    TokenUpdateIn,
    TokenVerified,
)
from creditgate.accounts.service import Principal
from creditgate.accounts.validation import (
    read_account,
    read_account_update,
    read_name_filter,
    read_page,
    read_token,
)
from creditgate.kernel import errors
from creditgate.kernel.envelope import JSONResponse, ok
from creditgate.kernel.runtime import runtime_of
from creditgate.kernel.schemas import documented
from creditgate.kernel.validation import read_json_object

router = APIRouter(tags=["accounts"])
ACCOUNT = "/accounts/{account_id}"
TOKENS = ACCOUNT + "/tokens"
ONE_TOKEN = TOKENS + "/{token_id}"


@router.get("/user/tokens/verify", **documented(
    TokenStatus, account=False, errors=(errors.AUTH_MISSING, errors.INTERNAL)))
async def verify_token(principal: CurrentPrincipal) -> JSONResponse:
    return ok({"id": principal.id, "status": "active"},
              headers=None)


@router.post("/accounts", **documented(Account, body=AccountIn, account=False, errors=(
    errors.AUTH_MISSING, errors.AUTH_FORBIDDEN, errors.INTERNAL)))
async def post_account(request: Request,
                       _: Principal = operator_guard()) -> JSONResponse:
    """Operator token only: create an account."""
    name = read_account(await read_json_object(request))
    return ok(await run_in_threadpool(management.create_account, runtime_of(request), name))


@router.get("/accounts", **documented(list[Account], query=AccountsQuery, paged=True,
                                      account=False, errors=(
    errors.AUTH_MISSING, errors.INVALID_FIELD, errors.INTERNAL)))
async def get_accounts(request: Request, principal: CurrentPrincipal) -> JSONResponse:
    params = request.query_params
    page, name = read_page(params), read_name_filter(params)
    result, info = await run_in_threadpool(management.list_accounts, runtime_of(request),
                                           principal, name, page)
    return ok(result, result_info=info)


@router.get(ACCOUNT, **documented(Account))
async def get_account(request: Request, account_id: str,
                      _: Principal = account_principal_guard(None)) -> JSONResponse:
    return ok(await run_in_threadpool(management.get_account, runtime_of(request), account_id))


@router.put(ACCOUNT, **documented(Account, body=AccountUpdateIn))
async def put_account(request: Request, account_id: str,
                      _: Principal = operator_guard()) -> JSONResponse:
    """Operator token only: rename an account."""
    given, name = read_account_update(await read_json_object(request))
    return ok(await run_in_threadpool(management.rename_account, runtime_of(request),
                                      account_id, given, name))


@router.get(TOKENS + "/verify", **documented(TokenVerified))
async def verify_account_token(request: Request, account_id: str,
                               principal: Principal = account_principal_guard(None)
                               ) -> JSONResponse:
    return ok({"id": principal.id, "status": "active", "expires_on": None,
               "not_before": None})


@router.get(TOKENS + "/permission_groups", **documented(
    list[PermissionGroup], query=PermissionGroupsQuery, errors=(errors.INVALID_FIELD,)))
async def get_permission_groups(request: Request, account_id: str,
                                _: Principal = account_principal_guard(None)) -> JSONResponse:
    return ok(management.permission_groups(read_name_filter(request.query_params)))


@router.post(TOKENS, **documented(TokenCreated, body=TokenIn))
async def post_token(request: Request, account_id: str,
                     principal: Principal = account_principal_guard(BILLING_WRITE)
                     ) -> JSONResponse:
    wanted = read_token(await read_json_object(request), account_id)
    return ok(await run_in_threadpool(management.create_token, runtime_of(request), principal,
                                      account_id, wanted))


@router.get(TOKENS, **documented(list[Token], query=PageQuery, paged=True,
                                 errors=(errors.INVALID_FIELD,)))
async def get_tokens(request: Request, account_id: str,
                     _: Principal = account_principal_guard(BILLING_READ)) -> JSONResponse:
    page = read_page(request.query_params)
    result, info = await run_in_threadpool(management.list_tokens, runtime_of(request),
                                           account_id, page)
    return ok(result, result_info=info)


@router.get(ONE_TOKEN, **documented(Token, errors=(errors.NOT_FOUND,)))
async def get_token(request: Request, account_id: str, token_id: str,
                    _: Principal = account_principal_guard(BILLING_READ)) -> JSONResponse:
    return ok(await run_in_threadpool(management.get_token, runtime_of(request), account_id,
                                      token_id))


@router.put(ONE_TOKEN, **documented(Token, body=TokenUpdateIn, errors=(errors.NOT_FOUND,)))
async def put_token(request: Request, account_id: str, token_id: str,
                    principal: Principal = account_principal_guard(BILLING_WRITE)
                    ) -> JSONResponse:
    wanted = read_token(await read_json_object(request), account_id, update=True)
    return ok(await run_in_threadpool(management.update_token, runtime_of(request), principal,
                                      account_id, token_id, wanted))


@router.delete(ONE_TOKEN, **documented(TokenDeleted, errors=(errors.NOT_FOUND,)))
async def delete_token(request: Request, account_id: str, token_id: str,
                       principal: Principal = account_principal_guard(BILLING_WRITE)
                       ) -> JSONResponse:
    return ok(await run_in_threadpool(management.delete_token, runtime_of(request), principal,
                                      account_id, token_id))

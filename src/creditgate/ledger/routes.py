"""The credit balance, credit grants (operator) and the transactions of an account."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from creditgate.accounts.auth import account_guard, operator_guard
from creditgate.accounts.permissions import AI_GATEWAY_READ
from creditgate.accounts.service import Principal
from creditgate.kernel import errors
from creditgate.kernel.envelope import JSONResponse, ok
from creditgate.kernel.money import microcents_to_cents_number
from creditgate.kernel.runtime import Runtime, runtime_of
from creditgate.kernel.schemas import documented
from creditgate.kernel.services import ServiceKey
from creditgate.kernel.validation import read_json_object
from creditgate.ledger import transactions
from creditgate.ledger.grants import grant_credit, list_grants
from creditgate.ledger.schemas import (
    CreditBalance,
    CreditGrant,
    CreditGrantIn,
    CreditGrantView,
    TransactionsEnvelope,
    TransactionsQuery,
)
from creditgate.ledger.service import balance_microcents
from creditgate.ledger.validation import read_grant

router = APIRouter(tags=["ledger"])

# The payments domain, when installed, describes the payment method and auto top-up state.
PaymentSummary = Callable[[Connection, str], dict[str, Any]]
# Provided by the composition root (payments/summary.py).
PAYMENT_SUMMARY = ServiceKey[PaymentSummary]("payment_summary")


def no_payment_summary(_: Connection, __: str) -> dict[str, Any]:
    return {
        "has_default_payment_method": False,
        "payment_method": None,
        "topup_config": {"amount": None, "disabledReason": None, "error": None,
                         "lastFailedAt": None, "threshold": None},
        "first_topup_success": False,
    }


def credit_balance(runtime: Runtime, account_id: str) -> dict[str, Any]:
    summary = runtime.services.get(PAYMENT_SUMMARY, no_payment_summary)
    with runtime.db.read() as conn:
        balance = balance_microcents(conn, account_id) or 0
        # balance: cents, with fractions of a cent where usage had them.
        return {"balance": microcents_to_cents_number(balance), **summary(conn, account_id)}


@router.get("/accounts/{account_id}/ai-gateway/billing/credit-balance",
            **documented(CreditBalance))
async def get_credit_balance(request: Request,
                             account_id: str = account_guard(AI_GATEWAY_READ)) -> JSONResponse:
    return ok(await run_in_threadpool(credit_balance, runtime_of(request), account_id))


@router.post("/accounts/{account_id}/ai-gateway/billing/credits", **documented(
    CreditGrant, body=CreditGrantIn, errors=(errors.CONFLICT,)))
async def post_credits(request: Request, account_id: str,
                       _: Principal = operator_guard()) -> JSONResponse:
    """Operator token only: grant credit in cents, idempotent by `id`."""
    wanted = read_grant(await read_json_object(request))
    return ok(await run_in_threadpool(grant_credit, runtime_of(request), account_id, wanted))


@router.get("/accounts/{account_id}/ai-gateway/billing/credit-grants",
            **documented(list[CreditGrantView]))
async def get_credit_grants(request: Request,
                            account_id: str = account_guard(AI_GATEWAY_READ)) -> JSONResponse:
    """The account's credit grants in the spend order (docs/ledger.md), spent and expired ones
    included; `credit-balance` is their remaining sum less any usage no grant covered."""
    return ok(await run_in_threadpool(list_grants, runtime_of(request), account_id))


@router.get("/accounts/{account_id}/ai-gateway/billing/transactions", **documented(
    query=TransactionsQuery, errors=(errors.INVALID_FIELD,),
    also={200: {"model": TransactionsEnvelope,
                "description": "The account's ledger entries, newest first"}}))
async def get_transactions(request: Request,
                           account_id: str = account_guard(AI_GATEWAY_READ)) -> JSONResponse:
    query = transactions.parse_query(request.query_params)
    result, info = await run_in_threadpool(transactions.list_transactions,
                                           runtime_of(request), account_id, query)
    return ok(result, result_info=info)

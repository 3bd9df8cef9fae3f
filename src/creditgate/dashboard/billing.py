"""The customer's money forms: top up, auto top-up and the spending limit.

Each form is read into the body the API's route reads and checked by the API's own validator,
then handed to the same use case, so its refusals (and their messages) are the API's, and a
refused form changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from anyio import from_thread
from fastapi import APIRouter
from sqlalchemy import Connection
from starlette.responses import Response

from creditgate.accounts.permissions import AI_GATEWAY_READ, AI_GATEWAY_WRITE, BILLING_WRITE
from creditgate.accounts.rows import lock_account
from creditgate.dashboard.sessions import ACCOUNT
from creditgate.dashboard.web import Page, page, read_cents
from creditgate.kernel import errors
from creditgate.kernel.errors import ApiError
from creditgate.kernel.ids import new_hex_id
from creditgate.limits import service as limits_service
from creditgate.limits.committer import COMMITTER
from creditgate.limits.validation import read_limit
from creditgate.limits.windows import DURATIONS, STRATEGIES, Limit
from creditgate.payments import auto_topup, methods, topups
from creditgate.payments.errors import PAYMENT_DECLINED
from creditgate.payments.summary import payment_summary
from creditgate.payments.validation import read_auto_topup, read_topup

router = APIRouter(include_in_schema=False)
TEST_CARDS = ("pm_card_visa", "pm_card_mastercard", "pm_card_chargeDeclined",
              "pm_card_chargeDeclinedInsufficientFunds", "pm_card_authenticationRequired")
STRIPE_CSP = ("default-src 'self'; script-src 'self' https://js.stripe.com; "
              "frame-src https://js.stripe.com https://hooks.stripe.com; "
              "connect-src https://api.stripe.com; img-src 'self' data: https://*.stripe.com; "
              "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


def _topup_page(p: Page, status: int = 200, **values: Any) -> Response:
    with p.runtime.db.read() as conn:
        summary = payment_summary(conn, p.account_id)
    settings = p.runtime.settings
    stripe_key = (settings.stripe_publishable_key
                  if settings.payment_processor == "stripe" else "")
    response = p.render(
        "topup.html", status, nav="topup", summary=summary,
        min_cents=topups.MIN_TOPUP_CENTS, max_cents=topups.max_topup_cents(p.runtime),
        test_cards=TEST_CARDS if settings.payment_processor == "sandbox" else (),
        stripe_key=stripe_key, can_pay=p.can(AI_GATEWAY_WRITE),
        can_add_card=p.can(BILLING_WRITE), idempotency_key=new_hex_id(), **values)
    if stripe_key:  # Stripe.js and its frames, on this page only and only with Stripe
        response.headers["Content-Security-Policy"] = STRIPE_CSP
    return response


@router.get("/dashboard/topup")
@page(ACCOUNT)
def topup_form(p: Page) -> Response:
    p.require(AI_GATEWAY_READ)
    topup_id = p.request.query_params.get("topup")
    if topup_id and p.can(AI_GATEWAY_WRITE):  # back from the processor's confirmation
        state = topups.status(p.runtime, p.account_id, topup_id)
        return _topup_page(p, result={"status": state["status"], "id": topup_id})
    return _topup_page(p)


@router.post("/dashboard/topup")
@page(ACCOUNT)
def topup(p: Page) -> Response:
    p.require(AI_GATEWAY_WRITE)
    try:
        request = read_topup({"amount": read_cents(p.form, "amount"),
                              "idempotency_key": p.form.get("idempotency_key") or None},
                             None, max_cents=topups.max_topup_cents(p.runtime))
        card = p.form.get("card", "")
        if card and card != "default":
            p.require(BILLING_WRITE)  # attaching a card is the payment-method route's
            methods.create(p.runtime, p.account_id, card)
        answer = topups.create_manual(p.runtime, p.account_id, request)
    except ApiError as refusal:
        declined = refusal.error == PAYMENT_DECLINED
        return _topup_page(p, refusal.error.status, message=refusal.message,
                           result={"status": "declined", "reason": refusal.message}
                           if declined else None)
    status = "pending" if answer["client_secret"] else "completed"
    return _topup_page(p, result={"status": status, "id": answer["payment_intent_id"],
                                  "amount_cents": request.amount_cents,
                                  "client_secret": answer["client_secret"]})


def _auto_page(p: Page, status: int = 200, **values: Any) -> Response:
    with p.runtime.db.read() as conn:
        summary = payment_summary(conn, p.account_id)
    return p.render("auto_topup.html", status, nav="auto", summary=summary,
                    config=summary["topup_config"], can_write=p.can(AI_GATEWAY_WRITE), **values)


@router.get("/dashboard/auto-topup")
@page(ACCOUNT)
def auto_topup_form(p: Page) -> Response:
    p.require(AI_GATEWAY_READ)
    return _auto_page(p)


@router.post("/dashboard/auto-topup")
@page(ACCOUNT)
def auto_topup_set(p: Page) -> Response:
    p.require(AI_GATEWAY_WRITE)
    try:
        if p.form.get("action") == "disable":
            auto_topup.delete_config(p.runtime, p.account_id)
            return _auto_page(p, message="Auto top-up is off.")
        body = {"amount": read_cents(p.form, "amount"),
                "threshold": read_cents(p.form, "threshold")}
        amount, threshold = read_auto_topup(body, max_cents=topups.max_topup_cents(p.runtime))
        auto_topup.set_config(p.runtime, p.account_id, amount, threshold)
    except ApiError as refusal:
        return _auto_page(p, refusal.error.status, message=refusal.message, failed=True)
    return _auto_page(p, message="Auto top-up saved.")


def _set_limit(p: Page, limit: Limit | None) -> Callable[[Connection], None]:
    def unit(conn: Connection) -> None:
        # The committer's transaction may hold several accounts: this one locks its own.
        if lock_account(conn, p.account_id) is None:
            raise ApiError(errors.ACCOUNT_UNREACHABLE, "Unauthorized to access requested resource")
        limits_service.set_limit(conn, p.account_id, limit, now_ms=p.runtime.clock.now_ms())

    return unit


def _limit_page(p: Page, status: int = 200, **values: Any) -> Response:
    with p.runtime.db.read() as conn:
        view = limits_service.limit_view(conn, p.account_id)
    return p.render("limit.html", status, nav="limit", view=view, durations=DURATIONS,
                    strategies=STRATEGIES, can_write=p.can(AI_GATEWAY_WRITE), **values)


@router.get("/dashboard/limit")
@page(ACCOUNT)
def limit_form(p: Page) -> Response:
    p.require(AI_GATEWAY_READ)
    return _limit_page(p)


@router.post("/dashboard/limit")
@page(ACCOUNT)
def limit_set(p: Page) -> Response:
    p.require(AI_GATEWAY_WRITE)
    try:
        limit = None
        if p.form.get("action") != "remove":
            limit = read_limit({"amount": read_cents(p.form, "amount"),
                                "duration": p.form.get("duration"),
                                "strategy": p.form.get("strategy")})
        # Through the limits committer, as POST …/spending-limit: one writer per account's
        # limit state, whatever the concurrency of authorizations.
        from_thread.run(p.runtime.services[COMMITTER].submit, p.account_id,
                        _set_limit(p, limit))
    except ApiError as refusal:
        return _limit_page(p, refusal.error.status, message=refusal.message, failed=True)
    return _limit_page(p, message="Spending limit removed." if limit is None
                       else "Spending limit saved.")

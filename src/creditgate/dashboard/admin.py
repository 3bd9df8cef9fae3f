"""The operator console at /admin: every account with its balance and this month's spend,
search, an account's ledger, credit grants, new accounts with their first token, sign-in links.

Signed in with an operator token only (`creditgate tokens create --operator`); the use cases
are the operator API's (accounts/management.py, ledger/grants.py, ledger/transactions.py)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from creditgate.accounts import management
from creditgate.accounts import service as accounts_service
from creditgate.accounts.permissions import ALL_GROUPS
from creditgate.accounts.validation import TokenRequest, read_account, read_page
from creditgate.dashboard import figures, sessions
from creditgate.dashboard.sessions import OPERATOR
from creditgate.dashboard.web import Page, page, read_cents, refuse_unknown
from creditgate.kernel.errors import ApiError
from creditgate.kernel.ids import new_hex_id
from creditgate.ledger import transactions
from creditgate.ledger.grants import grant_credit
from creditgate.ledger.validation import read_grant

router = APIRouter(include_in_schema=False)
ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")


def _accounts_page(p: Page, status: int = 200, **extra: Any) -> Response:
    q = p.request.query_params
    search = (q.get("q") or "").strip()[:256]
    listing = read_page({**q, "direction": "desc"})
    now = p.runtime.clock.now_ms()
    with p.runtime.db.read() as conn:
        ids = frozenset({search.lower()}) if ACCOUNT_ID.match(search.lower()) else None
        rows, total = accounts_service.find_accounts(
            conn, name=None if ids else search, ids=ids, offset=listing.offset,
            limit=listing.per_page, descending=True)
        spend = figures.month_spend(conn, [r["id"] for r in rows], now)
        shown = [{**r, "balance": accounts_service.balance_of(conn, r["id"]),
                  "month_spend": spend.get(r["id"], 0)} for r in rows]
    return p.render("admin/accounts.html", status, nav="accounts", accounts=shown, q=search,
                    info=management.paging(listing, len(rows), total), **extra)


@router.get("/admin")
@page(OPERATOR)
def accounts(p: Page) -> Response:
    return _accounts_page(p)


@router.post("/admin/accounts")
@page(OPERATOR)
def account_create(p: Page) -> Response:
    """A new account and its first token (every permission group), shown once."""
    try:
        account = management.create_account(p.runtime, read_account({"name": p.form.get(
            "name", "")}))
    except ApiError as refusal:
        return _accounts_page(p, refusal.error.status, message=refusal.message, failed=True)
    token = management.create_token(p.runtime, p.session.principal, account["id"],
                                    TokenRequest("first token", list(ALL_GROUPS)))
    return _accounts_page(p, created={"account": account, "token": token["value"]},
                          message=f"Account {account['id']} created.")


def _account_page(p: Page, status: int = 200, **extra: Any) -> Response:
    account_id = p.request.path_params["account_id"]
    now = p.runtime.clock.now_ms()
    with p.runtime.db.read() as conn:
        account = (accounts_service.get_account(conn, account_id)
                   if ACCOUNT_ID.match(account_id) else None)
        if account is None:
            raise refuse_unknown(f"No account {account_id}")
        balance = accounts_service.balance_of(conn, account_id)
        spend = figures.month_spend(conn, [account_id], now).get(account_id, 0)
    query = transactions.parse_query(p.request.query_params)
    entries, info = transactions.list_transactions(p.runtime, account_id, query)
    return p.render("admin/account.html", status, nav="accounts", account=account,
                    balance=balance, month_spend=spend, entries=entries, info=info,
                    grant_key=new_hex_id(), **extra)


@router.get("/admin/accounts/{account_id}")
@page(OPERATOR)
def account(p: Page) -> Response:
    return _account_page(p)


@router.post("/admin/accounts/{account_id}/grant")
@page(OPERATOR)
def account_grant(p: Page) -> Response:
    account_id = p.request.path_params["account_id"]
    try:
        if not ACCOUNT_ID.match(account_id):
            raise refuse_unknown(f"No account {account_id}")
        body: dict[str, Any] = {"amount": read_cents(p.form, "amount"),
                                "id": p.form.get("grant_key") or new_hex_id()}
        if p.form.get("description", "").strip():
            body["description"] = p.form["description"].strip()
        grant_credit(p.runtime, account_id, read_grant(body))
    except ApiError as refusal:
        return _account_page(p, refusal.error.status, message=refusal.message, failed=True)
    return _account_page(p, message="Credit granted.")


@router.post("/admin/accounts/{account_id}/link")
@page(OPERATOR)
def account_link(p: Page) -> Response:
    account_id = p.request.path_params["account_id"]
    url = sessions.create_link(p.runtime, account_id) if ACCOUNT_ID.match(account_id) else None
    if url is None:
        raise refuse_unknown(f"No account {account_id}")
    return _account_page(p, link=url, message="Sign-in link created; it works once.")

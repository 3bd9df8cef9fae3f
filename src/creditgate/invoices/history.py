"""Invoice history (newest first, paged) and the live preview of the current month."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from creditgate.accounts.tables import accounts
from creditgate.invoices.buyers import billing_profiles
from creditgate.invoices.errors import INVALID_INVOICE_TYPE, INVALID_PAGINATION
from creditgate.invoices.ids import provisional_invoice_id
from creditgate.invoices.links import pdf_url
from creditgate.invoices.statements import CURRENCY, compute_statement, statements_through
from creditgate.invoices.tables import invoices
from creditgate.invoices.taxes import runtime_tax_rates
from creditgate.kernel import errors
from creditgate.kernel.errors import ApiError
from creditgate.kernel.months import month_of
from creditgate.kernel.runtime import Runtime

ORIGINS = {"auto": ("auto_topup",), "manual": ("manual_topup",), "all": None}
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class HistoryQuery:
    type: str
    page: int
    per_page: int


def _int_param(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    digits = text.strip()
    # ASCII digits only: str.isdigit() also takes '²', which int() refuses, and int() refuses
    # more than 4300 digits; anything longer than `high` is out of range anyway.
    if not (digits.isascii() and digits.isdigit()):
        raise ApiError(INVALID_PAGINATION, f"{name} must be an integer from {low} to {high}",
                       f"/{name}")
    value = int(digits) if len(digits.lstrip("0")) <= len(str(high)) else high + 1
    if not low <= value <= high:
        raise ApiError(INVALID_PAGINATION, f"{name} must be from {low} to {high}", f"/{name}")
    return value


def parse_query(params: Mapping[str, str]) -> HistoryQuery:
    kind = params.get("type", "all")
    if kind not in ORIGINS:
        raise ApiError(INVALID_INVOICE_TYPE, "type must be one of auto, manual, all", "/type")
    page = _int_param(params.get("page"), "page", 1, 1, MAX_PAGE)
    per_page = _int_param(params.get("per_page"), "per_page", 20, 1, MAX_PER_PAGE)
    return HistoryQuery(kind, page, per_page)


def invoice_summary(row: Mapping[str, Any], runtime: Runtime, now_s: int) -> dict[str, Any]:
    """One history entry; amounts are integer cents, `created` Unix seconds."""
    return {
        "id": row["id"],
        "amount_due": int(row["amount_due_cents"]),
        "amount_paid": int(row["amount_paid_cents"]),
        "amount_remaining": int(row["amount_remaining_cents"]),
        "currency": row["currency"],
        "attempt_count": int(row["attempt_count"]),
        "attempted": bool(row["attempted"]),
        "auto_advance": None if row["auto_advance"] is None else bool(row["auto_advance"]),
        "created": int(row["created_s"]),
        "created_by": row["created_by"],
        "description": row["description"],
        "invoice_origin": row["origin"],
        "invoice_pdf": pdf_url(runtime, str(row["id"]), now_s),
        "status": row["status"],
        # Beyond the reference (Stripe's names): the billed period, in Unix seconds.
        "period_start": int(row["period_start_s"]),
        "period_end": int(row["period_end_s"]),
    }


def invoice_history(runtime: Runtime, account_id: str,
                    query: HistoryQuery) -> tuple[dict[str, Any], dict[str, Any]]:
    """(result, result_info) for GET …/invoice-history."""
    where = [invoices.c.account_id == account_id]
    origins = ORIGINS[query.type]
    if origins is not None:
        where.append(invoices.c.origin.in_(origins))
    with runtime.db.read_replica() as conn:  # history: the replica's delay is acceptable
        total = int(conn.execute(select(func.count()).select_from(invoices).where(*where))
                    .scalar_one())
        rows = conn.execute(
            select(invoices).where(*where)
            .order_by(invoices.c.created_s.desc(), invoices.c.id.desc())
            .limit(query.per_page).offset((query.page - 1) * query.per_page)
        ).mappings().all()
    now_s = runtime.clock.now_ms() // 1000
    pagination = {"has_more": query.page * query.per_page < total, "page": query.page,
                  "per_page": query.per_page, "total_count": total}
    result = {"invoices": [invoice_summary(dict(r), runtime, now_s) for r in rows],
              "pagination": pagination}
    return result, dict(pagination)


def invoice_preview(runtime: Runtime, account_id: str) -> dict[str, Any]:
    """The current month's statement as it stands, status draft (same code as the close)."""
    month = month_of(runtime.clock.now_ms())
    rates = runtime_tax_rates(runtime)
    with runtime.db.read_replica() as conn:  # a draft: the replica's delay is acceptable
        row = conn.execute(select(accounts).where(accounts.c.id == account_id)).mappings().first()
        if row is None:
            raise ApiError(errors.ACCOUNT_UNREACHABLE, "Unauthorized to access requested resource")
        countries = billing_profiles(runtime).countries(conn, [account_id])
        pending = statements_through(conn, [dict(row)], month, rates, countries)
        statement = pending[-1] if pending else compute_statement(conn, account_id, month, rates,
                                                                  countries)
    due = statement.amount_due_cents
    return {
        "id": provisional_invoice_id(month),
        "amount_due": due,
        "amount_paid": 0,
        "amount_remaining": due,
        "currency": CURRENCY,
        "invoice_lines": [line.as_api() for line in statement.lines],
        "period_start": statement.period_start_s,
        "period_end": statement.period_end_s,
        "status": "draft",
        # Beyond the reference: the totals behind amount_due, in cents.
        "invoice_origin": "usage",
        "subtotal": statement.subtotal_cents,
        "total_pretax_credit_amounts": statement.credits_cents,
        "tax": statement.tax_cents,
        "tax_rate": str(statement.tax_rate),
        "tax_country": statement.tax_country,
        "total": statement.subtotal_cents - statement.credits_cents + statement.tax_cents,
    }

"""A month's usage statement, computed the same way for the preview and for the close.

Rules (docs/invoices.md explains them):
- One line per provider and model from `usage_rollups` rows billed in the month; usage that
  arrived after its own month was closed gets its own line, marked "late usage from YYYY-MM".
- amount = the exact microcent sum of the line, rounded half-even to whole cents.
- quantity = tokens (input + output) when the usage counted tokens, else requests;
  unit_amount_decimal = amount / quantity, rounded half-even to 12 decimals (cents), so
  quantity x unit_amount_decimal is within quantity x 5e-13 cents of amount and rounds to it.
- Credits: positive non-usage ledger entries (grants, top-ups) created before the month ends,
  consumed first in, first out; what earlier statements applied and negative corrections are
  consumed first. Applied line by line, in whole cents, before tax.
- tax = (subtotal - credits) x the rate of the billing profile's country, half-even to cents;
  amount_due = subtotal - credits + tax.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Connection, case, func, select

from creditgate.invoices.tables import invoices
from creditgate.invoices.taxes import TaxRates, profile_country, tax_cents
from creditgate.kernel.money import MICROCENTS_PER_CENT, microcents_to_whole_cents
from creditgate.kernel.months import month_end_ms, month_of, month_start_ms, next_month
from creditgate.ledger.tables import ledger_entries
from creditgate.usage.tables import usage_rollups

USAGE = "usage"
CURRENCY = "usd"
UNIT_DECIMALS = Decimal("1e-12")


@dataclass(frozen=True)
class CreditApplied:
    amount_cents: int
    ledger_entry_id: int


@dataclass
class Line:
    description: str
    provider: str
    model: str
    unit: str  # "tokens" or "requests"
    quantity: int
    amount_cents: int
    unit_amount_decimal: str
    period_start_s: int
    period_end_s: int
    late_from: str | None
    credits: list[CreditApplied] = field(default_factory=list)

    def as_api(self) -> dict[str, Any]:
        return {
            "amount": self.amount_cents,
            "currency": CURRENCY,
            "description": self.description,
            "period": {"start": self.period_start_s, "end": self.period_end_s},
            "pricing": {"unit_amount_decimal": self.unit_amount_decimal},
            "quantity": self.quantity,
            "pretax_credit_amounts": [
                {"amount": c.amount_cents, "type": "credit_balance",
                 "credit_balance_transaction": str(c.ledger_entry_id), "discount": None}
                for c in self.credits
            ],
            # Beyond the reference: what the quantity counts, and where late usage came from.
            "unit": self.unit,
            "provider": self.provider,
            "model": self.model,
            "late_usage_from": self.late_from,
        }


@dataclass(frozen=True)
class Statement:
    account_id: str
    month: str
    lines: list[Line]
    subtotal_cents: int
    credits_cents: int
    tax_rate: Decimal
    tax_country: str | None
    tax_cents: int

    @property
    def amount_due_cents(self) -> int:
        return self.subtotal_cents - self.credits_cents + self.tax_cents

    @property
    def final_status(self) -> str:
        return "paid" if self.amount_due_cents == 0 else "open"

    @property
    def period_start_s(self) -> int:
        return month_start_ms(self.month) // 1000

    @property
    def period_end_s(self) -> int:
        return month_end_ms(self.month) // 1000


def unit_amount_decimal(amount_cents: int, quantity: int) -> str:
    if quantity <= 0:
        return "0"
    unit = (Decimal(amount_cents) / quantity).quantize(UNIT_DECIMALS, rounding=ROUND_HALF_EVEN)
    text = format(unit, "f").rstrip("0").rstrip(".")
    return text or "0"


def _describe(provider: str, model: str, late_from: str | None) -> str:
    if model and provider:
        name = f"{model} ({provider})"
    else:
        name = model or provider or "Usage without a model"
    return f"{name} — late usage from {late_from}" if late_from else name


def _lines(conn: Connection, account_id: str, month: str) -> list[Line]:
    start_ms = month_start_ms(month)
    late = case((usage_rollups.c.hour_start_ms < start_ms, 1), else_=0)
    rows = conn.execute(
        select(usage_rollups.c.provider, usage_rollups.c.model, late.label("late"),
               func.min(usage_rollups.c.hour_start_ms), func.max(usage_rollups.c.hour_start_ms),
               func.sum(usage_rollups.c.cost_microcents), func.sum(usage_rollups.c.input_tokens),
               func.sum(usage_rollups.c.output_tokens), func.sum(usage_rollups.c.event_count))
        .where(usage_rollups.c.account_id == account_id,
               usage_rollups.c.billing_month == month)
        .group_by(usage_rollups.c.provider, usage_rollups.c.model, late)
    ).all()
    lines = []
    for provider, model, is_late, first_ms, last_ms, cost, tokens_in, tokens_out, events in rows:
        tokens = int(tokens_in) + int(tokens_out)
        unit, quantity = ("tokens", tokens) if tokens > 0 else ("requests", int(events))
        amount = microcents_to_whole_cents(int(cost))
        late_from = None
        period = (start_ms, month_end_ms(month))
        if is_late:
            first, last = month_of(int(first_ms)), month_of(int(last_ms))
            late_from = first if first == last else f"{first} to {last}"
            period = (month_start_ms(first), month_end_ms(last))
        lines.append(Line(_describe(provider, model, late_from), provider, model, unit,
                          quantity, amount, unit_amount_decimal(amount, quantity),
                          period[0] // 1000, period[1] // 1000, late_from))
    lines.sort(key=lambda line: (line.late_from is not None, line.late_from or "",
                                 line.provider, line.model))
    return lines


def _credit_pool(conn: Connection, account_id: str, until_ms: int) -> tuple[list[Any], int]:
    """Credit entries (id, whole cents) oldest first, and cents of negative corrections."""
    rows = conn.execute(
        select(ledger_entries.c.id, ledger_entries.c.amount_microcents)
        .where(ledger_entries.c.account_id == account_id, ledger_entries.c.kind != "usage",
               ledger_entries.c.created_ms < until_ms)
        .order_by(ledger_entries.c.created_ms, ledger_entries.c.id)
    ).all()
    pool = [(int(r[0]), int(r[1]) // MICROCENTS_PER_CENT) for r in rows if r[1] > 0]
    corrections = sum(-int(r[1]) for r in rows if r[1] < 0)
    return pool, -(-corrections // MICROCENTS_PER_CENT)


def _consumed_by_statements(conn: Connection, account_id: str, month: str) -> int:
    total = conn.execute(
        select(func.coalesce(func.sum(invoices.c.credits_applied_cents), 0))
        .where(invoices.c.account_id == account_id, invoices.c.origin == USAGE,
               invoices.c.period_month < month)
    ).scalar_one()
    return int(total)


def _apply_credits(lines: Sequence[Line], pool: Sequence[tuple[int, int]], skip: int) -> int:
    """Consume the pool first in, first out after `skip` cents; returns cents applied."""
    available = []
    for entry_id, cents in pool:
        used = min(skip, cents)
        skip -= used
        if cents - used > 0:
            available.append([entry_id, cents - used])
    applied = 0
    for line in lines:
        owed = line.amount_cents
        while owed > 0 and available:
            entry = available[0]
            take = min(owed, entry[1])
            line.credits.append(CreditApplied(take, entry[0]))
            owed -= take
            applied += take
            entry[1] -= take
            if entry[1] == 0:
                available.pop(0)
    return applied


def compute_statement(conn: Connection, account_id: str, month: str, rates: TaxRates, *,
                      pending_credits_cents: int = 0) -> Statement:
    """The statement of `month` from the data now stored.

    `pending_credits_cents`: credits that earlier, not yet stored statements will apply.
    """
    lines = _lines(conn, account_id, month)
    pool, corrections = _credit_pool(conn, account_id, month_end_ms(month))
    skip = corrections + _consumed_by_statements(conn, account_id, month) + pending_credits_cents
    credits = _apply_credits(lines, pool, skip)
    subtotal = sum(line.amount_cents for line in lines)
    country = profile_country(conn, account_id)
    rate = rates.rate_for(country)
    return Statement(account_id, month, lines, subtotal, credits, rate, country,
                     tax_cents(subtotal - credits, rate))


def first_unclosed_month(conn: Connection, account: Mapping[str, Any]) -> str:
    closed = account["closed_through_month"]
    if closed:
        return next_month(str(closed))
    # Usage may be back-dated before the account's creation; bill from the earliest of both.
    earliest = conn.execute(
        select(func.min(usage_rollups.c.billing_month))
        .where(usage_rollups.c.account_id == account["id"])
    ).scalar_one_or_none()
    created = month_of(int(account["created_ms"]))
    return min(created, earliest) if earliest else created


def statements_through(conn: Connection, account: Mapping[str, Any], through: str,
                       rates: TaxRates) -> list[Statement]:
    """Every unclosed month of the account up to `through`, oldest first."""
    month = first_unclosed_month(conn, account)
    statements: list[Statement] = []
    pending = 0
    while month <= through:
        statement = compute_statement(conn, str(account["id"]), month, rates,
                                      pending_credits_cents=pending)
        pending += statement.credits_cents
        statements.append(statement)
        month = next_month(month)
    return statements

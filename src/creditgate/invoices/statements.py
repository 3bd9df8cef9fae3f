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

from sqlalchemy import Connection, Select, case, func, select

from creditgate.invoices.tables import invoices
from creditgate.invoices.taxes import TaxRates, tax_cents
from creditgate.kernel.money import MICROCENTS_PER_CENT, microcents_to_whole_cents
from creditgate.kernel.months import month_end_ms, month_of, month_start_ms, next_month
from creditgate.ledger.tables import STATEMENT_CREDITS, ledger_entries
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


def _line(month: str, row: Any) -> Line:
    _, provider, model, is_late, first_ms, last_ms, cost, tokens_in, tokens_out, events = row
    tokens = int(tokens_in) + int(tokens_out)
    unit, quantity = ("tokens", tokens) if tokens > 0 else ("requests", int(events))
    amount = microcents_to_whole_cents(int(cost))
    late_from = None
    period = (month_start_ms(month), month_end_ms(month))
    if is_late:
        first, last = month_of(int(first_ms)), month_of(int(last_ms))
        late_from = first if first == last else f"{first} to {last}"
        period = (month_start_ms(first), month_end_ms(last))
    return Line(_describe(provider, model, late_from), provider, model, unit, quantity, amount,
                unit_amount_decimal(amount, quantity), period[0] // 1000, period[1] // 1000,
                late_from)


@dataclass
class MonthInputs:
    """What the statements of one month need, for a set of accounts, in four queries."""

    month: str
    lines: dict[str, list[Line]]
    pools: dict[str, list[tuple[int, int]]]  # credit entries (id, whole cents), oldest first
    corrections: dict[str, int]  # cents of negative corrections, consumed from the pool first
    consumed: dict[str, int]  # cents earlier stored statements applied
    countries: dict[str, str | None]


def credit_entries(account_ids: Sequence[str],
                   before_ms: int) -> Select[str, int, int]:
    """(account, entry id, microcents) of the accounts' non-usage ledger entries, oldest first."""
    e = ledger_entries.c
    return (select(e.account_id, e.id, e.amount_microcents)
            .where(e.account_id.in_(account_ids), STATEMENT_CREDITS, e.created_ms < before_ms)
            .order_by(e.account_id, e.created_ms, e.id))


def load_inputs(conn: Connection, account_ids: Sequence[str], month: str,
                countries: Mapping[str, str | None]) -> MonthInputs:
    """`countries`: the billing profiles' countries (invoices/buyers.py), for the tax."""
    ids = list(account_ids)
    start_ms, end_ms = month_start_ms(month), month_end_ms(month)
    r = usage_rollups.c
    late = case((r.hour_start_ms < start_ms, 1), else_=0)
    lines: dict[str, list[Line]] = {a: [] for a in ids}
    for row in conn.execute(
        select(r.account_id, r.provider, r.model, late.label("late"), func.min(r.hour_start_ms),
               func.max(r.hour_start_ms), func.sum(r.cost_microcents), func.sum(r.input_tokens),
               func.sum(r.output_tokens), func.sum(r.event_count))
        .where(r.account_id.in_(ids), r.billing_month == month)
        .group_by(r.account_id, r.provider, r.model, late)
    ):
        lines[row[0]].append(_line(month, row))
    for account_lines in lines.values():
        account_lines.sort(key=lambda line: (line.late_from is not None, line.late_from or "",
                                             line.provider, line.model))
    pools: dict[str, list[tuple[int, int]]] = {a: [] for a in ids}
    negative: dict[str, int] = dict.fromkeys(ids, 0)
    for account_id, entry_id, amount in conn.execute(credit_entries(ids, end_ms)):
        if amount > 0:
            pools[account_id].append((int(entry_id), int(amount) // MICROCENTS_PER_CENT))
        else:
            negative[account_id] -= int(amount)
    consumed = dict.fromkeys(ids, 0)
    for account_id, total in conn.execute(
        select(invoices.c.account_id, func.sum(invoices.c.credits_applied_cents))
        .where(invoices.c.account_id.in_(ids), invoices.c.origin == USAGE,
               invoices.c.period_month < month)
        .group_by(invoices.c.account_id)
    ):
        consumed[account_id] = int(total or 0)
    return MonthInputs(month, lines, pools,
                       {a: -(-n // MICROCENTS_PER_CENT) for a, n in negative.items()},
                       consumed, {a: countries.get(a) for a in ids})


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


def build_statement(account_id: str, inputs: MonthInputs, rates: TaxRates, *,
                    pending_credits_cents: int = 0) -> Statement:
    """The statement of one account from loaded inputs.

    `pending_credits_cents`: credits that earlier, not yet stored statements will apply.
    """
    lines = inputs.lines[account_id]
    skip = (inputs.corrections[account_id] + inputs.consumed[account_id]
            + pending_credits_cents)
    credits = _apply_credits(lines, inputs.pools[account_id], skip)
    subtotal = sum(line.amount_cents for line in lines)
    country = inputs.countries[account_id]
    rate = rates.rate_for(country)
    return Statement(account_id, inputs.month, lines, subtotal, credits, rate, country,
                     tax_cents(subtotal - credits, rate))


def compute_statement(conn: Connection, account_id: str, month: str, rates: TaxRates,
                      countries: Mapping[str, str | None]) -> Statement:
    return build_statement(account_id, load_inputs(conn, [account_id], month, countries), rates)


def first_unclosed_months(conn: Connection,
                          accounts: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Per account: the month after `closed_through_month`, or where billing starts."""
    first: dict[str, str] = {}
    never_closed = []
    for account in accounts:
        closed = account["closed_through_month"]
        if closed:
            first[str(account["id"])] = next_month(str(closed))
        else:
            first[str(account["id"])] = month_of(int(account["created_ms"]))
            never_closed.append(str(account["id"]))
    if never_closed:
        # Usage may be back-dated before the account's creation; bill from the earliest of both.
        r = usage_rollups.c
        for account_id, earliest in conn.execute(
            select(r.account_id, func.min(r.billing_month))
            .where(r.account_id.in_(never_closed)).group_by(r.account_id)
        ):
            first[account_id] = min(first[account_id], str(earliest))
    return first


def statements_through(conn: Connection, accounts: Sequence[Mapping[str, Any]], through: str,
                       rates: TaxRates, countries: Mapping[str, str | None]) -> list[Statement]:
    """Every unclosed month of these accounts up to `through`, month by month (taxed by the
    `countries` of their billing profiles)."""
    first = first_unclosed_months(conn, accounts)
    pending = dict.fromkeys(first, 0)
    statements: list[Statement] = []
    month = min(first.values(), default=next_month(through))
    while month <= through:
        due = [a for a, start in first.items() if start <= month]
        inputs = load_inputs(conn, due, month, countries)
        for account_id in due:
            statement = build_statement(account_id, inputs, rates,
                                        pending_credits_cents=pending[account_id])
            pending[account_id] += statement.credits_cents
            statements.append(statement)
        month = next_month(month)
    return statements

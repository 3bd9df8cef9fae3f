"""Month-end statements with a moved clock (Kill Bill style): exact lines, credits, tax, totals."""

from __future__ import annotations

import threading
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from creditgate.composition import build_runtime, build_worker
from creditgate.invoices.closing import CloseReport, close_due
from creditgate.invoices.statements import unit_amount_decimal
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from creditgate.settings import Settings
from tests.conftest import Account, MakeAccount
from tests.invoices.support import (
    billing_profile,
    closed_through,
    grant,
    ledger_usage_microcents,
    ms,
    statements,
    usage,
)

NOV = "2026-11"


def credit(amount: int, entry: int) -> dict[str, Any]:
    return {"amount": amount, "type": "credit_balance",
            "credit_balance_transaction": str(entry), "discount": None}


def check_line_pricing(line: dict[str, Any]) -> None:
    """quantity x unit_amount_decimal rounds half-even to amount, within quantity x 5e-13."""
    product = line["quantity"] * Decimal(line["pricing"]["unit_amount_decimal"])
    assert abs(product - line["amount"]) <= Decimal(line["quantity"]) * Decimal("5e-13")
    assert product.quantize(Decimal(1), rounding=ROUND_HALF_EVEN) == line["amount"]


def check_totals(statement: dict[str, Any]) -> None:
    lines = statement["lines"]
    for line in lines:
        check_line_pricing(line)
    assert statement["subtotal_cents"] == sum(line["amount"] for line in lines)
    assert statement["credits_applied_cents"] == sum(
        c["amount"] for line in lines for c in line["pretax_credit_amounts"])
    assert statement["amount_due_cents"] == (statement["subtotal_cents"]
                                             - statement["credits_applied_cents"]
                                             + statement["tax_cents"])
    assert statement["amount_remaining_cents"] == statement["amount_due_cents"]
    assert statement["status"] == ("paid" if statement["amount_due_cents"] == 0 else "open")


def test_usage_across_a_month_boundary_is_billed_in_its_own_month(
        runtime: Runtime, account: Account, clock: ManualClock) -> None:
    entry = grant(runtime, account.id, 10_000)
    clock.set(ms(2026, 11, 30, 23, 30))
    usage(runtime, account.id, "150", input_tokens=1000, output_tokens=500)
    usage(runtime, account.id, "0.4", provider="anthropic", model="claude-3-5-haiku")
    clock.set(ms(2026, 12, 1, 0, 30))
    usage(runtime, account.id, "275.5", input_tokens=3000, output_tokens=0)
    build_worker(runtime).run_once()

    [nov] = statements(runtime, account.id)
    assert nov["period_month"] == NOV
    assert (nov["period_start_s"], nov["period_end_s"]) == (ms(2026, 11, 1) // 1000,
                                                            ms(2026, 12, 1) // 1000)
    assert nov["created_s"] == ms(2026, 12, 1, 0, 30) // 1000
    assert [(x["description"], x["quantity"], x["unit"], x["amount"],
             x["pricing"]["unit_amount_decimal"]) for x in nov["lines"]] == [
        ("claude-3-5-haiku (anthropic)", 1, "requests", 0, "0"),
        ("gpt-4o (openai)", 1500, "tokens", 150, "0.1"),
    ]
    assert nov["lines"][1]["pretax_credit_amounts"] == [credit(150, entry)]
    assert (nov["subtotal_cents"], nov["credits_applied_cents"], nov["tax_cents"],
            nov["amount_due_cents"], nov["status"]) == (150, 150, 0, 0, "paid")
    assert nov["description"] == "AI Gateway usage, November 2026"
    check_totals(nov)
    assert closed_through(runtime, account.id) == NOV

    clock.set(ms(2027, 1, 1, 0, 5))
    build_worker(runtime).run_once()
    nov_again, dec = statements(runtime, account.id)
    assert nov_again == nov
    # 275.5 cents rounds half-even to 276; 276 / 3000 tokens = 0.092 cents a token.
    assert [(x["description"], x["amount"], x["pricing"]["unit_amount_decimal"])
            for x in dec["lines"]] == [("gpt-4o (openai)", 276, "0.092")]
    assert dec["lines"][0]["pretax_credit_amounts"] == [credit(276, entry)]
    check_totals(dec)
    assert closed_through(runtime, account.id) == "2026-12"


def test_a_month_without_usage_closes_without_a_statement(
        runtime: Runtime, account: Account, clock: ManualClock, client: Any) -> None:
    grant(runtime, account.id, 500)
    clock.set(ms(2026, 12, 1, 0, 5))
    build_worker(runtime).run_once()
    assert statements(runtime, account.id) == []
    assert closed_through(runtime, account.id) == NOV
    preview = client.get(account.url("ai-gateway/billing/invoice-preview"),
                         headers=account.headers).json()["result"]
    assert preview["invoice_lines"] == []
    assert (preview["amount_due"], preview["subtotal"], preview["status"]) == (0, 0, "draft")


def test_a_month_fully_covered_by_credits_is_paid_and_untaxed(
        runtime: Runtime, account: Account, clock: ManualClock) -> None:
    billing_profile(runtime, account.id, "DE")
    first = grant(runtime, account.id, 100)
    clock.advance(days=1)
    second = grant(runtime, account.id, 500)
    usage(runtime, account.id, "99.5")  # rounds half-even to 100
    usage(runtime, account.id, "250.25", provider="anthropic", model="claude-sonnet-4")
    clock.set(ms(2026, 12, 1, 0, 1))
    build_worker(runtime).run_once()
    [nov] = statements(runtime, account.id)
    # First in, first out: the older grant covers the first line and 150 of the second.
    assert [(x["amount"], x["pretax_credit_amounts"]) for x in nov["lines"]] == [
        (250, [credit(100, first), credit(150, second)]),
        (100, [credit(100, second)]),
    ]
    assert (nov["subtotal_cents"], nov["credits_applied_cents"], nov["tax_cents"],
            nov["amount_due_cents"], nov["status"]) == (350, 350, 0, 0, "paid")
    assert (nov["tax_rate"], nov["tax_country"]) == ("0.19", "DE")
    check_totals(nov)


def test_an_overage_is_taxed_and_left_open(runtime: Runtime, account: Account,
                                           clock: ManualClock) -> None:
    billing_profile(runtime, account.id, "de")
    entry = grant(runtime, account.id, 100)
    usage(runtime, account.id, "300.5")  # 300.5 rounds half-even to 300
    clock.set(ms(2026, 12, 1))
    # A grant after the month ended, before the close, pays next month's usage, not this one.
    later = grant(runtime, account.id, 1000)
    clock.set(ms(2026, 12, 1, 0, 2))
    report = close_due(runtime, NOV)
    assert (report.accounts, len(report.statements)) == (1, 1)
    [nov] = statements(runtime, account.id)
    assert nov["lines"][0]["pretax_credit_amounts"] == [credit(100, entry)]
    # taxable 200 cents x 19% = 38; due 238.
    assert (nov["subtotal_cents"], nov["credits_applied_cents"], nov["tax_cents"],
            nov["amount_due_cents"], nov["amount_paid_cents"],
            nov["amount_remaining_cents"], nov["status"]) == (300, 100, 38, 238, 0, 238, "open")
    check_totals(nov)

    usage(runtime, account.id, "40")
    clock.set(ms(2027, 1, 1, 0, 2))
    build_worker(runtime).run_once()
    dec = statements(runtime, account.id)[1]
    assert dec["lines"][0]["pretax_credit_amounts"] == [credit(40, later)]
    assert (dec["amount_due_cents"], dec["status"]) == (0, "paid")


def test_late_usage_is_billed_once_in_the_next_statement(
        runtime: Runtime, account: Account, clock: ManualClock, client: Any) -> None:
    grant(runtime, account.id, 1000)
    clock.set(ms(2026, 11, 30, 23))
    usage(runtime, account.id, "100")
    clock.set(ms(2026, 12, 1, 0, 5))
    build_worker(runtime).run_once()
    [nov] = statements(runtime, account.id)

    clock.set(ms(2026, 12, 1, 0, 10))
    usage(runtime, account.id, "40", at_ms=ms(2026, 11, 30, 23, 55))  # late: November is closed
    clock.set(ms(2026, 12, 2))
    usage(runtime, account.id, "60")
    preview = client.get(account.url("ai-gateway/billing/invoice-preview"),
                         headers=account.headers).json()["result"]
    assert [(x["description"], x["amount"], x["period"]) for x in preview["invoice_lines"]] == [
        ("gpt-4o (openai)", 60, {"start": ms(2026, 12, 1) // 1000,
                                 "end": ms(2027, 1, 1) // 1000}),
        ("gpt-4o (openai) — late usage from 2026-11", 40,
         {"start": ms(2026, 11, 1) // 1000, "end": ms(2026, 12, 1) // 1000}),
    ]
    assert statements(runtime, account.id) == [nov]

    clock.set(ms(2027, 1, 1, 0, 5))
    build_worker(runtime).run_once()
    build_worker(runtime).run_once()
    nov_again, dec = statements(runtime, account.id)
    assert nov_again == nov
    assert dec["lines"] == preview["invoice_lines"]
    assert dec["subtotal_cents"] == 100
    check_totals(dec)
    # Every cent of usage is on exactly one statement.
    assert ledger_usage_microcents(runtime, account.id) == 200 * 1_000_000
    assert nov["subtotal_cents"] + dec["subtotal_cents"] == 200


def test_months_left_open_are_caught_up_in_order(runtime: Runtime, account: Account,
                                                 clock: ManualClock) -> None:
    grant(runtime, account.id, 150)
    usage(runtime, account.id, "100")
    clock.set(ms(2026, 12, 10))
    usage(runtime, account.id, "100")
    clock.set(ms(2027, 2, 1, 0, 1))
    build_worker(runtime).run_once()
    nov, dec = statements(runtime, account.id)
    assert (nov["period_month"], nov["credits_applied_cents"], nov["amount_due_cents"]) == (
        NOV, 100, 0)
    assert (dec["period_month"], dec["credits_applied_cents"], dec["amount_due_cents"]) == (
        "2026-12", 50, 50)
    assert closed_through(runtime, account.id) == "2027-01"


def test_usage_back_dated_before_the_account_existed_is_billed_in_its_month(
        runtime: Runtime, make_account: MakeAccount, clock: ManualClock) -> None:
    clock.set(ms(2026, 12, 2))
    account = make_account()
    usage(runtime, account.id, "70", at_ms=ms(2026, 11, 28))
    clock.set(ms(2026, 12, 2, 0, 5))
    build_worker(runtime).run_once()
    [nov] = statements(runtime, account.id)
    assert (nov["period_month"], nov["subtotal_cents"], nov["amount_due_cents"]) == (NOV, 70, 70)
    assert closed_through(runtime, account.id) == NOV


class Crash(Exception):
    pass


def test_an_interrupted_close_is_rolled_back_and_rerun_once(
        runtime: Runtime, make_account: MakeAccount, clock: ManualClock) -> None:
    ids = sorted(make_account().id for _ in range(3))
    for n, account_id in enumerate(ids):
        usage(runtime, account_id, str(100 + n))
    clock.set(ms(2026, 12, 1, 0, 5))

    def crash_on_second(account_id: str) -> None:
        if account_id == ids[1]:
            raise Crash

    with pytest.raises(Crash):
        close_due(runtime, NOV, batch_size=1, before_commit=crash_on_second)
    assert [closed_through(runtime, a) for a in ids] == [NOV, None, None]
    assert [len(statements(runtime, a)) for a in ids] == [1, 0, 0]
    first = statements(runtime, ids[0])

    build_worker(runtime).run_once()
    assert close_due(runtime, NOV).statements == []
    # The same statement, not a new one; the worker also made its first (cardless) attempt
    # to collect it (payments/collection.py), which only the attempt fields record.
    [again] = statements(runtime, ids[0])
    assert (again["attempted"], again["attempt_count"]) == (True, 1)
    assert {**again, "attempted": False, "attempt_count": 0} == first[0]
    for n, account_id in enumerate(ids):
        [statement] = statements(runtime, account_id)
        assert (statement["subtotal_cents"], statement["amount_due_cents"]) == (100 + n, 100 + n)
        check_totals(statement)


def test_two_workers_closing_at_once_make_one_statement_each(
        runtime: Runtime, make_account: MakeAccount, clock: ManualClock, db_url: str) -> None:
    ids = [make_account().id for _ in range(6)]
    for n, account_id in enumerate(ids):
        grant(runtime, account_id, 50)
        usage(runtime, account_id, str(10 * (n + 1)))
    clock.set(ms(2026, 12, 1, 0, 5))
    other = build_runtime(Settings(database_url=db_url, sqlite_synchronous="NORMAL"), clock)
    barrier = threading.Barrier(2)
    reports: list[CloseReport] = []
    failures: list[BaseException] = []

    def run(rt: Runtime) -> None:
        barrier.wait()
        try:
            reports.append(close_due(rt, NOV, batch_size=2))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(rt,)) for rt in (runtime, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.db.dispose()
    assert failures == []
    assert sum(len(r.statements) for r in reports) == 6
    for n, account_id in enumerate(ids):
        [statement] = statements(runtime, account_id)
        cost = 10 * (n + 1)
        assert (statement["subtotal_cents"], statement["credits_applied_cents"],
                statement["amount_due_cents"]) == (cost, min(cost, 50), max(cost - 50, 0))
        check_totals(statement)


def test_two_worker_processes_sweeping_at_once_bill_each_month_once(
        make_account: MakeAccount, runtime: Runtime, clock: ManualClock, db_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    ids = [make_account().id for _ in range(8)]
    for n, account_id in enumerate(ids):
        usage(runtime, account_id, str(n + 1))
    clock.set(ms(2026, 12, 1, 0, 5))
    settings = Settings(database_url=db_url, sqlite_synchronous="NORMAL",
                        invoice_close_batch=3)
    runtimes = [build_runtime(settings, clock) for _ in range(2)]
    workers = [build_worker(rt) for rt in runtimes]
    barrier = threading.Barrier(2)

    def sweep(index: int) -> None:
        barrier.wait()
        workers[index].run_once()

    threads = [threading.Thread(target=sweep, args=(i,)) for i in range(2)]
    with caplog.at_level("ERROR"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for rt in runtimes:
        rt.db.dispose()
    assert [r.message for r in caplog.records] == []
    assert [[s["amount_due_cents"] for s in statements(runtime, a)] for a in ids] == [
        [n + 1] for n in range(8)]


def test_the_preview_is_the_statement_the_close_makes(
        runtime: Runtime, account: Account, clock: ManualClock, client: Any) -> None:
    billing_profile(runtime, account.id, "FR", company="Acme SAS")
    grant(runtime, account.id, 200)
    usage(runtime, account.id, "123.456789", input_tokens=7, output_tokens=3)
    usage(runtime, account.id, "0.5", provider="", model="")
    usage(runtime, account.id, "333.333333", provider="google", model="gemini-2.5-pro",
          input_tokens=1_234_567, output_tokens=89)
    clock.set(ms(2026, 11, 30, 23, 59))
    preview = client.get(account.url("ai-gateway/billing/invoice-preview"),
                         headers=account.headers).json()["result"]
    assert preview["status"] == "draft"
    assert preview["id"] == "upcoming_2026-11"
    clock.set(ms(2026, 12, 1, 0, 1))
    build_worker(runtime).run_once()
    [nov] = statements(runtime, account.id)
    assert nov["lines"] == preview["invoice_lines"]
    assert (nov["amount_due_cents"], nov["subtotal_cents"], nov["tax_cents"],
            nov["credits_applied_cents"]) == (preview["amount_due"], preview["subtotal"],
                                              preview["tax"],
                                              preview["total_pretax_credit_amounts"])
    # 123 + 0 + 333 = 456; credits 200; 256 x 20% = 51.2 -> 51; due 307.
    assert (nov["subtotal_cents"], nov["credits_applied_cents"], nov["tax_cents"],
            nov["amount_due_cents"]) == (456, 200, 51, 307)
    assert [x["description"] for x in nov["lines"]] == [
        "Usage without a model", "gemini-2.5-pro (google)", "gpt-4o (openai)"]
    check_totals(nov)


@pytest.mark.parametrize("amount,quantity", [
    (0, 5), (1, 3), (2, 3), (100, 7), (12_345, 999_983), (999_999_999, 123_456_789_011),
    (1, 999_999_999_999), (7, 1),
])
def test_unit_price_times_quantity_rounds_to_the_amount(amount: int, quantity: int) -> None:
    line: dict[str, Any] = {"amount": amount, "quantity": quantity,
            "pricing": {"unit_amount_decimal": unit_amount_decimal(amount, quantity)}}
    check_line_pricing(line)
    assert len(line["pricing"]["unit_amount_decimal"].partition(".")[2]) <= 12

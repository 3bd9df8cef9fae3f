from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, update

from creditgate.accounts.tables import accounts
from creditgate.invoices.tables import invoices
from creditgate.kernel.runtime import Runtime
from tests.conftest import Account, error_of
from tests.reporting.helpers import (
    exact,
    ms,
    post_events,
    rollup_month_usd,
    usage_debits_usd,
)

GPT = {"provider": "openai", "model": "gpt-4o"}


def month_end_usage(client: Any, account: Account) -> None:
    """Usage on both sides of the October/November boundary (clock: 2026-11-15 12:00 UTC)."""
    post_events(client, account, [
        {"id": "o30a", "timestamp": ms(2026, 10, 30, 9), "cost": 10, **GPT,
         "input_tokens": 1000, "output_tokens": 10},
        {"id": "o30b", "timestamp": ms(2026, 10, 30, 23, 59), "cost": 0.5, **GPT,
         "input_tokens": 100, "output_tokens": 0},
        {"id": "o31", "timestamp": ms(2026, 10, 31, 12), "cost": 20, **GPT,
         "input_tokens": 2000, "output_tokens": 20},
        {"id": "n01", "timestamp": ms(2026, 11, 1, 0), "cost": 1.000001, **GPT,
         "input_tokens": 10, "output_tokens": 1},
        {"id": "n02", "timestamp": ms(2026, 11, 2, 5), "cost": 2, **GPT,
         "input_tokens": 20, "output_tokens": 2},
        {"id": "c01", "timestamp": ms(2026, 11, 1, 8), "cost": 7, "model": "in-house"},
    ])


def paygo(client: Any, account: Account, path: str = "paygo-usage", **query: str) -> Any:
    return client.get(account.url(path), params=query, headers=account.headers)


def test_paygo_cumulates_within_each_billing_period_and_restarts(
        client: Any, account: Account, runtime: Runtime) -> None:
    month_end_usage(client, account)
    response = paygo(client, account, **{"from": "2026-10-30", "to": "2026-11-02"})
    assert response.status_code == 200, response.text
    records = exact(response)["result"]
    gpt = [r for r in records if r["ServiceName"] == "openai gpt-4o"]
    assert [(r["ChargePeriodStart"], r["ContractedCost"], r["CumulatedContractedCost"],
             r["PricingQuantity"], r["CumulatedPricingQuantity"]) for r in gpt] == [
        ("2026-10-30T00:00:00Z", Decimal("0.105"), Decimal("0.105"), 1110, 1110),
        ("2026-10-31T00:00:00Z", Decimal("0.2"), Decimal("0.305"), 2020, 3130),
        # A new billing period: the running totals restart.
        ("2026-11-01T00:00:00Z", Decimal("0.01000001"), Decimal("0.01000001"), 11, 11),
        ("2026-11-02T00:00:00Z", Decimal("0.02"), Decimal("0.03000001"), 22, 33),
    ]
    assert gpt[0]["BillingPeriodStart"] == "2026-10-01T00:00:00Z"
    assert gpt[2]["BillingPeriodStart"] == "2026-11-01T00:00:00Z"
    assert gpt[0]["ChargePeriodEnd"] == "2026-10-31T00:00:00Z"
    assert gpt[0]["ConsumedQuantity"] == 1110 and gpt[0]["ConsumedUnit"] == "Tokens"
    assert gpt[0]["BillingCurrency"] == "USD" and gpt[0]["ServiceFamilyName"] == "AI Gateway"
    in_house = [r for r in records if r["ServiceName"] == "in-house"]
    assert [(r["ContractedCost"], r["PricingQuantity"]) for r in in_house] == [
        (Decimal("0.07"), 0)]
    # Reconciles with the ledger (every usage debit) and with each month's rollups.
    assert sum(r["ContractedCost"] for r in records) == usage_debits_usd(runtime, account.id)
    for month in ("2026-10", "2026-11"):
        in_month = [r for r in records if r["BillingPeriodStart"].startswith(month)]
        assert sum(r["ContractedCost"] for r in in_month) == rollup_month_usd(
            runtime, account.id, month)


def test_paygo_cumulated_fields_count_days_before_from(client: Any, account: Account) -> None:
    month_end_usage(client, account)
    records = exact(paygo(client, account, **{"from": "2026-11-02T00:00:00Z"}))["result"]
    assert [(r["ChargePeriodStart"], r["ContractedCost"], r["CumulatedContractedCost"])
            for r in records] == [("2026-11-02T00:00:00Z", Decimal("0.02"),
                                   Decimal("0.03000001"))]


def test_paygo_defaults_to_the_current_billing_period_at_both_paths(
        client: Any, account: Account) -> None:
    month_end_usage(client, account)
    reference = paygo(client, account).json()["result"]
    assert {r["ChargePeriodStart"][:10] for r in reference} == {"2026-11-01", "2026-11-02"}
    assert sum(exact(paygo(client, account))["result"][i]["ContractedCost"]
               for i in range(len(reference))) == Decimal("0.10000001")
    assert paygo(client, account, "billable-usage").json()["result"] == reference


def test_late_usage_is_billed_and_cumulated_in_the_next_open_period(
        client: Any, account: Account, runtime: Runtime) -> None:
    with runtime.db.write() as conn:
        conn.execute(update(accounts).where(accounts.c.id == account.id)
                     .values(closed_through_month="2026-10"))
    month_end_usage(client, account)
    records = exact(paygo(client, account, **{"from": "2026-10-30", "to": "2026-11-02"}))[
        "result"]
    gpt = [r for r in records if r["ServiceName"] == "openai gpt-4o"]
    assert {r["BillingPeriodStart"] for r in gpt} == {"2026-11-01T00:00:00Z"}
    assert [r["CumulatedContractedCost"] for r in gpt] == [
        Decimal("0.105"), Decimal("0.305"), Decimal("0.31500001"), Decimal("0.33500001")]


def billable(client: Any, account: Account, **query: str) -> Any:
    return client.get(account.url("billable/usage"), params=query, headers=account.headers)


def test_billable_usage_has_one_record_per_metric_and_day(
        client: Any, account: Account, runtime: Runtime) -> None:
    month_end_usage(client, account)
    response = billable(client, account, **{"from": "2026-10-30", "to": "2026-11-02"})
    assert response.status_code == 200, response.text
    records = exact(response)["result"]
    assert [(r["ChargePeriodStart"][:10], r["x_BillableMetricId"]) for r in records] == [
        ("2026-10-30", "openai:gpt-4o"), ("2026-10-31", "openai:gpt-4o"),
        ("2026-11-01", ":in-house"), ("2026-11-01", "openai:gpt-4o"),
        ("2026-11-02", "openai:gpt-4o")]
    first = records[0]
    assert first["BillingAccountId"] == account.id
    assert first["BillingAccountName"] == "test"
    assert first["ChargeCategory"] == "Usage" and first["ChargeFrequency"] == "Usage-Based"
    assert first["ChargeClass"] is None
    assert first["ConsumedQuantity"] == 1110 and first["PricingQuantity"] == 1110
    assert first["ConsumedUnit"] == "Tokens" and first["PricingUnit"] == "Tokens"
    for field in ("BilledCost", "ContractedCost", "EffectiveCost", "ListCost"):
        assert first[field] == Decimal("0.105")
    assert first["BillingPeriodStart"] == "2026-10-01T00:00:00Z"
    assert first["BillingPeriodEnd"] == "2026-11-01T00:00:00Z"
    assert first["HostProviderName"] == "openai"
    assert first["ServiceProviderName"] == "creditgate"
    assert first["InvoiceIssuerName"] == "creditgate"
    assert first["x_BillableMetricName"] == "openai gpt-4o"
    assert first["x_ProductFamilyName"] == "AI Gateway"
    assert first["InvoiceId"] == "upcoming_2026-10"  # October is not closed yet
    assert sum(r["BilledCost"] for r in records) == usage_debits_usd(runtime, account.id)


def test_closed_months_carry_their_usage_statement_id(client: Any, account: Account,
                                                      runtime: Runtime) -> None:
    month_end_usage(client, account)
    with runtime.db.write() as conn:  # what the invoices domain's month close records
        conn.execute(insert(invoices).values(
            id="in_oct", account_id=account.id, origin="usage", status="open",
            created_s=ms(2026, 11, 1) // 1000, period_start_s=ms(2026, 10, 1) // 1000,
            period_end_s=ms(2026, 11, 1) // 1000, period_month="2026-10"))
    records = billable(client, account, **{"from": "2026-10-31", "to": "2026-11-01"}).json()[
        "result"]
    assert [r["InvoiceId"] for r in records] == [
        "in_oct", "upcoming_2026-11", "upcoming_2026-11"]


def test_billable_usage_defaults_and_metric_filter(client: Any, account: Account) -> None:
    month_end_usage(client, account)
    default = billable(client, account).json()["result"]
    assert {r["ChargePeriodStart"][:10] for r in default} == {"2026-11-01", "2026-11-02"}
    only = billable(client, account, metric=":in-house").json()["result"]
    assert [(r["x_BillableMetricId"], r["BilledCost"]) for r in only] == [(":in-house", 0.07)]
    unknown = billable(client, account, metric="nope:nothing")
    assert unknown.status_code == 200 and unknown.json()["result"] == []


def test_billable_usage_reads_the_specs_metric_id_once_or_repeated(client: Any,
                                                                   account: Account) -> None:
    """The spec names the filter `metric_id` and the TypeScript SDK repeats it for a list;
    `metric` stays an alias, and the values of both are one set."""
    month_end_usage(client, account)

    def metrics(query: list[tuple[str, str]]) -> list[tuple[str, str]]:
        response = client.get(account.url("billable/usage"), params=query,
                              headers=account.headers)
        assert response.status_code == 200, response.text
        return [(r["x_BillableMetricId"], r["ChargePeriodStart"][:10])
                for r in response.json()["result"]]

    gpt = "openai:gpt-4o"
    assert metrics([("metric_id", ":in-house")]) == [(":in-house", "2026-11-01")]
    both = [(":in-house", "2026-11-01"), (gpt, "2026-11-01"), (gpt, "2026-11-02")]
    assert sorted(metrics([("metric_id", ":in-house"), ("metric_id", gpt)])) == both
    assert sorted(metrics([("metric_id", gpt), ("metric", ":in-house")])) == both
    assert metrics([("metric_id", "")]) == metrics([])  # an empty value filters nothing
    assert metrics([("metric_id", "nope:nothing"), ("metric_id", "none:either")]) == []


@pytest.mark.parametrize(("query", "code", "pointer"), [
    ({"from": "2026-11-05", "to": "2026-11-01"}, 5012, "/from"),
    ({"from": "2026-11-01"}, 5011, "/to"),
    ({"to": "2026-11-01"}, 5011, "/from"),
    ({"from": "2026-09-01", "to": "2026-10-02"}, 5013, "/to"),
    ({"from": "2026-13-01", "to": "2026-11-02"}, 5010, "/from"),
    ({"from": "yesterday", "to": "2026-11-02"}, 5010, "/from"),
    ({"from": "2026-11-01", "to": "2026-11-02T25:00:00Z"}, 5010, "/to"),
    ({"format": "xlsx"}, 5014, "/format"),
])
def test_bad_billable_queries_are_refused(client: Any, account: Account,
                                          query: dict[str, str], code: int,
                                          pointer: str) -> None:
    response = billable(client, account, **query)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert (error["code"], error["source"]["pointer"]) == (code, pointer)


def test_ranges_of_dates_and_date_times(client: Any, account: Account) -> None:
    month_end_usage(client, account)
    one_day = billable(client, account, **{"from": "2026-11-02", "to": "2026-11-02"})
    same = billable(client, account, **{"from": "2026-11-02T00:00:00Z",
                                        "to": "2026-11-03T00:00:00Z"})
    assert one_day.json()["result"] == same.json()["result"]
    assert len(one_day.json()["result"]) == 1
    thirty_one = billable(client, account, **{"from": "2026-10-02", "to": "2026-11-01"})
    assert thirty_one.status_code == 200
    assert paygo(client, account, **{"from": "2026-11-03", "to": "2026-11-01"}).status_code \
        == 400
    assert billable(client, account, **{"from": "2026-11-02T00:00:00+02:00",
                                        "to": "2026-11-02"}).status_code == 200

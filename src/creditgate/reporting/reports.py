"""PayGo usage and billable usage (FOCUS records) as JSON, and the FOCUS dataset rows.

All of it reads `usage_rollups`, the data the balance is debited from, in one read
transaction per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, select

from creditgate.accounts.tables import accounts
from creditgate.invoices.tables import invoices
from creditgate.kernel.clock import DAY_MS, iso_utc
from creditgate.kernel.months import month_start_ms
from creditgate.kernel.runtime import Runtime
from creditgate.reporting import daily
from creditgate.reporting.daily import DailyUsage, metric_id, metric_name
from creditgate.reporting.focus import (
    PRODUCT_FAMILY,
    Issuer,
    charge_description,
    focus_record,
    usd_number,
)
from creditgate.reporting.periods import DayRange

PAYGO_UNIT = "Tokens"


def issuer_for(runtime: Runtime, conn: Connection, account_id: str) -> Issuer:
    """Who sells the usage (settings) and the account's closed usage statements."""
    name = conn.execute(select(accounts.c.name).where(accounts.c.id == account_id)).scalar_one()
    rows = conn.execute(
        select(invoices.c.period_month, invoices.c.id)
        .where(invoices.c.account_id == account_id, invoices.c.origin == "usage",
               invoices.c.period_month.is_not(None))
    ).all()
    provider = runtime.settings.focus_provider_name
    return Issuer(account_id=account_id, account_name=str(name), provider_name=provider,
                  invoice_issuer_name=runtime.settings.focus_invoice_issuer_name or provider,
                  statements={str(month): str(inv) for month, inv in rows})


def paygo_usage(runtime: Runtime, account_id: str, days: DayRange) -> list[dict[str, Any]]:
    """One record per service (provider/model) and UTC day, with billing-period running totals.

    The cumulated fields add up every day of the record's billing period up to and including its
    own, so they restart at each period and include days before `from`.
    """
    with runtime.db.read_replica() as conn:  # a report: the replica's delay is acceptable
        issuer = issuer_for(runtime, conn, account_id)
        months = daily.billing_months_in(conn, account_id, days.start_ms, days.end_ms)
        running = daily.usage_before(conn, account_id, months, days.start_ms)
        records = []
        for row in daily.daily_usage(conn, account_id, days.start_ms, days.end_ms):
            key = (row.billing_month, row.provider, row.model)
            tokens = row.input_tokens + row.output_tokens
            cost_before, tokens_before = running.get(key, (0, 0))
            running[key] = (cost_before + row.cost_microcents, tokens_before + tokens)
            records.append(_paygo_record(row, issuer, tokens, *running[key]))
    return records


def _paygo_record(row: DailyUsage, issuer: Issuer, tokens: int, cumulated_cost: int,
                  cumulated_tokens: int) -> dict[str, Any]:
    """The reference's PayGo fields plus the FOCUS ones the Python SDK's model declares."""
    cost = usd_number(row.cost_microcents)
    return {
        "BilledCost": cost,
        "BillingAccountId": issuer.account_id,
        "BillingAccountName": issuer.account_name,
        "BillingCurrency": "USD",
        "BillingPeriodStart": iso_utc(month_start_ms(row.billing_month)),
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": charge_description(row),
        "ChargePeriodEnd": iso_utc(row.day_ms + DAY_MS),
        "ChargePeriodStart": iso_utc(row.day_ms),
        "ConsumedQuantity": tokens,
        "ConsumedUnit": PAYGO_UNIT,
        "ContractedCost": cost,
        "CumulatedContractedCost": usd_number(cumulated_cost),
        "CumulatedPricingQuantity": cumulated_tokens,
        "EffectiveCost": cost,
        "HostProviderName": row.provider or issuer.provider_name,
        "InvoiceIssuerName": issuer.invoice_issuer_name,
        "ListCost": cost,
        "PricingQuantity": tokens,
        "PricingUnit": PAYGO_UNIT,
        "ServiceName": metric_name(row.provider, row.model),
        "ServiceProviderName": issuer.provider_name,
        "ServiceFamilyName": PRODUCT_FAMILY,
        "SubscriptionId": None,
        "ZoneId": None,
        "ZoneName": None,
    }


def billable_usage(runtime: Runtime, account_id: str, days: DayRange,
                   metrics: frozenset[str] | None) -> list[dict[str, Any]]:
    """FOCUS records, one per metric and UTC day, of these metrics (None: all); an unknown
    metric matches nothing."""
    with runtime.db.read_replica() as conn:  # a report: the replica's delay is acceptable
        issuer = issuer_for(runtime, conn, account_id)
        return [focus_record(row, issuer)
                for row in daily.daily_usage(conn, account_id, days.start_ms, days.end_ms)
                if metrics is None or metric_id(row.provider, row.model) in metrics]


@contextmanager
def focus_rows(runtime: Runtime, account_id: str, days: DayRange, *,
               from_replica: bool = True) -> Iterator[tuple[Issuer, Iterator[DailyUsage]]]:
    """The dataset's rows, streamed inside one read transaction held for the export
    (`from_replica`: on the read replica, which may lag the primary)."""
    with runtime.db.read_replica() if from_replica else runtime.db.read() as conn:
        issuer = issuer_for(runtime, conn, account_id)
        yield issuer, daily.daily_usage(conn, account_id, days.start_ms, days.end_ms)

"""FOCUS cost-and-usage records: one per billable metric, account and UTC day.

The same records feed the JSON answer of `/billable/usage` (the reference's fields) and the
complete FOCUS dataset (CSV or Parquet, `export.py`). Costs are what creditgate debited for the
usage (the ledger's usage debits), in USD; nothing is discounted, so BilledCost, EffectiveCost,
ContractedCost and ListCost are equal. A metric is one provider/model pair, consumed in tokens
(input + output). Its pricing unit is the token too, but a day's tokens mix input and output
rates, so there is no single unit price: the unit-price columns are left out (FOCUS makes them
conditional) rather than filled with a blended figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from creditgate.invoices.ids import provisional_invoice_id
from creditgate.kernel.clock import DAY_MS, iso_utc
from creditgate.kernel.money import MICROCENTS_PER_USD
from creditgate.kernel.months import month_end_ms, month_start_ms
from creditgate.reporting.daily import DailyUsage, metric_id, metric_name

PRODUCT_FAMILY = "AI Gateway"
SERVICE_NAME = "AI Gateway"
SERVICE_CATEGORY = "AI and Machine Learning"
SERVICE_SUBCATEGORY = "Generative AI"
CONSUMED_UNIT = "Tokens"
CURRENCY = "USD"


@dataclass(frozen=True)
class CreditRow:
    """Prepaid credit one grant applied to a billing month's usage (a FOCUS `Credit` row)."""

    billing_month: str
    grant_id: int
    category: str
    microcents: int


@dataclass(frozen=True)
class Issuer:
    """Who sells and invoices the usage: the operator running creditgate (settings)."""

    account_id: str
    account_name: str
    provider_name: str
    invoice_issuer_name: str
    # Usage statement ids by billing month ("YYYY-MM" -> "in_…") for the months already closed.
    statements: dict[str, str] = field(default_factory=dict)
    # The credit applied to the usage of the dataset's billing months, per grant (datasets only).
    credits: list[CreditRow] = field(default_factory=list)

    def invoice_id(self, billing_month: str) -> str:
        """The usage statement that bills the month, or its provisional id while it is open.

        Never null: FOCUS wants InvoiceId on charges of an issued or provisional invoice, and
        a dataset mixing nulls (open month) with ids (closed month) fails its validator.
        """
        return self.statements.get(billing_month) or provisional_invoice_id(billing_month)


def usd_number(microcents: int) -> int | float:
    """Microcents -> a JSON number of USD whose shortest repr is the exact decimal.

    Exact for any amount below $10 million: at most 8 decimals, at most 15 significant digits.
    """
    whole, rest = divmod(microcents, MICROCENTS_PER_USD)
    if rest == 0:
        return whole
    return float(Decimal(microcents) / MICROCENTS_PER_USD)


def billing_period(month: str) -> tuple[str, str]:
    return iso_utc(month_start_ms(month)), iso_utc(month_end_ms(month))


def charge_description(row: DailyUsage, name: str | None = None) -> str:
    name = name or metric_name(row.provider, row.model)
    return (f"{name}: daily usage, {row.input_tokens} input and {row.output_tokens} output "
            f"tokens in {row.requests} requests")


def focus_record(row: DailyUsage, issuer: Issuer) -> dict[str, Any]:
    """One `/billable/usage` record: every field of the reference, null where we have none."""
    cost = usd_number(row.cost_microcents)
    tokens = row.input_tokens + row.output_tokens
    period_start, period_end = billing_period(row.billing_month)
    publisher = row.provider or issuer.provider_name
    return {
        "BillingAccountId": issuer.account_id,
        "BillingAccountName": issuer.account_name,
        "ChargeCategory": "Usage",
        "ChargeDescription": charge_description(row),
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": iso_utc(row.day_ms + DAY_MS),
        "ChargePeriodStart": iso_utc(row.day_ms),
        "ConsumedQuantity": tokens,
        "ConsumedUnit": CONSUMED_UNIT,
        "HostProviderName": publisher,
        "InvoiceIssuerName": issuer.invoice_issuer_name,
        "InvoiceId": issuer.invoice_id(row.billing_month),
        "ServiceProviderName": issuer.provider_name,
        "x_BillableMetricName": metric_name(row.provider, row.model),
        "BilledCost": cost,
        "BillingCurrency": CURRENCY,
        "BillingPeriodEnd": period_end,
        "BillingPeriodStart": period_start,
        # Usage is never re-invoiced: late usage is billed in the next open period instead.
        "ChargeClass": None,
        "ContractedCost": cost,
        "ContractedUnitPrice": None,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ListUnitPrice": None,
        "PricingQuantity": tokens,
        "PricingUnit": CONSUMED_UNIT,
        "RegionId": None,
        "RegionName": None,
        "SubAccountId": None,
        "SubAccountName": None,
        "x_BillableMetricId": metric_id(row.provider, row.model),
        "x_ProductFamilyName": PRODUCT_FAMILY,
        "x_ZoneId": None,
        "x_ZoneName": None,
    }

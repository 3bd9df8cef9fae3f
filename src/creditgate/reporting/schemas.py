"""The documented shapes of the billing profile and the usage reports (kernel/schemas.py).

The profile bodies are built from the validator's own field tables (`reporting/validation.py`),
so a field added there is documented here; tests/kernel/test_contracts.py checks that they
accept what it accepts. Report costs are USD (JSON numbers), dates RFC 3339 in UTC.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from creditgate.kernel.schemas import Contract, UsdNumber
from creditgate.reporting.validation import (
    CARD_EXPIRY,
    COUNTRY_FIELDS,
    COUNTRY_LENGTH,
    EMAIL_FIELDS,
    EMAIL_ONLY_FIELDS,
    EMAIL_PATTERN,
    LOCALE_PATTERN,
    MAX_EMAIL,
    PHONE_PATTERN,
    TEXT_FIELDS,
    WRITE_ONLY,
)

_PATTERNS = {"preferred_locale": LOCALE_PATTERN, "telephone": PHONE_PATTERN}


def _profile_fields() -> dict[str, Any]:
    """Every writable field: optional, null clears it (surrounding spaces are dropped)."""
    fields: dict[str, Any] = {}
    for name, limit in TEXT_FIELDS.items():
        fields[name] = (str | None, Field(default=None, max_length=limit,
                                          pattern=_PATTERNS.get(name)))
    for name in EMAIL_FIELDS:
        fields[name] = (str | None, Field(default=None, max_length=MAX_EMAIL,
                                          pattern=EMAIL_PATTERN))
    for name in COUNTRY_FIELDS:
        fields[name] = (str | None, Field(
            default=None, max_length=COUNTRY_LENGTH, pattern=r"^\s*[A-Za-z]{2}\s*$",
            description="ISO 3166-1 alpha-2 (any case); sets the statement's tax country"))
    fields["card_number"] = (str | None, Field(
        default=None, pattern=r"^[0-9 -]+$",
        description="12-19 digits passing the Luhn check; only the last four are kept"))
    for name, low, high in CARD_EXPIRY:
        fields[name] = (int | None, Field(default=None, ge=low, le=high))
    for name, limit in WRITE_ONLY.items():
        fields[name] = (str | None, Field(default=None, max_length=limit,
                                          description="Write-only: checked, never stored"))
    return fields


_FIELDS = _profile_fields()
BillingProfileIn: type[BaseModel] = create_model(
    "BillingProfileIn", __base__=Contract, __doc__="The fields a body names are set; the "
    "others keep their value. Read-only fields (id, balance, …) are refused.", **_FIELDS)
BillingEmailIn: type[BaseModel] = create_model(
    "BillingEmailIn", __base__=Contract, __doc__="Only the billing emails and the locale.",
    **{name: _FIELDS[name] for name in sorted(EMAIL_ONLY_FIELDS)})


def _shown_fields() -> dict[str, Any]:
    shown: dict[str, Any] = {name: (str | None, Field())
                             for name in (*TEXT_FIELDS, *EMAIL_FIELDS, *COUNTRY_FIELDS)}
    shown.update({name: (None, Field(description="Write-only: always null"))
                  for name in ("payment_nonce", "validation_code", "device_data")})
    shown.update({name: (int | None, Field()) for name, _, _ in CARD_EXPIRY})
    shown["card_number"] = (str | None, Field(description="Masked: ************4242"))
    return shown


_SHOWN: dict[str, Any] = {"account_type": (Literal["prepaid"], Field())}
BillingProfile: type[BaseModel] = create_model(
    "BillingProfile", __base__=Contract,
    id=(str | None, Field(description="null: the account has no profile yet (every field "
                                      "that a profile sets is null then)")),
    balance=(str, Field(description="The prepaid credit balance in USD, a decimal string")),
    created_on=(str | None, Field(description="RFC 3339, UTC; null without a profile")),
    edited_on=(str | None, Field(description="RFC 3339, UTC; null without a profile")),
    is_partner=(bool, Field()),
    next_bill_date=(str, Field(description="RFC 3339, UTC: the next month's start")),
    payment_gateway=(str, Field(description="The payment processor (sandbox or stripe)")),
    use_legacy=(bool, Field()),
    **_SHOWN, **_shown_fields())


class DeletedProfile(Contract):
    id: str = Field(description="The removed profile's id")


_DATE = ("An ISO 8601 date (2026-11-01, a whole UTC day, inclusive) or date-time "
         "(an instant; `to` exclusive)")


class PaygoQuery(Contract):
    from_: str | None = Field(default=None, alias="from", max_length=64,
                              description=f"{_DATE}. Default: the month's first day")
    to: str | None = Field(default=None, max_length=64,
                           description=f"{_DATE}. Default: the end of the billing period or "
                                       "today. At most 93 days")


class BillableUsageQuery(Contract):
    from_: str | None = Field(default=None, alias="from", max_length=64,
                              description=f"{_DATE}; with `to`. Default: the month's first day")
    to: str | None = Field(default=None, max_length=64,
                           description=f"{_DATE}; with `from`. Default: today. At most 31 days")
    metric_id: list[str] | None = Field(
        default=None, description="Only these x_BillableMetricId values (`provider:model`); "
                                  "repeat the parameter for several")
    metric: list[str] | None = Field(default=None,
                                     description="The same as `metric_id` (an older name)")
    format: Literal["json", "csv", "parquet"] = Field(
        default="json", description="csv / parquet: the complete FOCUS dataset as a file")


class PaygoRecord(Contract):
    """One service's usage on one UTC day, with the billing period's running totals (USD)."""

    BilledCost: UsdNumber
    BillingAccountId: str
    BillingAccountName: str
    BillingCurrency: Literal["USD"]
    BillingPeriodStart: str
    ChargeCategory: Literal["Usage"]
    ChargeClass: None
    ChargeDescription: str
    ChargePeriodEnd: str
    ChargePeriodStart: str
    ConsumedQuantity: int = Field(description="Tokens")
    ConsumedUnit: str
    ContractedCost: UsdNumber
    CumulatedContractedCost: UsdNumber = Field(description="USD so far in the billing period")
    CumulatedPricingQuantity: int
    EffectiveCost: UsdNumber
    HostProviderName: str
    InvoiceIssuerName: str
    ListCost: UsdNumber
    PricingQuantity: int
    PricingUnit: str
    ServiceName: str
    ServiceProviderName: str
    ServiceFamilyName: str
    SubscriptionId: None
    ZoneId: None
    ZoneName: None


class FocusRecord(Contract):
    """One billable metric (provider/model) on one UTC day, FOCUS columns, costs in USD."""

    BillingAccountId: str
    BillingAccountName: str
    ChargeCategory: Literal["Usage"]
    ChargeDescription: str
    ChargeFrequency: Literal["Usage-Based"]
    ChargePeriodEnd: str = Field(description="RFC 3339, UTC")
    ChargePeriodStart: str = Field(description="RFC 3339, UTC")
    ConsumedQuantity: int = Field(description="Tokens, input + output")
    ConsumedUnit: str
    HostProviderName: str
    InvoiceIssuerName: str
    InvoiceId: str
    ServiceProviderName: str
    x_BillableMetricName: str
    BilledCost: UsdNumber
    BillingCurrency: Literal["USD"]
    BillingPeriodEnd: str
    BillingPeriodStart: str
    ChargeClass: None
    ContractedCost: UsdNumber
    ContractedUnitPrice: None
    EffectiveCost: UsdNumber
    ListCost: UsdNumber
    ListUnitPrice: None
    PricingQuantity: int
    PricingUnit: str
    RegionId: None
    RegionName: None
    SubAccountId: None
    SubAccountName: None
    x_BillableMetricId: str
    x_ProductFamilyName: str
    x_ZoneId: None
    x_ZoneName: None


class UsageInfo(Contract):
    covered: Literal[True]
    subscriptions: list[Any] = Field(max_length=0)


DATASET_FILES: dict[str, dict[str, Any]] = {
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
}

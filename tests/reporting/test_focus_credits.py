"""FOCUS datasets show the prepaid credit applied as `Credit` rows, one per grant and month."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from creditgate.kernel.runtime import Runtime
from creditgate.ledger.credit_grants import PAID, NewGrant
from creditgate.ledger.service import post_entry
from creditgate.reporting.export import SCHEMA
from tests.conftest import Account
from tests.limits.support import post_usage

CONVERT = pacsv.ConvertOptions(column_types=SCHEMA, strings_can_be_null=True)


def _grant(runtime: Runtime, account_id: str, ref: str, cents: int, category: str) -> None:
    with runtime.db.write_for(account_id) as (conn, _):
        post_entry(conn, account_id=account_id, kind="grant", amount_microcents=cents * 10**6,
                   reference=f"grant:{ref}", description="", now_ms=runtime.clock.now_ms(),
                   grant=NewGrant(category))


def _dataset(client: Any, account: Account, fmt: str, **extra: str) -> Any:
    response = client.get(account.url("billable/usage"), headers=account.headers,
                          params={"from": "2026-11-01", "to": "2026-11-16", "format": fmt,
                                  **extra})
    assert response.status_code == 200, response.text
    if fmt == "parquet":
        return pq.read_table(io.BytesIO(response.content))
    return pacsv.read_csv(io.BytesIO(response.content), convert_options=CONVERT)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_credit_rows_carry_what_each_grant_paid(client: Any, runtime: Runtime,
                                                account: Account, fmt: str) -> None:
    _grant(runtime, account.id, "promo", 300, "promotional")
    _grant(runtime, account.id, "paid", 1000, PAID)
    post_usage(client, account, "e1", 250)
    post_usage(client, account, "e2", 150.5)  # 50 from the promotion, 100.5 paid
    table = _dataset(client, account, fmt).to_pylist()
    usage = [r for r in table if r["ChargeCategory"] == "Usage"]
    credits = [r for r in table if r["ChargeCategory"] == "Credit"]
    assert sum(r["BilledCost"] for r in usage) == Decimal("4.005")
    assert [(r["BilledCost"], r["EffectiveCost"], r["ChargeFrequency"]) for r in credits] == [
        (Decimal("-3"), Decimal("-3"), "One-Time"),
        (Decimal("-1.005"), Decimal("-1.005"), "One-Time")]
    assert [r["ChargeDescription"].split(" (")[0] for r in credits] == [
        "Prepaid promotional credit applied", "Prepaid paid credit applied"]
    for row in credits:
        assert (row["ConsumedQuantity"], row["ConsumedUnit"], row["PricingQuantity"]) == (
            None, None, None)
        assert row["InvoiceId"] == usage[0]["InvoiceId"]
    # Filtered by a metric, the dataset holds that metric's usage only.
    metric = usage[0]["x_BillableMetricId"]
    filtered = _dataset(client, account, fmt, metric_id=metric).to_pylist()
    assert {r["ChargeCategory"] for r in filtered} == {"Usage"}

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from creditgate.cli import main
from creditgate.kernel.runtime import Runtime
from creditgate.reporting.export import SCHEMA, record_batches, write_dataset
from creditgate.reporting.periods import DayRange
from creditgate.reporting.reports import focus_rows
from tests.conftest import Account
from tests.reporting.helpers import ms, post_events, usage_debits_usd
from tests.reporting.test_usage_reports import month_end_usage

CONVERT = pacsv.ConvertOptions(column_types=SCHEMA, strings_can_be_null=True)
MANDATORY = ("BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
             "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
             "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
             "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit",
             "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
             "ConsumedQuantity", "ConsumedUnit", "ChargeFrequency", "InvoiceId",
             "ServiceSubcategory", "HostProviderName", "ServiceProviderName")


def download(client: Any, account: Account, fmt: str) -> Any:
    response = client.get(account.url("billable/usage"), headers=account.headers,
                          params={"from": "2026-10-30", "to": "2026-11-02", "format": fmt})
    assert response.status_code == 200, response.text
    assert f'.{fmt}"' in response.headers["content-disposition"]
    if fmt == "parquet":
        return pq.read_table(io.BytesIO(response.content))
    return pacsv.read_csv(io.BytesIO(response.content), convert_options=CONVERT)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_dataset_has_every_focus_column_and_reconciles_with_the_ledger(
        client: Any, account: Account, runtime: Runtime, fmt: str) -> None:
    month_end_usage(client, account)
    table = download(client, account, fmt)
    assert set(MANDATORY) <= set(table.column_names)
    assert table.num_rows == 5
    json_records = client.get(account.url("billable/usage"), headers=account.headers,
                              params={"from": "2026-10-30", "to": "2026-11-02"}).json()["result"]
    assert table.column("x_BillableMetricId").to_pylist() == [
        r["x_BillableMetricId"] for r in json_records]
    billed = table.column("BilledCost").to_pylist()
    assert all(isinstance(v, Decimal) for v in billed)
    assert sum(billed) == usage_debits_usd(runtime, account.id) == Decimal("0.40500001")
    assert table.column("PricingQuantity").to_pylist()[0] == Decimal(1110)
    assert table.column("ChargePeriodStart").to_pylist()[0].isoformat() == \
        "2026-10-30T00:00:00+00:00"
    assert set(table.column("ChargeCategory").to_pylist()) == {"Usage"}
    assert table.column("ChargeClass").null_count == table.num_rows


def test_dataset_streams_in_row_groups(runtime: Runtime, client: Any, account: Account,
                                       tmp_path: Path) -> None:
    post_events(client, account, [
        {"id": f"e{i}", "timestamp": ms(2026, 11, 1 + i % 10, 3), "cost": 1,
         "provider": "p", "model": f"m{i % 7}"} for i in range(70)])
    out = tmp_path / "focus.parquet"
    with focus_rows(runtime, account.id, DayRange(ms(2026, 11, 1), ms(2026, 11, 11))) as (
            issuer, rows), out.open("wb") as sink:
        count = write_dataset("parquet", record_batches(rows, issuer, batch_rows=16), sink)
    assert count == 70
    meta = pq.ParquetFile(out).metadata
    assert meta.num_row_groups == 5
    assert pq.read_table(out).column_names == SCHEMA.names


def test_cli_export_writes_the_dataset_and_a_json_summary(
        client: Any, account: Account, runtime: Runtime, db_url: str, tmp_path: Path) -> None:
    month_end_usage(client, account)
    out = tmp_path / "focus.csv"
    result = CliRunner().invoke(main, [
        "export", "focus", "--account", account.id, "--from", "2026-10-30",
        "--to", "2026-11-02", "--out", str(out), "--json"],
        env={"CREDITGATE_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["rows"] == 5 and summary["format"] == "csv"
    assert summary["from"] == "2026-10-30T00:00:00Z" and summary["to"] == "2026-11-03T00:00:00Z"
    table = pacsv.read_csv(out, convert_options=CONVERT)
    assert sum(table.column("BilledCost").to_pylist()) == usage_debits_usd(runtime, account.id)
    bad = CliRunner().invoke(main, [
        "export", "focus", "--account", account.id, "--from", "2026-11-05",
        "--to", "2026-11-01", "--out", str(out)], env={"CREDITGATE_DATABASE_URL": db_url})
    assert bad.exit_code != 0 and "'from' must be before 'to'" in bad.output
    unknown = CliRunner().invoke(main, [
        "export", "focus", "--account", "0" * 32, "--out", str(out)],
        env={"CREDITGATE_DATABASE_URL": db_url})
    assert unknown.exit_code != 0 and "no account" in unknown.output


def test_schema_types_are_exact_decimals() -> None:
    assert SCHEMA.field("BilledCost").type == pa.decimal128(38, 8)
    assert SCHEMA.names.index("x_BillableMetricId") > SCHEMA.names.index("ServiceSubcategory")

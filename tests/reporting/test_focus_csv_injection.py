"""Gateway strings that start like a spreadsheet formula are text in every CSV (issue 19, item 6).

The FOCUS validator run on such data is in test_focus_validator.py (scripts/validate_focus.sh
imports a formula-named provider into its sample).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from click.testing import CliRunner

from creditgate.cli import main
from creditgate.reporting.daily import DailyUsage
from creditgate.reporting.export import record_batches, write_dataset
from creditgate.reporting.focus import Issuer
from tests.conftest import Account
from tests.reporting.helpers import ms, post_events

CALC = "=cmd|' /C calc'!A0"
SUM = "@SUM(1+1)"
RANGE = {"from": "2026-11-01", "to": "2026-11-02"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def post_formula_usage(client: Any, account: Account) -> None:
    post_events(client, account, [
        {"id": "f1", "timestamp": ms(2026, 11, 1, 3), "cost": 1.5, "provider": CALC,
         "model": SUM, "input_tokens": 10, "output_tokens": 2},
        {"id": "f2", "timestamp": ms(2026, 11, 1, 4), "cost": 0.25, "provider": "+tab",
         "model": "-1"},
        {"id": "n1", "timestamp": ms(2026, 11, 1, 5), "cost": 2, "provider": "openai",
         "model": "gpt-4o"},
    ])


def by_provider(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["x_BillableMetricId"]: row for row in rows}


def test_formula_cells_read_back_as_text_in_the_http_csv(client: Any,
                                                         account: Account) -> None:
    post_formula_usage(client, account)
    response = client.get(account.url("billable/usage"), headers=account.headers,
                          params={**RANGE, "format": "csv"})
    assert response.status_code == 200, response.text
    rows = by_provider(csv_rows(response.text))
    assert set(rows) == {f"'{CALC}:{SUM}", "'+tab:-1", "openai:gpt-4o"}
    calc = rows[f"'{CALC}:{SUM}"]
    assert calc["HostProviderName"] == calc["PublisherName"] == "'" + CALC
    assert calc["x_BillableMetricName"] == f"'{CALC} {SUM}"
    assert calc["ChargeDescription"] == (f"'{CALC} {SUM}: daily usage, 10 input and 2 output "
                                         "tokens in 1 requests")
    # Numbers stay numbers: $0.015, 12 tokens (one decimal place, as FOCUS asks).
    assert (calc["BilledCost"], calc["ConsumedQuantity"], calc["x_InputTokens"]) == (
        "0.01500000", "12.0", "10")
    assert rows["'+tab:-1"]["HostProviderName"] == "'+tab"
    assert rows["openai:gpt-4o"]["HostProviderName"] == "openai"
    cells = [cell for row in rows.values() for cell in row.values()]
    assert not [c for c in cells if c.startswith(FORMULA_START)]
    # The JSON answer is not a spreadsheet: it keeps the gateway's strings.
    records = client.get(account.url("billable/usage"), headers=account.headers,
                         params=RANGE).json()["result"]
    assert {r["HostProviderName"] for r in records} == {CALC, "+tab", "openai"}


def test_cli_csv_is_neutralized_and_parquet_keeps_the_raw_value(
        client: Any, account: Account, db_url: str, tmp_path: Path) -> None:
    post_formula_usage(client, account)
    tables = {}
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"focus.{fmt}"
        result = CliRunner().invoke(main, [
            "export", "focus", "--account", account.id, "--from", RANGE["from"],
            "--to", RANGE["to"], "--out", str(out)], env={"CREDITGATE_DATABASE_URL": db_url})
        assert result.exit_code == 0, result.output
        tables[fmt] = out
    rows = by_provider(csv_rows(tables["csv"].read_bytes().decode()))
    assert rows[f"'{CALC}:{SUM}"]["HostProviderName"] == "'" + CALC
    assert rows["'+tab:-1"]["x_BillableMetricName"] == "'+tab -1"
    parquet = pq.read_table(tables["parquet"])
    assert sorted(parquet.column("HostProviderName").to_pylist()) == ["+tab", CALC, "openai"]
    assert sorted(parquet.column("x_BillableMetricId").to_pylist()) == [
        "+tab:-1", f"{CALC}:{SUM}", "openai:gpt-4o"]


def test_only_text_cells_are_prefixed_negative_numbers_stay_numbers(tmp_path: Path) -> None:
    # Every string that reaches the dataset starts like a formula here, and the cost is negative.
    issuer = Issuer(account_id="-acct", account_name="=HYPERLINK(\"http://x\")",
                    provider_name="+provider", invoice_issuer_name="@issuer",
                    statements={"2026-11": "=in_statement"})
    row = DailyUsage(day_ms=ms(2026, 11, 1), provider="\tp", model="\rm", billing_month="2026-11",
                     cost_microcents=-1234, input_tokens=1, output_tokens=2, requests=3)
    out = tmp_path / "focus.csv"
    with out.open("wb") as sink:
        assert write_dataset("csv", record_batches([row], issuer, "csv"), sink) == 1
    [cells] = csv_rows(out.read_bytes().decode())
    assert cells["BilledCost"] == cells["EffectiveCost"] == "-0.00001234"
    assert cells["BillingAccountId"] == "'-acct"
    assert cells["BillingAccountName"] == "'=HYPERLINK(\"http://x\")"
    assert cells["InvoiceIssuerName"] == "'@issuer"
    assert cells["HostProviderName"] == "'\tp"
    assert cells["x_BillableMetricId"] == "'\tp:\rm"
    assert cells["ProviderName"] == cells["ServiceProviderName"] == "'+provider"
    assert cells["InvoiceId"] == "'=in_statement"
    assert cells["ChargePeriodStart"] == "2026-11-01T00:00:00Z"
    # The only cells left starting with a formula character are the (negative) numbers.
    assert sorted(k for k, v in cells.items() if v.startswith(FORMULA_START)) == [
        "BilledCost", "ContractedCost", "EffectiveCost", "ListCost"]
    assert pq.read_table(parquet(tmp_path, [row], issuer)).column(
        "HostProviderName").to_pylist() == ["\tp"]


def parquet(tmp_path: Path, rows: list[DailyUsage], issuer: Issuer) -> Path:
    out = tmp_path / "focus.parquet"
    with out.open("wb") as sink:
        write_dataset("parquet", record_batches(rows, issuer, "parquet"), sink)
    return out

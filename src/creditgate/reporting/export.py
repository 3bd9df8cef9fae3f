"""The complete FOCUS dataset (FOCUS 1.2 columns + the 1.3 provider columns) as CSV or Parquet.

Rows stream from the database in batches and leave as Arrow record batches (one Parquet row
group each), so memory stays flat whatever the row count. Money columns are decimal(38, 8) in
USD: the unscaled value of such a decimal is exactly our integer microcents, so no amount ever
passes through a binary float.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from creditgate.kernel.clock import DAY_MS, iso_utc
from creditgate.kernel.months import month_end_ms, month_start_ms
from creditgate.reporting.daily import DailyUsage, metric_id, metric_name
from creditgate.reporting.focus import (
    CONSUMED_UNIT,
    CURRENCY,
    PRODUCT_FAMILY,
    SERVICE_CATEGORY,
    SERVICE_NAME,
    SERVICE_SUBCATEGORY,
    CreditRow,
    Issuer,
    charge_description,
)

FORMATS = ("csv", "parquet")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
BATCH_ROWS = 8192
MONEY = pa.decimal128(38, 8)
# One decimal place: a CSV reader then types quantities as decimals, not integers (FOCUS asks
# for Decimal), and Parquet keeps them exact.
QUANTITY = pa.decimal128(38, 1)
TIME = pa.timestamp("s", tz="UTC")
TEXT = pa.string()

# FOCUS columns first (alphabetical), then ours with the x_ prefix, as FOCUS asks.
SCHEMA = pa.schema([
    ("BilledCost", MONEY), ("BillingAccountId", TEXT), ("BillingAccountName", TEXT),
    ("BillingCurrency", TEXT), ("BillingPeriodEnd", TIME), ("BillingPeriodStart", TIME),
    ("ChargeCategory", TEXT), ("ChargeClass", TEXT), ("ChargeDescription", TEXT),
    ("ChargeFrequency", TEXT), ("ChargePeriodEnd", TIME), ("ChargePeriodStart", TIME),
    ("ConsumedQuantity", QUANTITY), ("ConsumedUnit", TEXT), ("ContractedCost", MONEY),
    ("EffectiveCost", MONEY), ("HostProviderName", TEXT), ("InvoiceId", TEXT),
    ("InvoiceIssuerName", TEXT), ("ListCost", MONEY), ("PricingQuantity", QUANTITY),
    ("PricingUnit", TEXT), ("ProviderName", TEXT), ("PublisherName", TEXT),
    ("ServiceCategory", TEXT), ("ServiceName", TEXT), ("ServiceProviderName", TEXT),
    ("ServiceSubcategory", TEXT),
    ("x_BillableMetricId", TEXT), ("x_BillableMetricName", TEXT), ("x_InputTokens", pa.int64()),
    ("x_OutputTokens", pa.int64()), ("x_ProductFamilyName", TEXT), ("x_Requests", pa.int64()),
])


_TIME_COLUMNS = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")
# CSV carries dates as RFC 3339 text ("2026-11-01T00:00:00Z", FOCUS's format); formatting them
# once per distinct day is also several times faster than Arrow's timestamp-to-text cast.
CSV_SCHEMA = pa.schema([(f.name, TEXT if f.name in _TIME_COLUMNS else f.type) for f in SCHEMA])


# First characters that make a spreadsheet run a cell as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    """A CSV text cell: `value` with a leading `'` if a spreadsheet would run it as a formula.

    Providers and models are the gateway's strings (`=cmd|' /C calc'!A0`); the `'` makes
    spreadsheets read the cell as text. Parquet is typed, not a formula surface: raw there.
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _as_is(value: str) -> str:
    return value


def schema_for(fmt: str) -> pa.Schema:
    return CSV_SCHEMA if fmt == "csv" else SCHEMA


def _decimal(unscaled: list[int], kind: pa.DataType) -> pa.Array:
    """Integers -> a decimal128 array with those unscaled values (16-byte two's complement)."""
    words = array("q", bytes(16 * len(unscaled)))
    words[0::2] = array("q", unscaled)
    words[1::2] = array("q", [-1 if value < 0 else 0 for value in unscaled])
    return pa.Array.from_buffers(kind, len(unscaled), [None, pa.py_buffer(words)])


@dataclass
class _Names:
    """Per-metric and per-month strings, computed once per export rather than once per row.

    Every text value of a batch passes through `cell` here (`csv_text` for a CSV; dates are
    ours, and ChargeDescription starts with a metric name), so formula cells are neutralized
    once per distinct string, not once per row and column.
    """

    issuer: Issuer
    cell: Callable[[str], str]
    metrics: dict[tuple[str, str], tuple[str, str, str]]
    months: dict[str, tuple[int, int, str]]
    texts: dict[int, str]

    def text(self, seconds: int) -> str:
        found = self.texts.get(seconds)
        if found is None:
            found = iso_utc(seconds * 1000)
            self.texts[seconds] = found
        return found

    def metric(self, provider: str, model: str) -> tuple[str, str, str]:
        """(metric id, metric name, publisher) of a provider/model pair."""
        key = (provider, model)
        found = self.metrics.get(key)
        if found is None:
            found = (self.cell(metric_id(provider, model)),
                     self.cell(metric_name(provider, model)),
                     self.cell(provider or self.issuer.provider_name))
            self.metrics[key] = found
        return found

    def month(self, month: str) -> tuple[int, int, str]:
        """(period start s, period end s, invoice id) of a billing month."""
        found = self.months.get(month)
        if found is None:
            found = (month_start_ms(month) // 1000, month_end_ms(month) // 1000,
                     self.cell(self.issuer.invoice_id(month)))
            self.months[month] = found
        return found


def _times(seconds: list[int], names: _Names, schema: pa.Schema) -> pa.Array:
    if schema is CSV_SCHEMA:
        return pa.array([names.text(s) for s in seconds], TEXT)
    return pa.array(seconds, TIME)


def _batch(rows: list[DailyUsage], issuer: Issuer, names: _Names,
           schema: pa.Schema) -> pa.RecordBatch:
    n = len(rows)
    cost = _decimal([r.cost_microcents for r in rows], MONEY)
    tokens = _decimal([10 * (r.input_tokens + r.output_tokens) for r in rows], QUANTITY)
    metrics = [names.metric(r.provider, r.model) for r in rows]
    periods = [names.month(r.billing_month) for r in rows]
    day_s = [r.day_ms // 1000 for r in rows]
    publishers = pa.array([m[2] for m in metrics], TEXT)

    def const(value: str) -> pa.Array:
        return pa.repeat(pa.scalar(names.cell(value), TEXT), n)

    columns: dict[str, Any] = {
        "BilledCost": cost, "BillingAccountId": const(issuer.account_id),
        "BillingAccountName": const(issuer.account_name), "BillingCurrency": const(CURRENCY),
        "BillingPeriodEnd": _times([p[1] for p in periods], names, schema),
        "BillingPeriodStart": _times([p[0] for p in periods], names, schema),
        "ChargeCategory": const("Usage"), "ChargeClass": pa.nulls(n, TEXT),
        # Starts with the metric name (already a safe cell), so it is a safe cell too.
        "ChargeDescription": pa.array([charge_description(r, m[1])
                                       for r, m in zip(rows, metrics, strict=True)], TEXT),
        "ChargeFrequency": const("Usage-Based"),
        "ChargePeriodEnd": _times([d + DAY_MS // 1000 for d in day_s], names, schema),
        "ChargePeriodStart": _times(day_s, names, schema),
        "ConsumedQuantity": tokens, "ConsumedUnit": const(CONSUMED_UNIT),
        "ContractedCost": cost, "EffectiveCost": cost, "HostProviderName": publishers,
        "InvoiceId": pa.array([p[2] for p in periods], TEXT),
        "InvoiceIssuerName": const(issuer.invoice_issuer_name),
        "ListCost": cost, "PricingQuantity": tokens, "PricingUnit": const(CONSUMED_UNIT),
        "ProviderName": const(issuer.provider_name), "PublisherName": publishers,
        "ServiceCategory": const(SERVICE_CATEGORY), "ServiceName": const(SERVICE_NAME),
        "ServiceProviderName": const(issuer.provider_name),
        "ServiceSubcategory": const(SERVICE_SUBCATEGORY),
        "x_BillableMetricId": pa.array([m[0] for m in metrics], TEXT),
        "x_BillableMetricName": pa.array([m[1] for m in metrics], TEXT),
        "x_InputTokens": pa.array([r.input_tokens for r in rows], pa.int64()),
        "x_OutputTokens": pa.array([r.output_tokens for r in rows], pa.int64()),
        "x_ProductFamilyName": const(PRODUCT_FAMILY),
        "x_Requests": pa.array([r.requests for r in rows], pa.int64()),
    }
    return pa.RecordBatch.from_arrays([columns[name] for name in schema.names], schema=schema)


def _credit_batch(credits: list[CreditRow], issuer: Issuer, names: _Names,
                  schema: pa.Schema) -> pa.RecordBatch:
    """FOCUS `Credit` rows: the prepaid credit each grant applied to a billing month's usage,
    negative, over the whole billing period (credit is applied per month, not per day)."""
    n = len(credits)
    cost = _decimal([-c.microcents for c in credits], MONEY)
    periods = [names.month(c.billing_month) for c in credits]

    def const(value: str) -> pa.Array:
        return pa.repeat(pa.scalar(names.cell(value), TEXT), n)

    starts = _times([p[0] for p in periods], names, schema)
    ends = _times([p[1] for p in periods], names, schema)
    provider = const(issuer.provider_name)
    columns: dict[str, Any] = {
        "BilledCost": cost, "BillingAccountId": const(issuer.account_id),
        "BillingAccountName": const(issuer.account_name), "BillingCurrency": const(CURRENCY),
        "BillingPeriodEnd": ends, "BillingPeriodStart": starts,
        "ChargeCategory": const("Credit"), "ChargeClass": pa.nulls(n, TEXT),
        "ChargeDescription": pa.array([f"Prepaid {c.category} credit applied (credit grant "
                                       f"{c.grant_id})" for c in credits], TEXT),
        "ChargeFrequency": const("One-Time"), "ChargePeriodEnd": ends,
        "ChargePeriodStart": starts, "ConsumedQuantity": pa.nulls(n, QUANTITY),
        "ConsumedUnit": pa.nulls(n, TEXT), "ContractedCost": cost, "EffectiveCost": cost,
        "HostProviderName": provider, "InvoiceId": pa.array([p[2] for p in periods], TEXT),
        "InvoiceIssuerName": const(issuer.invoice_issuer_name), "ListCost": cost,
        "PricingQuantity": pa.nulls(n, QUANTITY), "PricingUnit": pa.nulls(n, TEXT),
        "ProviderName": provider, "PublisherName": provider,
        "ServiceCategory": const(SERVICE_CATEGORY), "ServiceName": const(SERVICE_NAME),
        "ServiceProviderName": provider, "ServiceSubcategory": const(SERVICE_SUBCATEGORY),
        "x_BillableMetricId": pa.nulls(n, TEXT), "x_BillableMetricName": pa.nulls(n, TEXT),
        "x_InputTokens": pa.nulls(n, pa.int64()), "x_OutputTokens": pa.nulls(n, pa.int64()),
        "x_ProductFamilyName": const(PRODUCT_FAMILY), "x_Requests": pa.nulls(n, pa.int64()),
    }
    return pa.RecordBatch.from_arrays([columns[name] for name in schema.names], schema=schema)


def record_batches(rows: Iterable[DailyUsage], issuer: Issuer, fmt: str = "parquet",
                   batch_rows: int = BATCH_ROWS, *,
                   with_credits: bool = True) -> Iterator[pa.RecordBatch]:
    """The rows as Arrow record batches of at most `batch_rows` rows, typed for `fmt`, then
    the issuer's credit rows (`with_credits`)."""
    names = _Names(issuer, csv_text if fmt == "csv" else _as_is, {}, {}, {})
    schema = schema_for(fmt)
    pending: list[DailyUsage] = []
    for row in rows:
        pending.append(row)
        if len(pending) >= batch_rows:
            yield _batch(pending, issuer, names, schema)
            pending = []
    if pending:
        yield _batch(pending, issuer, names, schema)
    if with_credits and issuer.credits:
        yield _credit_batch(issuer.credits, issuer, names, schema)


class ChunkSink:
    """A write-only file that hands its bytes over in chunks (for a streamed HTTP answer)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


class _Writer:
    """CSV or Parquet, one record batch at a time."""

    def __init__(self, fmt: str, sink: BinaryIO | ChunkSink) -> None:
        if fmt == "parquet":
            self._parquet: pq.ParquetWriter | None = pq.ParquetWriter(
                sink, SCHEMA, compression="snappy")
            self._csv: pacsv.CSVWriter | None = None
        else:
            self._parquet = None
            self._csv = pacsv.CSVWriter(sink, CSV_SCHEMA)

    def write(self, batch: pa.RecordBatch) -> None:
        if self._parquet is not None:
            self._parquet.write_batch(batch)
        elif self._csv is not None:
            self._csv.write_batch(batch)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        elif self._csv is not None:
            self._csv.close()


def write_dataset(fmt: str, batches: Iterable[pa.RecordBatch], sink: BinaryIO,
                  on_batch: Callable[[pa.RecordBatch], None] | None = None) -> int:
    """Write every batch to a file; return the row count."""
    writer = _Writer(fmt, sink)
    rows = 0  # batches must come from record_batches(..., fmt) with the same fmt
    for batch in batches:
        writer.write(batch)
        rows += batch.num_rows
        if on_batch is not None:
            on_batch(batch)
    writer.close()
    return rows


def stream_dataset(fmt: str, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """The dataset as byte chunks, one per record batch (plus header and footer)."""
    sink = ChunkSink()
    writer = _Writer(fmt, sink)
    for batch in batches:
        writer.write(batch)
        chunk = sink.drain()
        if chunk:
            yield chunk
    writer.close()
    tail = sink.drain()
    if tail:
        yield tail

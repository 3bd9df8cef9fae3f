"""`creditgate export focus`: the FOCUS dataset of an account to a CSV or Parquet file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import click
import pyarrow as pa
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from creditgate.accounts.service import account_exists
from creditgate.kernel.clock import DAY_MS, iso_utc
from creditgate.kernel.commands import emit, fail, json_option, runtime_from_env
from creditgate.kernel.errors import ApiError
from creditgate.reporting import reports
from creditgate.reporting.daily import DailyUsage
from creditgate.reporting.export import FORMATS, record_batches, write_dataset
from creditgate.reporting.periods import parse_range

# The command line streams to a file, so it allows longer ranges than the HTTP answer.
MAX_DAYS = 366


@click.group("export")
def export() -> None:
    """Export reports."""


@export.command("focus")
@click.option("--account", "account_id", required=True)
@click.option("--from", "start", default=None, help="first day (ISO 8601); default month start")
@click.option("--to", "end", default=None, help="last day (ISO 8601 date, inclusive)")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="default: from the file extension, else csv")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@json_option("print the summary as JSON")
def export_focus(account_id: str, start: str | None, end: str | None, fmt: str | None,
                 out: Path, as_json: bool) -> None:
    """Write the account's FOCUS cost-and-usage dataset (one row per metric and UTC day)."""
    fmt = fmt or ("parquet" if out.suffix.lower() == ".parquet" else "csv")
    if not out.parent.is_dir():
        fail(f"--out {out}: the directory {out.parent} does not exist")
    runtime = runtime_from_env()
    try:
        days = parse_range(start, end, now_ms=runtime.clock.now_ms(), max_days=MAX_DAYS,
                           require_both=False)
    except ApiError as exc:
        fail(exc.message)
    with runtime.db.read() as conn:
        if not account_exists(conn, account_id):
            fail(f"no account {account_id} (see `creditgate accounts list`)")
    began = time.perf_counter()
    columns = [TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TextColumn("days"),
               TextColumn("{task.fields[rows]} rows"), TimeElapsedColumn()]
    with Progress(*columns, disable=as_json, transient=True) as progress, \
            reports.focus_rows(runtime, account_id, days, from_replica=False) as (issuer, rows), \
            out.open("wb") as sink:
        task = progress.add_task("export", total=days.days, rows=0)
        written = 0
        last_day_ms = days.start_ms

        def tracked(source: Iterator[DailyUsage]) -> Iterator[DailyUsage]:
            nonlocal last_day_ms
            for row in source:
                last_day_ms = row.day_ms
                yield row

        def advance(batch: pa.RecordBatch) -> None:
            nonlocal written
            written += batch.num_rows
            done = (last_day_ms - days.start_ms) // DAY_MS + 1
            progress.update(task, completed=done, rows=written)

        count = write_dataset(fmt, record_batches(tracked(rows), issuer, fmt), sink,
                              on_batch=advance)
        progress.update(task, completed=days.days)
    seconds = time.perf_counter() - began
    summary = {"account": account_id, "format": fmt, "file": str(out), "rows": count,
               "from": iso_utc(days.start_ms), "to": iso_utc(days.end_ms),
               "bytes": out.stat().st_size, "seconds": round(seconds, 3)}
    emit(as_json, summary, f"wrote {count} rows ({fmt}, {summary['bytes']} bytes) to {out}")

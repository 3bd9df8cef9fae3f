"""`creditgate usage import FILE`: JSON Lines or CSV, same rules and idempotency as the API."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import orjson
from rich.progress import BarColumn, Progress, TextColumn, TransferSpeedColumn

from creditgate.kernel.commands import emit, fail, runtime_from_env
from creditgate.kernel.errors import ApiError
from creditgate.usage import service
from creditgate.usage.events import UsageEvent, read_event_json
from creditgate.usage.pricing import CATALOG

BATCH = 1000
_INT_COLUMNS = ("timestamp", "input_tokens", "output_tokens")


def _csv_line(row: dict[str, str]) -> bytes:
    """A CSV row as the JSON text of one event; `cost` keeps its exact decimal text."""
    record: dict[str, Any] = {k: v for k, v in row.items() if v not in ("", None)}
    for name in _INT_COLUMNS:
        if name in record:
            record[name] = int(record[name])
    if "metadata" in record:
        # Checked to be one JSON value, then passed on as its own text, not re-serialized:
        # the event's rules (size, depth) then judge it as they judge the API's, and a value
        # nested past orjson's 254 levels of output cannot stop the import.
        metadata = record["metadata"].strip()
        orjson.loads(metadata)
        record["metadata"] = orjson.Fragment(metadata)
    cost: str | None = record.pop("cost", None)
    text = orjson.dumps(record)
    if cost is None:
        return text
    Decimal(cost)  # raises on anything that is not a number
    return text[:-1] + (b"," if record else b"") + b'"cost":' + cost.encode() + b"}"


def _records(path: Path, fmt: str, progress: Progress,
             task: Any) -> Iterator[tuple[int, bytes | str]]:
    """(line number, one event's JSON text or an error text) for every non-empty line."""
    with path.open("rb") as raw:
        if fmt == "csv":
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            reader = csv.DictReader(text)
            for number, row in enumerate(reader, start=2):
                progress.update(task, completed=raw.tell())
                try:
                    yield number, _csv_line(row)
                except (ValueError, ArithmeticError, orjson.JSONDecodeError) as exc:
                    yield number, f"bad value: {exc!r}"
            return
        for number, line in enumerate(raw, start=1):
            progress.update(task, completed=raw.tell())
            if line.strip():
                yield number, line


@click.group()
def usage() -> None:
    """Usage events."""


@usage.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", "account_id", required=True)
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv"]), default="auto")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def import_usage(file: Path, account_id: str, fmt: str, as_json: bool) -> None:
    """Import usage events; bad lines are reported and skipped, good ones stored once."""
    if fmt == "auto":
        fmt = "csv" if file.suffix.lower() == ".csv" else "jsonl"
    runtime = runtime_from_env()
    catalog = runtime.services[CATALOG]
    accepted = duplicates = 0
    rejected: list[dict[str, Any]] = []
    batch: list[UsageEvent] = []

    def flush() -> None:
        nonlocal accepted, duplicates
        if batch:
            try:
                recorded = service.ingest(runtime, account_id, batch)
            except ApiError as exc:
                fail(f"{exc.message} (account {account_id})")
            accepted += recorded.accepted
            duplicates += recorded.duplicates
            batch.clear()

    columns = [TextColumn("importing"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TransferSpeedColumn()]
    with Progress(*columns, disable=as_json, transient=True) as progress:
        task = progress.add_task("import", total=file.stat().st_size)
        for number, record in _records(file, fmt, progress, task):
            if isinstance(record, str):
                rejected.append({"line": number, "error": record})
                continue
            try:
                batch.append(read_event_json(record, "", now_ms=runtime.clock.now_ms(),
                                             catalog=catalog))
            except ApiError as exc:
                rejected.append({"line": number, "error": exc.message})
                continue
            if len(batch) >= BATCH:
                flush()
        flush()
    summary = {"accepted": accepted, "duplicates": duplicates, "rejected": len(rejected),
               "errors": rejected[:100]}
    lines = [f"accepted {accepted}, duplicates {duplicates}, rejected {len(rejected)}"]
    lines += [f"  line {r['line']}: {r['error']}" for r in rejected[:20]]
    emit(as_json, summary, "\n".join(lines))

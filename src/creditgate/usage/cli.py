"""`creditgate usage import FILE`: JSON Lines or CSV, same rules and idempotency as the API."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import orjson
from rich.progress import BarColumn, Progress, TextColumn, TransferSpeedColumn

from creditgate.accounts.service import account_exists
from creditgate.kernel.commands import emit, fail, json_option, runtime_from_env
from creditgate.kernel.errors import ApiError
from creditgate.usage import service
from creditgate.usage.events import UsageEvent, read_event_json
from creditgate.usage.pricing import CATALOG

BATCH = 1000
_INT_COLUMNS = ("timestamp", "input_tokens", "output_tokens")
# A JSON number: what the API's `cost` is, so the CSV takes the same texts.
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


class BadValue(ValueError):
    """A CSV cell that is not what its column holds."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"column {column}: {message}")


def _csv_line(row: dict[str, str | None]) -> bytes:
    """A CSV row as the JSON text of one event; `cost` keeps its exact decimal text."""
    if None in row:  # csv.DictReader's key for the cells beyond the header's
        raise ValueError(f"{len(row) - 1 + len(row[None] or [])} cells, "  # type: ignore[index]
                         f"the header has {len(row) - 1}")
    record: dict[str, Any] = {k: v for k, v in row.items() if v not in ("", None)}
    for name in _INT_COLUMNS:
        if name in record:
            try:
                record[name] = int(record[name])
            except ValueError:
                raise BadValue(name, f"{record[name]!r} is not an integer") from None
    if "metadata" in record:
        # Checked to be one JSON value, then passed on as its own text, not re-serialized:
        # the event's rules (size, depth) then judge it as they judge the API's, and a value
        # nested past orjson's 254 levels of output cannot stop the import.
        metadata = record["metadata"].strip()
        try:
            orjson.loads(metadata)
        except orjson.JSONDecodeError as exc:
            raise BadValue("metadata", f"not JSON ({exc})") from None
        record["metadata"] = orjson.Fragment(metadata)
    cost: str | None = record.pop("cost", None)
    text = orjson.dumps(record)
    if cost is None:
        return text
    try:
        Decimal(cost)
    except ArithmeticError:
        raise BadValue("cost", f"{cost!r} is not a number") from None
    if not _NUMBER.fullmatch(cost):  # Decimal also reads "NaN", "Infinity", " 1", "1_0"
        raise BadValue("cost", f"{cost!r} is not a number")
    return text[:-1] + (b"," if record else b"") + b'"cost":' + cost.encode() + b"}"


def _refusal(fmt: str, exc: ApiError) -> str:
    """An event's refusal as a CSV user names the place (a column) or a JSON Lines user does
    (the message's own JSON pointer)."""
    if fmt != "csv" or not exc.pointer or exc.pointer == "/":
        return exc.message
    column = exc.pointer.lstrip("/").split("/")[0]
    return f"column {column}: {exc.message.removeprefix(f'{exc.pointer}: ')}"


def _records(path: Path, fmt: str, progress: Progress,
             task: Any) -> Iterator[tuple[int, bytes | str]]:
    """(line number, one event's JSON text or an error text) for every non-empty line."""
    with path.open("rb") as raw:
        if fmt == "csv":
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            reader = csv.DictReader(text)
            number = 1
            try:
                for number, row in enumerate(reader, start=2):
                    progress.update(task, completed=raw.tell())
                    try:
                        yield number, _csv_line(row)
                    except ValueError as exc:
                        yield number, str(exc)
            except (UnicodeDecodeError, csv.Error) as exc:
                fail(f"{path} line {number + 1}: not CSV text in UTF-8 ({exc})")
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
@json_option("print the summary as JSON")
def import_usage(file: Path, account_id: str, fmt: str, as_json: bool) -> None:
    """Import usage events; bad lines are reported and skipped, good ones stored once.

    Exits 1 when any line was rejected (after storing the good ones), so a script notices."""
    if fmt == "auto":
        fmt = "csv" if file.suffix.lower() == ".csv" else "jsonl"
    runtime = runtime_from_env()
    with runtime.db.read() as conn:
        if not account_exists(conn, account_id):
            fail(f"no account {account_id} (see `creditgate accounts list`)")
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
                rejected.append({"line": number, "error": _refusal(fmt, exc)})
                continue
            if len(batch) >= BATCH:
                flush()
        flush()
    summary = {"accepted": accepted, "duplicates": duplicates, "rejected": len(rejected),
               "errors": rejected[:100]}
    lines = [f"accepted {accepted}, duplicates {duplicates}, rejected {len(rejected)}"]
    lines += [f"  line {r['line']}: {r['error']}" for r in rejected[:20]]
    emit(as_json, summary, "\n".join(lines))
    if rejected:
        raise click.exceptions.Exit(1)

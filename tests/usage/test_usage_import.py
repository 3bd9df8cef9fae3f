"""`creditgate usage import` refuses hostile lines one by one, with the API's rules."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from creditgate.cli import main
from creditgate.kernel.runtime import Runtime
from creditgate.usage.tables import usage_events
from tests.conftest import Account

TOO_DEEP = "/metadata: must nest at most 8 levels of objects and arrays"
# A CSV user is told the column, not the JSON pointer.
CSV_TOO_DEEP = "column metadata: must nest at most 8 levels of objects and arrays"


def objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def run_import(path: Path, account: Account, db_url: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["usage", "import", str(path), "--account", account.id,
                                       "--json"], env={"CREDITGATE_DATABASE_URL": db_url})
    summary: dict[str, Any] = json.loads(result.output)
    # Any rejected line makes the exit code 1, after the good lines were stored.
    assert result.exit_code == (1 if summary["rejected"] else 0), result.output
    return summary


def stored(runtime: Runtime) -> dict[str, tuple[str, str | None]]:
    with runtime.db.read() as conn:
        rows = conn.execute(select(usage_events.c.event_id, usage_events.c.provider,
                                   usage_events.c.metadata)).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_jsonl_lines_with_control_characters_or_deep_values_are_rejected(
        account: Account, runtime: Runtime, db_url: str, tmp_path: Path) -> None:
    lines = [
        '{"id":"ok1","cost":1,"provider":"openai","metadata":{"team":"a"}}',
        '{"id":"nul","cost":1,"provider":"open\\u0000ai"}',
        '{"id":"deep","cost":1,"metadata":' + objects(1000) + "}",
        '{"id":"c1","cost":1,"model":"gpt\\u0085"}',
        '{"id":"del\x7f","cost":1}',
        '{"id":"cost","cost":' + "[" * 5000 + "]" * 5000 + "}",
        '{"id":"ok2","cost":1}',
    ]
    path = tmp_path / "usage.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = run_import(path, account, db_url)
    assert (summary["accepted"], summary["duplicates"], summary["rejected"]) == (2, 0, 5)
    assert summary["errors"] == [
        {"line": 2, "error": "/provider: must not contain control characters "
                             "(U+0000 at position 4)"},
        {"line": 3, "error": TOO_DEEP},
        {"line": 4, "error": "/model: must not contain control characters "
                             "(U+0085 at position 3)"},
        {"line": 5, "error": "/id: must not contain control characters (U+007F at position 3)"},
        {"line": 6, "error": "/cost: must be a number of cents"},
    ]
    assert stored(runtime) == {"ok1": ("openai", '{"team":"a"}'), "ok2": ("", None)}


def test_csv_rows_with_control_characters_or_deep_metadata_are_rejected(
        account: Account, runtime: Runtime, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "provider", "model", "cost", "metadata"])
        writer.writerow(["ok1", "openai", "gpt-4o", "1", '{"team": "a"}'])
        writer.writerow(["nul", "open\x00ai", "gpt-4o", "1", ""])
        writer.writerow(["deep300", "", "", "1", objects(300)])  # crashed the import (orjson)
        writer.writerow(["deep9", "", "", "1", objects(9)])
        writer.writerow(["tab", "", "gpt\t4o", "1", ""])
        writer.writerow(["ok2", "", "", "2", ' {"a": [1, {"b": 2}]} '])
    summary = run_import(path, account, db_url)
    assert (summary["accepted"], summary["duplicates"], summary["rejected"]) == (2, 0, 4)
    assert summary["errors"] == [
        {"line": 3, "error": "column provider: must not contain control characters "
                             "(U+0000 at position 4)"},
        {"line": 4, "error": CSV_TOO_DEEP},
        {"line": 5, "error": CSV_TOO_DEEP},
        {"line": 6, "error": "column model: must not contain control characters "
                             "(U+0009 at position 3)"},
    ]
    # Metadata is kept as written (surrounding blanks aside), as the API keeps it.
    assert stored(runtime) == {"ok1": ("openai", '{"team": "a"}'),
                               "ok2": ("", '{"a": [1, {"b": 2}]}')}

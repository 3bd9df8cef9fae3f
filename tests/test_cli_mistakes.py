"""A person's mistakes on the command line: one line on stderr, a non-zero exit, no traceback.

Each case runs the real `creditgate` command in a process of its own, as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import ADMIN_URL
from tests.e2e.conftest import free_port

CREDITGATE = [sys.executable, "-m", "creditgate"]
UNKNOWN = "0" * 32


def run(env_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # A secret key set, so `serve` and `worker` print no warning about a generated one.
    env = {**os.environ, "CREDITGATE_DATABASE_URL": env_url,
           "CREDITGATE_SECRET_KEY": "cli-mistakes-" + "k" * 40}
    return subprocess.run([*CREDITGATE, *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The one-line refusal: exit code 1, `Error: …` alone on stderr, every word in it."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


@pytest.fixture
def migrated(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'creditgate.db'}"
    assert run(url, "migrate", cwd=tmp_path).returncode == 0
    return url


def new_account(url: str, cwd: Path) -> str:
    made = run(url, "accounts", "create", "--name", "t", "--json", cwd=cwd)
    return str(orjson.loads(made.stdout)["id"])


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A PostgreSQL database nobody migrated."""
    try:
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 3})
        admin.connect().close()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {ADMIN_URL} is unreachable ({exc}); CI requires it")
        pytest.skip(f"PostgreSQL at {ADMIN_URL} is unreachable: {type(exc).__name__}")
    name = f"creditgate_e_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


COMMANDS_ON_AN_ACCOUNT = [
    ("accounts", "list"),
    ("accounts", "create"),
    ("tokens", "create", "--account", UNKNOWN),
    ("tokens", "list", "--account", UNKNOWN),
    ("credits", "grant", "--account", UNKNOWN, "--amount", "5"),
    ("invoices", "close", "--month", "2026-01"),
    ("export", "focus", "--account", UNKNOWN, "--out", "x.csv"),
    ("worker",),
]


@pytest.mark.parametrize("args", COMMANDS_ON_AN_ACCOUNT, ids=" ".join)
def test_a_database_not_migrated_says_to_migrate(tmp_path: Path, args: tuple[str, ...]) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    refused(run(url, *args, cwd=tmp_path), "is not migrated", "run `creditgate migrate`")


def test_a_postgres_database_not_migrated_says_to_migrate(empty_postgres: str,
                                                          tmp_path: Path) -> None:
    line = refused(run(empty_postgres, "accounts", "list", cwd=tmp_path), "is not migrated")
    assert "creditgate migrate" in line
    # serve migrates a database by itself instead (tests/e2e start it on fresh ones).
    assert run(empty_postgres, "migrate", cwd=tmp_path).returncode == 0
    assert run(empty_postgres, "accounts", "list", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("args", [("migrate",), ("accounts", "list"), ("serve",)], ids=" ".join)
def test_an_unreachable_database_is_named(tmp_path: Path, args: tuple[str, ...]) -> None:
    url = f"postgresql+psycopg://nobody:hunter2@127.0.0.1:{free_port()}/none"
    line = refused(run(url, *args, cwd=tmp_path), "cannot reach the database",
                   "CREDITGATE_DATABASE_URL")
    assert "hunter2" not in line  # the password is never shown


def test_a_sqlite_file_in_a_missing_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere' / 'creditgate.db'}"
    refused(run(url, "migrate", cwd=tmp_path), "cannot open the SQLite database",
            "does its directory exist")


def test_an_output_directory_that_does_not_exist(migrated: str, tmp_path: Path) -> None:
    account = new_account(migrated, tmp_path)
    out = tmp_path / "missing" / "focus.csv"
    refused(run(migrated, "export", "focus", "--account", account, "--out", str(out),
                cwd=tmp_path), f"the directory {out.parent} does not exist")


@pytest.mark.parametrize("args", [
    ("tokens", "create", "--account", UNKNOWN),
    ("tokens", "list", "--account", UNKNOWN),
    ("credits", "grant", "--account", UNKNOWN, "--amount", "5"),
    ("export", "focus", "--account", UNKNOWN, "--out", "x.csv"),
    ("invoices", "close", "--month", "2026-01", "--account", UNKNOWN),
    ("users", "create", "--email", "a@example.com", "--account", UNKNOWN),
], ids=lambda args: " ".join(args[:2]))
def test_an_unknown_account_is_named(migrated: str, tmp_path: Path,
                                     args: tuple[str, ...]) -> None:
    refused(run(migrated, *args, cwd=tmp_path), f"no account {UNKNOWN}")


def test_usage_import_for_an_unknown_account_reads_nothing(migrated: str,
                                                           tmp_path: Path) -> None:
    lines = tmp_path / "usage.jsonl"
    lines.write_text('{"id": "a", "cost": 1}\n')
    refused(run(migrated, "usage", "import", str(lines), "--account", UNKNOWN, cwd=tmp_path),
            f"no account {UNKNOWN}")


def test_a_bad_csv_value_names_its_line_and_column(migrated: str, tmp_path: Path) -> None:
    account = new_account(migrated, tmp_path)
    now = int(time.time() * 1000)
    csv_file = tmp_path / "usage.csv"
    csv_file.write_text("id,timestamp,cost,input_tokens\n"
                        f"good,{now},1.5,\n"
                        f"bad-cost,{now},1,5x,\n"
                        f"bad-cost2,{now},abc,\n"
                        f"bad-time,yesterday,1,\n"
                        f"bad-tokens,{now},,lots\n"
                        f"negative,{now},-1,\n"
                        f"nan,{now},NaN,\n")
    result = run(migrated, "usage", "import", str(csv_file), "--account", account, "--json",
                 cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # a line was rejected
    assert "Traceback" not in result.stderr
    summary = orjson.loads(result.stdout)
    assert (summary["accepted"], summary["rejected"]) == (1, 6)
    assert [(e["line"], e["error"]) for e in summary["errors"]] == [
        (3, "5 cells, the header has 4"),
        (4, "column cost: 'abc' is not a number"),
        (5, "column timestamp: 'yesterday' is not an integer"),
        (6, "column input_tokens: 'lots' is not an integer"),
        (7, "column cost: must be between 0 and 100000000 cents"),
        (8, "column cost: 'NaN' is not a number"),
    ]


def test_usage_import_exits_0_only_when_no_line_was_rejected(migrated: str,
                                                             tmp_path: Path) -> None:
    account = new_account(migrated, tmp_path)
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "a", "cost": 1}\n{"id": "b", "cost": 2}\n')
    result = run(migrated, "usage", "import", str(good), "--account", account, cwd=tmp_path)
    assert (result.returncode, result.stdout.strip()) == (
        0, "accepted 2, duplicates 0, rejected 0")
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"id": "c", "cost": 1}\n{"id": "d", "cost": -1}\n')
    result = run(migrated, "usage", "import", str(mixed), "--account", account, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.strip().splitlines() == [
        "accepted 1, duplicates 0, rejected 1",
        "  line 2: /cost: must be between 0 and 100000000 cents"]


def test_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = run("sqlite://", "--version", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, f"creditgate {version('creditgate')}\n")


def every_command() -> list[tuple[str, ...]]:
    from creditgate.cli import main

    found: list[tuple[str, ...]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        else:
            found.append(path)

    walk(main, ())
    return found


def test_every_command_takes_json() -> None:
    from creditgate.cli import main

    commands = every_command()
    assert ("migrate",) in commands and ("accounts", "list") in commands
    for path in commands:
        command: Any = main
        for name in path:
            command = command.commands[name]
        assert "--json" in {o for p in command.params for o in p.opts}, path


def test_json_errors_are_json_on_stdout(migrated: str, tmp_path: Path) -> None:
    result = run(migrated, "tokens", "list", "--account", UNKNOWN, "--json", cwd=tmp_path)
    line = refused(result)
    assert orjson.loads(result.stdout) == {"error": {"message": line.removeprefix("Error: ")}}
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    result = run(empty, "accounts", "list", "--json", cwd=tmp_path)
    assert "is not migrated" in orjson.loads(result.stdout)["error"]["message"]


def test_migrate_json_and_accounts_list(migrated: str, tmp_path: Path) -> None:
    from creditgate.migrations import head_revisions

    migrate = orjson.loads(run(migrated, "migrate", "--json", cwd=tmp_path).stdout)
    assert migrate == {"database": migrated, "revisions": head_revisions(),
                       "status": "up to date"}
    assert run(migrated, "accounts", "list", cwd=tmp_path).stdout == (
        "no accounts; create one with `creditgate accounts create`\n")
    first, second = new_account(migrated, tmp_path), new_account(migrated, tmp_path)
    granted = run(migrated, "credits", "grant", "--account", second, "--amount", "1250",
                  cwd=tmp_path)
    assert granted.returncode == 0
    listed = orjson.loads(run(migrated, "accounts", "list", "--json", cwd=tmp_path).stdout)
    assert [(a["id"], a["balance"], a["name"]) for a in listed["accounts"]] == [
        (first, 0, "t"), (second, 1250, "t")]

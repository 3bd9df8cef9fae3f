"""The command line as a new user runs it."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def cli_server(tmp_path: Path) -> Server:
    """Only the command line: a migrated database with one account and token, no server."""
    server = Server("", {}, tmp_path)
    import os

    server.env = {**os.environ,
                  "CREDITGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'creditgate.db'}"}
    server.cli("migrate")
    server.account_id = server.cli_json("accounts", "create", "--name", "cli")["id"]
    return server


def test_tokens_create_list_revoke(cli_server: Server) -> None:
    made = cli_server.cli_json("tokens", "create", "--account", cli_server.account_id,
                               "--permission", "ai gateway read")
    assert made["permissions"] == ["AI Gateway Read"] and len(made["token"]) == 40
    listed = cli_server.cli_json("tokens", "list", "--account", cli_server.account_id)
    assert [t["status"] for t in listed["tokens"]] == ["active"]
    cli_server.cli("tokens", "revoke", made["id"])
    listed = cli_server.cli_json("tokens", "list", "--account", cli_server.account_id)
    assert [t["status"] for t in listed["tokens"]] == ["revoked"]
    again = cli_server.cli("tokens", "revoke", made["id"], check=False)
    assert again.returncode != 0 and "no active token" in again.stderr
    bad = cli_server.cli("tokens", "create", "--account", cli_server.account_id,
                         "--permission", "root", check=False)
    assert bad.returncode != 0 and "unknown permission group" in bad.stderr


def test_operator_tokens_create_list_revoke(cli_server: Server) -> None:
    made = cli_server.cli_json("tokens", "create", "--operator", "--name", "ops")
    assert made["operator"] is True and len(made["token"]) == 40
    listed = cli_server.cli_json("tokens", "list", "--operator")["tokens"]
    assert [(t["id"], t["name"], t["status"]) for t in listed] == [(made["id"], "ops", "active")]
    assert cli_server.cli_json("tokens", "list", "--account", cli_server.account_id) == {
        "tokens": []}
    cli_server.cli("tokens", "revoke", made["id"])
    listed = cli_server.cli_json("tokens", "list", "--operator")["tokens"]
    assert [t["status"] for t in listed] == ["revoked"]
    both = cli_server.cli("tokens", "create", "--operator", "--account",
                          cli_server.account_id, check=False)
    assert both.returncode != 0 and "exactly one of --account ID or --operator" in both.stderr
    neither = cli_server.cli("tokens", "list", check=False)
    assert neither.returncode != 0 and "exactly one" in neither.stderr


def test_accounts_show(cli_server: Server) -> None:
    cli_server.cli("credits", "grant", "--account", cli_server.account_id, "--amount", "250")
    cli_server.cli("tokens", "create", "--account", cli_server.account_id)
    shown = cli_server.cli_json("accounts", "show", cli_server.account_id)
    assert {k: shown[k] for k in ("id", "name", "balance", "active_tokens")} == {
        "id": cli_server.account_id, "name": "cli", "balance": 250, "active_tokens": 1}
    missing = cli_server.cli("accounts", "show", "0" * 32, check=False)
    assert missing.returncode != 0 and "no account" in missing.stderr


def test_credits_history(cli_server: Server) -> None:
    for amount, reference in (("300", "a"), ("-100", "b")):
        cli_server.cli("credits", "grant", "--account", cli_server.account_id,
                       "--amount", amount, "--reference", reference)
    entries = cli_server.cli_json("credits", "history", "--account",
                                  cli_server.account_id)["transactions"]
    assert [(e["amount"], e["balance_after"], e["reference"]) for e in entries] == [
        (-100, 200, "grant:b"), (300, 300, "grant:a")]
    one = cli_server.cli_json("credits", "history", "--account", cli_server.account_id,
                              "--limit", "1")["transactions"]
    assert [e["reference"] for e in one] == ["grant:b"]
    missing = cli_server.cli("credits", "history", "--account", "0" * 32, check=False)
    assert missing.returncode != 0 and "no account" in missing.stderr


def test_credits_grant_is_idempotent_by_reference(cli_server: Server) -> None:
    args = ("credits", "grant", "--account", cli_server.account_id, "--amount", "2500",
            "--reference", "promo-1")
    first = cli_server.cli_json(*args)
    second = cli_server.cli_json(*args)
    assert (first["applied"], first["balance"]) == (True, 2500)
    assert (second["applied"], second["balance"]) == (False, 2500)
    missing = cli_server.cli("credits", "grant", "--account", "0" * 32, "--amount", "1",
                             check=False)
    assert missing.returncode != 0 and "no account" in missing.stderr


def test_usage_import_jsonl_and_csv(cli_server: Server, tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    lines = [orjson.dumps({"id": f"j{i}", "timestamp": now, "cost": 2}) for i in range(2500)]
    lines += [b"{broken", orjson.dumps({"id": "neg", "cost": -1}), b"",
              orjson.dumps({"id": "j1", "cost": 2})]
    jsonl = tmp_path / "usage.jsonl"
    jsonl.write_bytes(b"\n".join(lines) + b"\n")
    result = cli_server.cli("usage", "import", str(jsonl), "--account", cli_server.account_id,
                            "--json", check=False)
    assert result.returncode == 1  # lines were rejected; the good ones are stored
    summary = orjson.loads(result.stdout)
    assert (summary["accepted"], summary["duplicates"], summary["rejected"]) == (2500, 1, 2)
    assert [e["line"] for e in summary["errors"]] == [2501, 2502]
    csv_file = tmp_path / "usage.csv"
    csv_file.write_text("id,timestamp,provider,model,input_tokens,output_tokens,cost\n"
                        f"c1,{now},openai,gpt-4o,1000,100,\n"
                        f"c2,{now},,,,,0.5\n"
                        f"j0,{now},,,,,2\n")
    summary = cli_server.cli_json("usage", "import", str(csv_file), "--account",
                                  cli_server.account_id)
    assert (summary["accepted"], summary["duplicates"], summary["rejected"]) == (2, 1, 0)
    grant = cli_server.cli_json("credits", "grant", "--account", cli_server.account_id,
                                "--amount", "6000")
    # 6000 - 2500*2 - 0.35 (gpt-4o) - 0.5 = 999.15 cents
    assert grant["balance"] == 999.15


def test_acknowledged_usage_survives_kill_9(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        url = f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/usage-events"
        for batch in range(5):
            events = [{"id": f"k{batch}-{i}", "cost": 1} for i in range(200)]
            response = httpx.post(url, json={"events": events}, headers=server.headers())
            assert response.json()["result"]["accepted"] == 200
        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    finally:
        stop_server(server)
    grant = server.cli_json("credits", "grant", "--account", server.account_id,
                            "--amount", "1000")
    assert grant["balance"] == 0  # 1000 cents granted, 1000 acknowledged events of 1 cent


@pytest.mark.parametrize("command", [("serve",), ("worker",), ("migrate",),
                                     ("accounts", "create", "--name", "x")])
def test_a_bad_setting_stops_any_command_in_one_line(cli_server: Server,
                                                     command: tuple[str, ...]) -> None:
    cli_server.env = {**cli_server.env, "CREDITGATE_PORT": "80a",
                      "CREDITGATE_LIMITS_GROUP_COMMIT": "sometimes"}
    refused = cli_server.cli(*command, check=False)
    assert refused.returncode == 1, refused
    assert refused.stderr == (
        "Error: CREDITGATE_PORT='80a' is not accepted: it takes a whole number from 1 to "
        "65,535; CREDITGATE_LIMITS_GROUP_COMMIT='sometimes' is not accepted: it takes on or "
        "off (also true/false, yes/no, 1/0)\n")


def test_serve_warns_about_a_variable_no_setting_reads(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"CREDITGATE_TOPUP_MAX_CENT": "5000"})
    try:
        assert httpx.get(f"{server.base_url}/openapi.json").status_code == 200
    finally:
        stop_server(server)
    # A log line like the others (docs/operations.md, "Health, metrics and logs").
    assert re.search(r"^\S+ WARNING creditgate\.cli CREDITGATE_TOPUP_MAX_CENT \(did you mean "
                     r"CREDITGATE_TOPUP_MAX_CENTS\?\) is not a creditgate setting; it is "
                     r"ignored$", (tmp_path / "server.log").read_text(), re.MULTILINE)

"""Signing in and out of the dashboard and the console: tokens, one-time links, CSRF,
revocation, and what is stored (hashes only). Both databases, the real app."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from creditgate.accounts import service as accounts_service
from creditgate.cli import main
from creditgate.dashboard.sessions import create_link
from creditgate.dashboard.tables import dashboard_links, dashboard_sessions
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from tests.conftest import MakeAccount
from tests.dashboard.support import open_link, post_form, sign_in


def test_a_token_signs_in_and_the_cookie_is_http_only_and_lax(
        client: Any, runtime: Runtime, make_account: MakeAccount) -> None:
    account = make_account()
    answer = sign_in(client, account.token)
    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard")
    cookie = answer.headers["set-cookie"]
    assert "cg_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/dashboard", follow_redirects=False).status_code == 200
    with runtime.db.read() as conn:
        [row] = conn.execute(select(dashboard_sessions)).mappings().all()
    value = client.cookies["cg_session"]
    assert row["id_sha256"] == hashlib.sha256(value.encode()).hexdigest()
    assert value not in str(dict(row))
    assert (row["kind"], row["account_id"]) == ("account", account.id)


def test_no_session_and_a_wrong_token_are_sent_to_sign_in(
        client: Any, make_account: MakeAccount) -> None:
    make_account()
    assert client.get("/dashboard", follow_redirects=False).headers["location"] == (
        "/dashboard/sign-in")
    refused = sign_in(client, "not-a-token")
    assert refused.status_code == 401 and "not an active API token" in refused.text
    assert "cg_session" not in client.cookies


def test_a_sign_in_link_works_once_and_stores_only_its_hash(
        client: Any, runtime: Runtime, make_account: MakeAccount) -> None:
    account = make_account()
    url = create_link(runtime, account.id)
    assert url is not None and url.startswith(runtime.settings.base_url + "/dashboard/link?key=")
    # Opening the link shows a button and signs nobody in (a link preview does not use it up).
    assert "cg_session" not in client.get(url.split("8787", 1)[1]).cookies
    first = open_link(client, url)
    assert (first.status_code, first.headers["location"]) == (303, "/dashboard")
    assert client.get("/dashboard").status_code == 200
    client.cookies.clear()
    again = open_link(client, url)
    assert again.status_code == 401 and "already used or has expired" in again.text
    assert "cg_session" not in client.cookies
    with runtime.db.read() as conn:
        [row] = conn.execute(select(dashboard_links)).mappings().all()
    secret = url.split("key=", 1)[1]
    assert row["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert row["used_ms"] == runtime.clock.now_ms()


def test_a_link_expires(client: Any, runtime: Runtime, clock: ManualClock,
                        make_account: MakeAccount) -> None:
    url = create_link(runtime, make_account().id)
    assert url is not None
    clock.advance(seconds=runtime.settings.dashboard_link_seconds)
    assert open_link(client, url).status_code == 401


def test_a_session_expires(client: Any, runtime: Runtime, clock: ManualClock,
                           make_account: MakeAccount) -> None:
    sign_in(client, make_account().token)
    clock.advance(ms=runtime.settings.dashboard_session_seconds * 1000 - 1)
    assert client.get("/dashboard", follow_redirects=False).status_code == 200
    clock.advance(ms=1)
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session_on_the_server(client: Any,
                                                 make_account: MakeAccount) -> None:
    sign_in(client, make_account().token)
    cookie = client.cookies["cg_session"]
    out = post_form(client, "/dashboard", "/dashboard/sign-out", {})
    assert (out.status_code, out.headers["location"]) == (303, "/dashboard/sign-in")
    client.cookies.set("cg_session", cookie)  # a copied cookie is dead too
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_revoking_the_token_ends_its_sessions(client: Any, runtime: Runtime,
                                             make_account: MakeAccount) -> None:
    account = make_account()
    sign_in(client, account.token)
    with runtime.db.write() as conn:
        [token] = accounts_service.list_tokens(conn, account_id=account.id)
        accounts_service.revoke_token(conn, token_id=token["id"], now_ms=1)
    assert client.get("/dashboard", follow_redirects=False).headers["location"] == (
        "/dashboard/sign-in")
    assert sign_in(client, account.token).status_code == 401


def test_a_post_without_or_with_a_foreign_csrf_token_is_refused_and_changes_nothing(
        client: Any, runtime: Runtime, make_account: MakeAccount) -> None:
    other = make_account()
    sign_in(client, other.token)
    foreign = client.get("/dashboard/limit").text.split('name="csrf" value="')[1][:64]
    client.cookies.clear()
    account = make_account()
    sign_in(client, account.token)
    form = {"amount": "50", "duration": "daily", "strategy": "fixed"}
    for extra in ({}, {"csrf": ""}, {"csrf": foreign}, {"csrf": "0" * 64}):
        refused = client.post("/dashboard/limit", data={**form, **extra})
        assert refused.status_code == 403 and "did not come from this site" in refused.text
    limit = client.get(account.url("ai-gateway/billing/spending-limit"),
                       headers=account.headers).json()["result"]
    assert limit["enabled"] is False
    sign_in_refused = client.post("/dashboard/sign-in", data={"token": account.token})
    assert sign_in_refused.status_code == 403


def test_the_console_takes_only_operator_tokens(client: Any, runtime: Runtime,
                                               make_account: MakeAccount) -> None:
    account = make_account()
    assert sign_in(client, account.token, where="/admin").status_code == 401
    with runtime.db.write() as conn:
        operator = accounts_service.create_operator_token(conn, name="ops", now_ms=1)
    assert sign_in(client, operator.secret).status_code == 401  # not a customer's token
    assert sign_in(client, operator.secret, where="/admin").headers["location"] == "/admin"
    assert client.get("/admin", follow_redirects=False).status_code == 200
    # The operator's session is not a customer's, and the customer's cookie is not the console's.
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    client.cookies.clear()
    sign_in(client, account.token)
    assert client.get("/admin", follow_redirects=False).status_code == 303


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", db_url)


def test_the_link_command_prints_a_working_url(client: Any, make_account: MakeAccount,
                                               cli_env: None) -> None:
    account = make_account()
    printed = CliRunner().invoke(main, ["dashboard", "link", "--account", account.id, "--json"])
    assert printed.exit_code == 0, printed.output
    url = orjson.loads(printed.output)["url"]
    assert open_link(client, url).headers["location"] == "/dashboard"
    plain = CliRunner().invoke(main, ["dashboard", "link", "--account", account.id])
    assert plain.exit_code == 0 and "/dashboard/link?key=" in plain.output
    missing = CliRunner().invoke(main, ["dashboard", "link", "--account", "f" * 32])
    assert missing.exit_code != 0 and "no account" in missing.output

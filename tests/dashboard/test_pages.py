"""The dashboard's pages and forms against the API's own answers: the same figures, the same
refusals, the same permission groups, one account only, and hostile text rendered inert."""

from __future__ import annotations

import html
import re
from typing import Any

from creditgate.accounts import service as accounts_service
from creditgate.accounts.permissions import AI_GATEWAY_READ, BILLING_READ
from creditgate.kernel.clock import ManualClock
from creditgate.kernel.runtime import Runtime
from tests.conftest import START, MakeAccount
from tests.dashboard.support import post_form, sign_in
from tests.helpers import balance_microcents, grant_cents

HOSTILE = ('<script>alert("x")</script>', '"><img src=x onerror=alert(1)>')


def text_of(page: str, name: str) -> str:
    found = re.search(rf'data-testid="{name}"[^>]*>([^<]*)<', page)
    assert found is not None, f"no {name} in page"
    return html.unescape(found.group(1)).strip()


def api(client: Any, account: Any, path: str) -> Any:
    return client.get(account.url(path), headers=account.headers).json()["result"]


def test_the_overview_shows_the_apis_balance_and_this_months_spend(
        client: Any, runtime: Runtime, make_account: MakeAccount) -> None:
    account = make_account()
    grant_cents(runtime, account.id, 12_345)
    events = [{"id": f"e{i}", "timestamp": START - i * 3_600_000, "cost": 12.5}
              for i in range(3)]
    sent = client.post(account.url("ai-gateway/billing/usage-events"),
                       headers=account.headers, json={"events": events})
    assert sent.json()["result"]["accepted"] == 3
    sign_in(client, account.token)
    page = client.get("/dashboard").text
    assert api(client, account, "ai-gateway/billing/credit-balance")["balance"] == 12_307.5
    assert text_of(page, "balance") == "$123.08"  # 12,307.5 cents, to the cent
    assert f'data-microcents="{balance_microcents(runtime, account.id)}"' in page
    assert text_of(page, "month-spend") == "$0.38"
    assert 'data-microcents="37500000"' in page


def test_a_read_only_token_sees_no_top_up_and_a_forged_post_is_refused(
        client: Any, runtime: Runtime, make_account: MakeAccount) -> None:
    account = make_account(permissions=[AI_GATEWAY_READ, BILLING_READ])
    sign_in(client, account.token)
    page = client.get("/dashboard/topup").text
    assert 'data-testid="topup-submit"' not in page
    assert 'data-testid="limit-submit"' not in client.get("/dashboard/limit").text
    assert 'data-testid="token-submit"' not in client.get("/dashboard/tokens").text
    forged = post_form(client, "/dashboard/topup", "/dashboard/topup",
                       {"amount": "20", "card": "pm_card_visa"})
    assert forged.status_code == 403 and "AI Gateway Write" in forged.text
    limit = post_form(client, "/dashboard", "/dashboard/limit",
                      {"amount": "50", "duration": "daily", "strategy": "fixed"})
    assert limit.status_code == 403
    token = post_form(client, "/dashboard", "/dashboard/tokens",
                      {"name": "x", "groups": AI_GATEWAY_READ})
    assert token.status_code == 403
    assert balance_microcents(runtime, account.id) == 0
    assert api(client, account, "ai-gateway/billing/spending-limit")["enabled"] is False
    assert len(api(client, account, "tokens")) == 1


def test_a_top_up_grants_once_and_a_decline_grants_nothing(
        client: Any, runtime: Runtime, make_account: MakeAccount) -> None:
    account = make_account()
    sign_in(client, account.token)
    form = {"amount": "20", "card": "pm_card_visa", "idempotency_key": "k-1"}
    paid = post_form(client, "/dashboard/topup", "/dashboard/topup", form)
    assert 'data-status="completed"' in paid.text and "$20.00 was added" in paid.text
    # The same form posted twice (a double click, a reload) charges once.
    post_form(client, "/dashboard/topup", "/dashboard/topup", form)
    assert balance_microcents(runtime, account.id) == 2000 * 1_000_000
    declined = post_form(client, "/dashboard/topup", "/dashboard/topup",
                         {"amount": "20", "card": "pm_card_chargeDeclined"})
    assert declined.status_code == 402 and 'data-status="declined"' in declined.text
    assert "Your card was declined" in text_of(declined.text, "flash")
    assert balance_microcents(runtime, account.id) == 2000 * 1_000_000
    auth = post_form(client, "/dashboard/topup", "/dashboard/topup",
                     {"amount": "15", "card": "pm_card_authenticationRequired"})
    assert 'data-status="pending"' in auth.text and "Authentication required" in auth.text
    assert balance_microcents(runtime, account.id) == 2000 * 1_000_000


def test_bad_amounts_show_the_apis_message_and_change_nothing(
        client: Any, make_account: MakeAccount) -> None:
    account = make_account()
    sign_in(client, account.token)
    post_form(client, "/dashboard/topup", "/dashboard/topup",
              {"amount": "20", "card": "pm_card_visa"})
    cases = [
        ("/dashboard/topup", {"amount": "5"}, 400,
         "/amount: must be at least 1000 and at most 100000 cents"),
        ("/dashboard/topup", {"amount": "ten"}, 400,
         "/amount: must be an amount in dollars, e.g. 20 or 20.50"),
        ("/dashboard/auto-topup", {"amount": "20", "threshold": "1"}, 400,
         "/threshold: must be at least 500 and at most 100000 cents"),
        ("/dashboard/limit", {"amount": "0.99", "duration": "daily", "strategy": "fixed"}, 400,
         "/amount: must be an integer from 100 to 1000000000000 cents"),
        ("/dashboard/limit", {"amount": "10", "duration": "hourly", "strategy": "fixed"}, 400,
         "/duration: must be one of 'daily', 'weekly', 'monthly'"),
    ]
    for action, form, status, message in cases:
        answer = post_form(client, action, action, form)
        assert (answer.status_code, text_of(answer.text, "flash")) == (status, message)
    assert api(client, account, "ai-gateway/billing/credit-balance")["balance"] == 2000
    assert api(client, account, "ai-gateway/billing/topup/config")["amount"] is None
    assert api(client, account, "ai-gateway/billing/spending-limit")["enabled"] is False


def test_the_limit_and_auto_top_up_forms_set_what_the_api_answers(
        client: Any, make_account: MakeAccount) -> None:
    account = make_account()
    sign_in(client, account.token)
    post_form(client, "/dashboard/topup", "/dashboard/topup",
              {"amount": "20", "card": "pm_card_visa"})
    saved = post_form(client, "/dashboard/limit", "/dashboard/limit",
                      {"amount": "50", "duration": "daily", "strategy": "fixed"})
    assert text_of(saved.text, "flash") == "Spending limit saved."
    assert api(client, account, "ai-gateway/billing/spending-limit") == {
        "config": {"amount": 5000, "duration": "daily", "strategy": "fixed"}, "enabled": True}
    client.post(account.url("ai-gateway/billing/usage-events"), headers=account.headers,
                json={"events": [{"id": "e1", "cost": 1250}]})
    overview = client.get("/dashboard").text
    assert 'data-testid="limit-gauge" data-percent="25"' in overview
    assert "$12.50 of $50.00 (25%), daily, fixed." in overview
    assert "Resets" in overview and "2026-11-16 00:00" in overview
    auto = post_form(client, "/dashboard/auto-topup", "/dashboard/auto-topup",
                     {"amount": "25", "threshold": "5.50"})
    assert text_of(auto.text, "flash") == "Auto top-up saved."
    config = api(client, account, "ai-gateway/billing/topup/config")
    assert (config["amount"], config["threshold"]) == (2500, 550)


def test_an_account_cannot_reach_another_accounts_objects(
        client: Any, runtime: Runtime, make_account: MakeAccount) -> None:
    victim = make_account(name="victim")
    sign_in(client, victim.token)
    post_form(client, "/dashboard/topup", "/dashboard/topup",
              {"amount": "20", "card": "pm_card_visa"})
    victim_invoice = re.findall(r'data-testid="invoice-row" data-id="([^"]+)"',
                                client.get("/dashboard/invoices").text)[0]
    with runtime.db.read() as conn:
        [victim_token] = accounts_service.list_tokens(conn, account_id=victim.id)
    client.cookies.clear()
    attacker = make_account(name="attacker")
    sign_in(client, attacker.token)
    assert client.get(f"/dashboard/invoices/{victim_invoice}/pdf").status_code == 404
    revoke = post_form(client, "/dashboard/tokens",
                       f"/dashboard/tokens/{victim_token['id']}/revoke", {})
    assert revoke.status_code == 404
    # An account id slipped into a form is not read: the session's account is the only one.
    post_form(client, "/dashboard/limit", "/dashboard/limit", {
        "amount": "50", "duration": "daily", "strategy": "fixed", "account_id": victim.id})
    assert api(client, victim, "ai-gateway/billing/spending-limit")["enabled"] is False
    assert api(client, attacker, "ai-gateway/billing/spending-limit")["enabled"] is True
    assert client.get(f"/dashboard?account_id={victim.id}").text.count("$20.00") == 0
    assert api(client, victim, "ai-gateway/billing/credit-balance")["balance"] == 2000
    assert len(api(client, victim, "tokens")) == 1


def test_hostile_names_and_profile_fields_render_inert(
        client: Any, runtime: Runtime, make_account: MakeAccount) -> None:
    account = make_account(name=HOSTILE[0] + HOSTILE[1])
    sign_in(client, account.token)
    saved = post_form(client, "/dashboard/profile", "/dashboard/profile",
                      {"company": HOSTILE[0], "first_name": HOSTILE[1], "city": HOSTILE[1]})
    assert text_of(saved.text, "flash") == "Billing profile saved."
    created = post_form(client, "/dashboard/tokens", "/dashboard/tokens",
                        {"name": HOSTILE[1], "groups": AI_GATEWAY_READ})
    with runtime.db.write() as conn:
        operator = accounts_service.create_operator_token(conn, name="ops", now_ms=1)
    pages = [saved.text, created.text, client.get("/dashboard/profile").text]
    client.cookies.clear()
    sign_in(client, operator.secret, where="/admin")
    pages += [client.get("/admin").text, client.get(f"/admin/accounts/{account.id}").text]
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[2]
    assert 'value="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in pages[2]
    assert "&lt;script&gt;" in pages[3]


def test_tokens_are_shown_once_bounded_by_the_session_and_revocable(
        client: Any, clock: ManualClock, make_account: MakeAccount) -> None:
    account = make_account()
    sign_in(client, account.token)
    made = post_form(client, "/dashboard/tokens", "/dashboard/tokens",
                     {"name": "reader", "groups": AI_GATEWAY_READ})
    secret = text_of(made.text, "token-secret")
    assert client.get("/client/v4/user/tokens/verify",
                      headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listing = client.get("/dashboard/tokens").text
    assert secret not in listing and listing.count('data-testid="token-row"') == 2
    token_id = re.findall(r'data-testid="token-row" data-id="([^"]+)"', listing)
    new_id = next(t for t in token_id if "reader" in listing.split(t, 1)[1][:200])
    gone = post_form(client, "/dashboard/tokens", f"/dashboard/tokens/{new_id}/revoke", {})
    assert text_of(gone.text, "flash") == "Token revoked."
    assert sign_in(client, secret).status_code == 401
    clock.advance(seconds=1)  # past the API's credential cache (CREDITGATE_AUTH_CACHE_MS)
    assert client.get("/client/v4/user/tokens/verify",
                      headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    none = post_form(client, "/dashboard/tokens", "/dashboard/tokens", {"name": "no groups"})
    assert none.status_code == 400 and "permission_groups" in text_of(none.text, "flash")


def test_the_usage_chart_has_one_point_per_window(client: Any,
                                                   make_account: MakeAccount) -> None:
    account = make_account()
    client.post(account.url("ai-gateway/billing/usage-events"), headers=account.headers,
                json={"events": [{"id": "e1", "timestamp": START - 3_600_000, "cost": 40,
                                  "provider": "openai", "model": "gpt-4o"}]})
    sign_in(client, account.token)
    hours = client.get("/dashboard/usage?window=hour&from=2026-11-15&to=2026-11-15").text
    assert hours.count('data-testid="usage-point"') == 24
    assert 'data-microcents="40000000"' in hours  # the 11:00 window
    week = client.get("/dashboard/usage?window=day&from=2026-11-09&to=2026-11-15").text
    assert week.count('data-testid="usage-point"') == 7
    assert "openai gpt-4o" in week and "$0.40" in week
    default = client.get("/dashboard/usage").text
    assert default.count('data-testid="usage-point"') == 30
    bad = client.get("/dashboard/usage?from=2026-11-15&to=2026-11-01")
    assert bad.status_code == 400 and "flash" in bad.text


def test_the_operator_finds_an_account_and_grants_credit(
        client: Any, runtime: Runtime, make_account: MakeAccount) -> None:
    target = make_account(name="Acme Research")
    make_account(name="Other")
    with runtime.db.write() as conn:
        operator = accounts_service.create_operator_token(conn, name="ops", now_ms=1)
    sign_in(client, operator.secret, where="/admin")
    found = client.get("/admin?q=acme").text
    assert found.count('data-testid="account-row"') == 1 and target.id in found
    assert client.get(f"/admin?q={target.id}").text.count('data-testid="account-row"') == 1
    granted = post_form(client, f"/admin/accounts/{target.id}",
                        f"/admin/accounts/{target.id}/grant",
                        {"amount": "7.25", "description": "goodwill", "grant_key": "g-1"})
    assert text_of(granted.text, "flash") == "Credit granted."
    assert text_of(granted.text, "balance") == "$7.25"
    assert "goodwill" in granted.text
    assert balance_microcents(runtime, target.id) == 725 * 1_000_000
    created = post_form(client, "/admin", "/admin/accounts", {"name": "New customer"})
    token = text_of(created.text, "token-secret")
    assert client.get("/client/v4/user/tokens/verify",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200
    missing = client.get("/admin/accounts/" + "f" * 32)
    assert missing.status_code == 404

"""The dashboard and the operator console in a real browser: Debian's chromium driven by
Playwright against the real `creditgate serve` (the sandbox processor), one server and one
browser for the module. Screenshots of every page, at desktop width and at 360 px, are
written under the test run's base temporary directory (`screenshots/`), never committed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Dialog,
    Page,
    Route,
    expect,
    sync_playwright,
)

from tests.e2e.conftest import Server, start_server, stop_server

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian's chromium is not installed (scripts/system-deps.sh "
                              "installs it as root: apt-get install chromium)"),
]

PAGES = ["/dashboard", "/dashboard/usage", "/dashboard/topup", "/dashboard/auto-topup",
         "/dashboard/limit", "/dashboard/invoices", "/dashboard/profile", "/dashboard/tokens"]
WIDTHS = {"desktop": (1280, 900), "360px": (360, 780)}
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("dashboard-site"))
    # One operator token for the module: accounts are made over the operator API, which is
    # much quicker than a `creditgate` process each.
    running.extra["operator"] = running.cli_json("tokens", "create", "--operator")["token"]
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as driver:
        # Debian's chromium, never a downloaded browser build.
        launched = driver.chromium.launch(executable_path=str(CHROMIUM),
                                          args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def root(site: Server) -> str:
    return site.base_url.removesuffix("/client/v4")


def new_account(site: Server, name: str = "browser") -> tuple[str, str]:
    """A new account and a token with every permission group, made over the operator API."""
    headers = {"Authorization": f"Bearer {site.extra['operator']}"}
    made = httpx.post(f"{site.base_url}/accounts", json={"name": name}, headers=headers,
                      timeout=10)
    account_id = made.json()["result"]["id"]
    groups = httpx.get(f"{site.base_url}/accounts/{account_id}/tokens/permission_groups",
                       headers=headers, timeout=10).json()["result"]
    token = httpx.post(f"{site.base_url}/accounts/{account_id}/tokens", headers=headers,
                       timeout=10, json={"name": "browser", "policies": [{
                           "effect": "allow",
                           "permission_groups": [{"id": g["id"]} for g in groups],
                           "resources": {f"com.cloudflare.api.account.{account_id}": "*"}}]})
    return account_id, token.json()["result"]["value"]


def api(site: Server, token: str, account_id: str, path: str) -> object:
    answer = httpx.get(f"{site.base_url}/accounts/{account_id}/{path}",
                       headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return answer.json()["result"]


class Visitor:
    """One browser context (its own cookies) that refuses to send anything off loopback."""

    def __init__(self, browser: Browser, site: Server, *, javascript: bool = True) -> None:
        self.context: BrowserContext = browser.new_context(
            base_url=root(site), java_script_enabled=javascript, accept_downloads=True)
        self.outside: list[str] = []
        self.dialogs: list[str] = []
        self.context.route("**/*", self._only_loopback)
        self.page: Page = self.context.new_page()
        self.page.on("dialog", self._dialog)

    def _only_loopback(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def _dialog(self, dialog: Dialog) -> None:
        # An alert() would mean hostile text ran as script: record it and carry on.
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def sign_in(self, token: str, where: str = "/dashboard") -> None:
        self.page.goto(f"{where}/sign-in")
        self.page.fill("#token", token)
        self.page.get_by_test_id("sign-in-submit").click()

    def flash(self) -> str:
        return self.page.get_by_test_id("flash").inner_text().strip()

    def close(self) -> None:
        assert self.outside == [], f"requests left loopback: {self.outside}"
        self.context.close()


@pytest.fixture
def visitor(browser: Browser, site: Server) -> Iterator[Visitor]:
    opened = Visitor(browser, site)
    yield opened
    opened.close()


def test_sign_in_by_link_top_up_and_a_decline(visitor: Visitor, site: Server) -> None:
    account_id, token = new_account(site)
    url = site.cli_json("dashboard", "link", "--account", account_id)["url"]
    page = visitor.page
    page.goto(url)
    page.get_by_test_id("link-submit").click()
    expect(page.get_by_test_id("balance")).to_have_text("$0.00")
    page.goto("/dashboard/topup")
    page.get_by_test_id("topup-amount").fill("20")
    page.select_option("#card", "pm_card_visa")
    page.get_by_test_id("topup-submit").click()
    expect(page.get_by_test_id("topup-result")).to_have_attribute("data-status", "completed")
    page.goto("/dashboard")
    balance = api(site, token, account_id, "ai-gateway/billing/credit-balance")
    assert isinstance(balance, dict) and balance["balance"] == 2000
    expect(page.get_by_test_id("balance")).to_have_text("$20.00")
    page.goto("/dashboard/topup")
    page.get_by_test_id("topup-amount").fill("20")
    page.select_option("#card", "pm_card_chargeDeclined")
    page.get_by_test_id("topup-submit").click()
    expect(page.get_by_test_id("topup-result")).to_have_attribute("data-status", "declined")
    assert "Your card was declined" in visitor.flash()
    page.goto("/dashboard")
    expect(page.get_by_test_id("balance")).to_have_text("$20.00")


def test_the_link_works_once(browser: Browser, site: Server) -> None:
    account_id, _ = new_account(site)
    url = site.cli_json("dashboard", "link", "--account", account_id)["url"]
    first, second = Visitor(browser, site), Visitor(browser, site)
    first.page.goto(url)
    first.page.get_by_test_id("link-submit").click()
    expect(first.page.get_by_test_id("balance")).to_be_visible()
    second.page.goto(url)
    second.page.get_by_test_id("link-submit").click()
    assert "already used or has expired" in second.flash()
    second.page.goto("/dashboard")
    assert second.page.url.endswith("/dashboard/sign-in")
    first.close()
    second.close()


def test_limit_auto_top_up_and_a_bad_amount(visitor: Visitor, site: Server) -> None:
    account_id, token = new_account(site)
    visitor.sign_in(token)
    page = visitor.page
    page.goto("/dashboard/topup")
    page.get_by_test_id("topup-amount").fill("25")
    page.select_option("#card", "pm_card_visa")
    page.get_by_test_id("topup-submit").click()
    page.goto("/dashboard/limit")
    page.get_by_test_id("limit-amount").fill("40")
    page.select_option("#duration", "monthly")
    page.get_by_test_id("limit-submit").click()
    assert visitor.flash() == "Spending limit saved."
    page.goto("/dashboard")
    gauge = page.get_by_test_id("limit-gauge")
    expect(gauge).to_have_attribute("data-limit-cents", "4000")
    expect(gauge).to_contain_text("$0.00 of $40.00 (0%), monthly, fixed.")
    page.goto("/dashboard/auto-topup")
    page.get_by_test_id("auto-threshold").fill("5")
    page.get_by_test_id("auto-amount").fill("20")
    page.get_by_test_id("auto-submit").click()
    assert visitor.flash() == "Auto top-up saved."
    page.get_by_test_id("auto-threshold").fill("1")
    page.get_by_test_id("auto-amount").fill("20")
    page.get_by_test_id("auto-submit").click()
    assert visitor.flash() == "/threshold: must be at least 500 and at most 100000 cents"
    config = api(site, token, account_id, "ai-gateway/billing/topup/config")
    assert isinstance(config, dict) and (config["amount"], config["threshold"]) == (2000, 500)


def test_usage_chart_focus_csv_and_invoice_pdf(visitor: Visitor, site: Server) -> None:
    account_id, token = new_account(site)
    sent = httpx.post(f"{site.base_url}/accounts/{account_id}/ai-gateway/billing/usage-events",
                      headers={"Authorization": f"Bearer {token}"}, timeout=10,
                      json={"events": [{"id": "u1", "cost": 150, "provider": "openai",
                                        "model": "gpt-4o"}]})
    assert sent.json()["result"]["accepted"] == 1
    visitor.sign_in(token)
    page = visitor.page
    page.goto("/dashboard/usage?window=hour")
    expect(page.get_by_test_id("usage-point")).to_have_count(24)
    page.select_option("select[name=window]", "day")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("usage-point")).to_have_count(30)
    expect(page.get_by_test_id("model-row")).to_contain_text("openai gpt-4o")
    with page.expect_download() as download:
        page.get_by_test_id("focus-csv").click()
    csv = Path(download.value.path()).read_text()
    assert csv.startswith('"BilledCost"') and "gpt-4o" in csv
    page.goto("/dashboard/topup")
    page.get_by_test_id("topup-amount").fill("10")
    page.select_option("#card", "pm_card_visa")
    page.get_by_test_id("topup-submit").click()
    page.goto("/dashboard/invoices")
    expect(page.get_by_test_id("invoice-row")).to_have_count(1)
    href = page.get_by_test_id("invoice-pdf").get_attribute("href")
    assert href is not None
    pdf = page.context.request.get(href)  # the session's cookies, as the browser opens it
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF-")


def test_create_a_token_once_and_revoke_it(visitor: Visitor, browser: Browser,
                                           site: Server) -> None:
    _, token = new_account(site)
    visitor.sign_in(token)
    page = visitor.page
    page.goto("/dashboard/tokens")
    page.get_by_test_id("token-name").fill("ci reader")
    page.get_by_test_id("token-group-ai-gateway-read").check()
    page.get_by_test_id("token-submit").click()
    secret = page.get_by_test_id("token-secret").inner_text().strip()
    page.goto("/dashboard/tokens")
    assert secret not in page.content()
    expect(page.get_by_test_id("token-row")).to_have_count(2)
    page.get_by_test_id("token-row").filter(has_text="ci reader").get_by_test_id(
        "token-revoke").click()
    assert visitor.flash() == "Token revoked."
    expect(page.get_by_test_id("token-row")).to_have_count(1)
    other = Visitor(browser, site)
    other.sign_in(secret)
    assert "not an active API token" in other.flash()
    other.close()


def test_security_csrf_other_accounts_and_hostile_text(browser: Browser,
                                                       site: Server) -> None:
    victim_id, victim_token = new_account(site, "victim")
    victim = Visitor(browser, site)
    victim.sign_in(victim_token)
    victim.page.goto("/dashboard/topup")
    victim.page.get_by_test_id("topup-amount").fill("10")
    victim.page.select_option("#card", "pm_card_visa")
    victim.page.get_by_test_id("topup-submit").click()
    victim.page.goto("/dashboard/invoices")
    invoice = victim.page.get_by_test_id("invoice-row").get_attribute("data-id")
    victim.page.goto("/dashboard/tokens")
    victim_token_id = victim.page.get_by_test_id("token-row").get_attribute("data-id")
    victim.close()

    attacker_id, attacker_token = new_account(site, HOSTILE)
    visitor = Visitor(browser, site)
    visitor.sign_in(attacker_token)
    page = visitor.page
    # A form post without the CSRF token (as another site's form would send) is refused.
    forged = page.context.request.post("/dashboard/limit", form={
        "amount": "50", "duration": "daily", "strategy": "fixed"})
    assert forged.status == 403
    # Ids of another account in URLs and forms.
    assert page.context.request.get(f"/dashboard/invoices/{invoice}/pdf").status == 404
    page.goto("/dashboard/tokens")
    page.evaluate("""id => { const f = document.querySelector('form[action$="/revoke"]');
                             f.action = '/dashboard/tokens/' + id + '/revoke'; f.submit(); }""",
                  victim_token_id)
    page.wait_for_load_state()
    assert "No token" in visitor.flash()
    assert isinstance(api(site, victim_token, victim_id, "tokens"), list)
    # Hostile text in the account name and the profile renders as text.
    page.goto("/dashboard/profile")
    page.get_by_test_id("profile-company").fill(HOSTILE)
    page.get_by_test_id("profile-city").fill(HOSTILE)
    page.get_by_test_id("profile-submit").click()
    assert visitor.flash() == "Billing profile saved."
    page.reload()
    expect(page.get_by_test_id("profile-company")).to_have_value(HOSTILE)
    assert page.locator("img[onerror]").count() == 0
    assert page.locator("script:not([src])").count() == 0
    operator = site.extra["operator"]
    console = Visitor(browser, site)
    console.sign_in(operator, "/admin")
    console.page.goto(f"/admin?q={attacker_id}")
    expect(console.page.get_by_test_id("account-row")).to_contain_text("<script>alert(1)")
    console.page.goto(f"/admin/accounts/{attacker_id}")
    assert console.page.locator("img[onerror]").count() == 0
    assert visitor.dialogs == [] and console.dialogs == []
    console.close()
    visitor.close()


def test_the_operator_grants_credit_and_creates_an_account(visitor: Visitor,
                                                           site: Server) -> None:
    account_id, token = new_account(site, "Grant Me Ltd")
    visitor.sign_in(site.extra["operator"], "/admin")
    page = visitor.page
    page.get_by_test_id("account-search").fill("grant me")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("account-row")).to_have_count(1)
    page.get_by_role("link", name="Grant Me Ltd").click()
    page.get_by_test_id("grant-amount").fill("12.50")
    page.get_by_test_id("grant-description").fill("launch credit")
    page.get_by_test_id("grant-submit").click()
    assert visitor.flash() == "Credit granted."
    expect(page.get_by_test_id("balance")).to_have_text("$12.50")
    expect(page.get_by_test_id("ledger-row")).to_contain_text("launch credit")
    balance = api(site, token, account_id, "ai-gateway/billing/credit-balance")
    assert isinstance(balance, dict) and balance["balance"] == 1250
    page.goto("/admin")
    page.get_by_test_id("account-name").fill("Fresh customer")
    page.get_by_test_id("account-submit").click()
    fresh = page.get_by_test_id("token-secret").inner_text().strip()
    assert httpx.get(f"{site.base_url}/user/tokens/verify",
                     headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_every_page_without_javascript_at_both_widths(browser: Browser, site: Server,
                                                      shots: Path) -> None:
    """Readable with JavaScript off, no sideways scrolling at 360 px; the screenshots."""
    account_id, token = new_account(site, "Screenshot Co")
    httpx.post(f"{site.base_url}/accounts/{account_id}/ai-gateway/billing/usage-events",
               headers={"Authorization": f"Bearer {token}"}, timeout=10,
               json={"events": [{"id": f"s{i}", "cost": 30 + 7 * i, "provider": "openai",
                                 "model": "gpt-4o-mini"} for i in range(5)]})
    visitor = Visitor(browser, site, javascript=False)
    visitor.sign_in(token)
    page = visitor.page
    page.goto("/dashboard/topup")
    page.get_by_test_id("topup-amount").fill("50")
    page.select_option("#card", "pm_card_visa")
    page.get_by_test_id("topup-submit").click()
    operator = site.extra["operator"]
    for path in PAGES:
        page.goto(path)
        assert page.locator("h1").count() == 1, path
        _snap(page, shots, path)
    expect(page.get_by_test_id("token-row")).to_have_count(1)
    page.goto("/dashboard")
    for name in ("balance", "month-spend", "limit-gauge"):
        expect(page.get_by_test_id(name)).to_be_visible()
    console = Visitor(browser, site, javascript=False)
    console.sign_in(operator, "/admin")
    for path in ("/admin", f"/admin/accounts/{account_id}"):
        console.page.goto(path)
        _snap(console.page, shots, path)
    stranger = Visitor(browser, site, javascript=False)
    for path in ("/dashboard/sign-in", "/admin/sign-in"):
        stranger.page.goto(path)
        _snap(stranger.page, shots, path)
    stranger.close()
    console.close()
    visitor.close()
    assert len(list(shots.glob("*.png"))) >= 2 * (len(PAGES) + 4)


def _snap(page: Page, shots: Path, path: str) -> None:
    name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")[:60]
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(shots / f"{name}-{label}.png"), full_page=True)
        if width == 360:
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, f"{path} scrolls sideways at 360 px ({overflow} px)"

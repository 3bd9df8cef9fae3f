"""Wire differences found against Cloudflare's OpenAPI document and the SDKs' own tests (issue
17), each sent the way the official SDK that sends it does: the Python SDK (`cloudflare`), and
the TypeScript SDK (npm `cloudflare`, run by node) for the repeated `metric_id`."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.conftest import Server, start_server, stop_server
from tests.invoices.test_pdf import pdf_text, require_poppler

pytestmark = pytest.mark.e2e
HOUR_MS = 3_600_000
TS_DIR = Path(__file__).parent / "ts"


def post_usage(server: Server, events: list[dict[str, Any]]) -> None:
    posted = httpx.post(f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/"
                        "usage-events", json={"events": events}, headers=server.headers())
    assert posted.status_code == 200, posted.text


def test_usage_history_takes_the_python_sdks_float_milliseconds(server: Server) -> None:
    now = int(time.time() * 1000)
    hour = now - now % HOUR_MS
    post_usage(server, [{"id": "h1", "timestamp": hour + 1, "cost": 2.5}])
    client = server.sdk()
    # The SDK types the times as floats and sends them as such: "1764000000000.5".
    history = client.ai_gateway.billing.usage_history(
        account_id=server.account_id, value_grouping_window="hour",
        start_time=hour - HOUR_MS + 0.75, end_time=hour + 0.5)
    assert [(w.start_time, w.aggregated_value) for w in history.history] == [
        (hour - HOUR_MS, 0), (hour, 2.5)]  # the end rounded up to hour + 1: its window counts


def test_usage_history_answers_the_specs_years_long_example(server: Server) -> None:
    """The spec's example: a start_time years back and no end_time. Page 1 holds the newest
    1,000 windows; `result_info` tells how many there are."""
    now = int(time.time() * 1000)
    post_usage(server, [{"id": "d1", "timestamp": now, "cost": 4}])
    years_back = now - 3 * 365 * 24 * HOUR_MS
    client = server.sdk()
    raw = client.ai_gateway.billing.with_raw_response.usage_history(
        account_id=server.account_id, value_grouping_window="hour", start_time=years_back)
    history = raw.parse().history
    assert len(history) == 1000
    assert history[-1].start_time == now - now % HOUR_MS
    assert history[-1].aggregated_value == 4
    info = orjson.loads(raw.http_response.content)["result_info"]
    total = (now - now % HOUR_MS + HOUR_MS - (years_back - years_back % HOUR_MS)) // HOUR_MS
    assert info == {"page": 1, "per_page": 1000, "total_count": total, "has_more": True}


def test_paygo_usage_info_at_the_specs_path(server: Server) -> None:
    client = server.sdk()
    spec_path = client.get(f"/accounts/{server.account_id}/paygo-usage-info",
                           cast_to=httpx.Response)
    sdk_path = client.get(f"/accounts/{server.account_id}/billable-usage/info",
                          cast_to=httpx.Response)
    assert spec_path.status_code == sdk_path.status_code == 200
    assert spec_path.json() == sdk_path.json()
    assert spec_path.json()["result"] == {"covered": True, "subscriptions": []}
    info = client.billing.usage.get_account_usage_info_v1(account_id=server.account_id)
    assert info.covered is True


def test_billing_profile_get_without_one_and_a_repeated_create(server: Server) -> None:
    client = server.sdk()
    empty = client.billing.profiles.get(account_id=server.account_id)
    assert (empty.id, empty.first_name, empty.country, empty.balance) == (None, None, None, "0")
    first = client.billing.profiles.create(account_id=server.account_id, first_name="Ada",
                                           last_name="Lovelace", country="GB", city="London")
    # The SDK's generated tests call create again on the same account: it updates.
    again = client.billing.profiles.create(account_id=server.account_id, first_name="Ada",
                                           last_name="King", country="GB", city="Ockham")
    assert first.id is not None and again.id == first.id
    assert (again.last_name, again.city, again.country) == ("King", "Ockham", "GB")
    assert client.billing.profiles.get(account_id=server.account_id).city == "Ockham"


def test_invoices_through_the_sdk_links_tax_country_and_quantities(tmp_path: Path) -> None:
    """`serve --port P` with neither CREDITGATE_PORT nor CREDITGATE_PUBLIC_BASE_URL set: links
    point at P (they pointed at 8787). The top-up invoice names the profile's tax country, its
    tax label whole; last month's statement of one request reads "1 request"."""
    require_poppler()
    server = start_server(tmp_path, port_flag=True)
    try:
        port = server.base_url.split(":")[2].split("/")[0]
        client = server.sdk()
        client.billing.profiles.create(account_id=server.account_id, first_name="Ada",
                                       country="GB")
        client.billing.profiles.payment_method.create(
            account_id=server.account_id, extra_body={"payment_method": "pm_card_visa"})
        client.ai_gateway.billing.topup.create(account_id=server.account_id, amount=1000)
        link = client.ai_gateway.billing.invoice_history(
            account_id=server.account_id, type="manual").invoices[0].invoice_pdf
        assert link is not None and link.startswith(f"http://127.0.0.1:{port}/"), link
        pdf = httpx.get(link)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
        text = pdf_text(pdf.content, tmp_path)
        assert "Tax (0%, GB) $0.00 USD" in text, text

        # One request in the last hour of last month (always within the 35 days accepted).
        now = datetime.now(tz=UTC)
        month_start = datetime(now.year, now.month, 1, tzinfo=UTC)
        last_hour = int(month_start.timestamp() * 1000) - HOUR_MS
        post_usage(server, [{"id": "one", "timestamp": last_hour, "cost": 45,
                             "provider": "anthropic", "model": "claude-sonnet-4"}])
        month = datetime.fromtimestamp(last_hour / 1000, tz=UTC).strftime("%Y-%m")
        closed = server.cli_json("invoices", "close", "--month", month,
                                 "--account", server.account_id)
        # The server's worker may have closed it first: either way, one account, once.
        assert closed["accounts"] == 1
        assert (closed["billed"], closed["already_closed"]) in ((1, 0), (0, 1))
        statement = next(i for i in client.ai_gateway.billing.invoice_history(
            account_id=server.account_id).invoices if i.invoice_origin == "usage")
        assert statement.invoice_pdf is not None
        assert statement.invoice_pdf.startswith(f"http://127.0.0.1:{port}/")
        text = pdf_text(httpx.get(statement.invoice_pdf).content, tmp_path)
        assert "claude-sonnet-4 (anthropic) 1 request 45 $0.45" in text, text
        assert "Tax (20%, GB)" in text
    finally:
        stop_server(server)


def test_invoice_links_use_the_public_base_url_when_set(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"CREDITGATE_PUBLIC_BASE_URL": "https://billing.example"})
    try:
        client = server.sdk()
        client.billing.profiles.payment_method.create(
            account_id=server.account_id, extra_body={"payment_method": "pm_card_visa"})
        client.ai_gateway.billing.topup.create(account_id=server.account_id, amount=1000)
        link = client.ai_gateway.billing.invoice_history(
            account_id=server.account_id).invoices[0].invoice_pdf
        assert link is not None and link.startswith("https://billing.example/client/v4/"), link
    finally:
        stop_server(server)


def node_sdk() -> Path:
    """The TypeScript SDK, installed from the npm registry into tests/e2e/ts (pinned by its
    package-lock.json) the first time."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        reason = "node and npm are needed to run the official TypeScript SDK"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI requires them")
        pytest.skip(reason)
    if not (TS_DIR / "node_modules" / "cloudflare").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=TS_DIR, check=True,
                       capture_output=True, timeout=300)
    return Path(node)


def test_billable_usage_metric_id_repeated_by_the_typescript_sdk(server: Server) -> None:
    node = node_sdk()
    now = int(time.time() * 1000)
    post_usage(server, [
        {"id": "a", "timestamp": now, "cost": 1, "provider": "openai", "model": "gpt-4o"},
        {"id": "b", "timestamp": now, "cost": 2, "provider": "anthropic",
         "model": "claude-sonnet-4"},
        {"id": "c", "timestamp": now, "cost": 3, "model": "in-house"}])
    today = datetime.fromtimestamp(now / 1000, tz=UTC).date().isoformat()

    def through_node(*metric_ids: str) -> list[str]:
        out = subprocess.run(
            [str(node), "billable_usage.mjs", server.base_url, server.token, server.account_id,
             today, today, *metric_ids], cwd=TS_DIR, capture_output=True, text=True,
            timeout=120)
        assert out.returncode == 0, out.stderr
        return sorted(metric for metric, _ in orjson.loads(out.stdout))

    assert through_node("openai:gpt-4o", ":in-house") == [":in-house", "openai:gpt-4o"]
    assert through_node("anthropic:claude-sonnet-4") == ["anthropic:claude-sonnet-4"]
    assert through_node() == [":in-house", "anthropic:claude-sonnet-4", "openai:gpt-4o"]
    # The Python SDK has no such parameter; its extra_query sends the spec's one value.
    client = server.sdk()
    one = client.billing.usage.get_account_usage_v2(
        account_id=server.account_id, from_=today, to=today,
        extra_query={"metric_id": "openai:gpt-4o"})
    assert [r.x_billable_metric_id for r in one] == ["openai:gpt-4o"]

"""Account billing through the official Cloudflare Python SDK: billing profile, PayGo usage and
billable usage (FOCUS), against the real server."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import cloudflare
import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = [pytest.mark.e2e,
              pytest.mark.filterwarnings("ignore:Use `get_account_usage:DeprecationWarning")]


def _post_usage(server: Server) -> int:
    now = int(time.time() * 1000)
    events = [{"id": f"r-{i}", "timestamp": now - i * 1000, "cost": 1.5, "provider": "openai",
               "model": "gpt-4o", "input_tokens": 100, "output_tokens": 10} for i in range(4)]
    posted = httpx.post(f"{server.base_url}/accounts/{server.account_id}/ai-gateway/billing/"
                        "usage-events", json={"events": events}, headers=server.headers())
    assert posted.json()["result"] == {"accepted": 4, "duplicates": 0}
    return now


def test_billable_and_paygo_usage_through_the_sdk(server: Server) -> None:
    now = _post_usage(server)
    today = datetime.fromtimestamp(now / 1000, tz=UTC).date()
    client = server.sdk()
    records = client.billing.usage.get(account_id=server.account_id, from_=today, to=today)
    assert len(records) == 1
    record = records[0]
    assert record.x_billable_metric_id == "openai:gpt-4o"
    assert record.billed_cost == 0.06  # 4 x 1.5 cents
    assert record.consumed_quantity == 440
    assert record.charge_period_start.date() == today
    assert record.billing_account_id == server.account_id

    paygo = client.billing.usage.paygo(account_id=server.account_id)
    assert [(r.service_name, r.contracted_cost, r.cumulated_contracted_cost)
            for r in paygo] == [("openai gpt-4o", 0.06, 0.06)]
    assert paygo[0].billing_period_start.day == 1

    # The SDK's newer names for the same two reports.
    v2 = client.billing.usage.get_account_usage_v2(account_id=server.account_id,
                                                   from_=today, to=today)
    assert [r.billed_cost for r in v2] == [0.06]
    v1 = client.billing.usage.get_account_usage_v1(account_id=server.account_id)
    assert [r.cumulated_pricing_quantity for r in v1] == [440]

    info = client.billing.usage.get_account_usage_info_v1(account_id=server.account_id)
    assert info.covered is True and info.subscriptions == []

    with pytest.raises(cloudflare.BadRequestError):
        client.billing.usage.get(account_id=server.account_id, from_=today)


def test_billing_profile_through_the_sdk(server: Server) -> None:
    client = server.sdk()
    assert client.billing.profiles.get(account_id=server.account_id).id is None  # none yet
    created = client.billing.profiles.create(
        account_id=server.account_id, first_name="Grace", last_name="Hopper", country="us",
        city="Arlington", billing_email="billing@navy.example", preferred_locale="en-US")
    assert created.country == "US"
    updated = client.billing.profiles.update(account_id=server.account_id, city="Washington")
    assert updated.city == "Washington" and updated.first_name == "Grace"
    client.billing.profiles.update_billing_email(account_id=server.account_id,
                                                 billing_email="ap@navy.example")
    profile = client.billing.profiles.get(account_id=server.account_id)
    assert profile.country == "US"
    assert profile.billing_email == "ap@navy.example"  # type: ignore[attr-defined]
    assert profile.next_bill_date is not None and profile.next_bill_date.day == 1
    with pytest.raises(cloudflare.BadRequestError):
        client.billing.profiles.update(account_id=server.account_id, country="Narnia")
    client.billing.profiles.delete(account_id=server.account_id)
    gone = client.billing.profiles.get(account_id=server.account_id)
    assert (gone.id, gone.country, gone.city) == (None, None, None)
    with pytest.raises(cloudflare.NotFoundError):
        client.billing.profiles.delete(account_id=server.account_id)

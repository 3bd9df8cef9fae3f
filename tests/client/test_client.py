"""`Client` against a real creditgate, through a proxy that cuts connections and answers
faults: retries by the same id count once, refusals are typed and never retried."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from creditgate.client import (
    Client,
    CreditgateError,
    InsufficientCredits,
    SpendingLimitReached,
    Unavailable,
    UsageEvent,
)
from tests.client.conftest import Creditgate
from tests.client.proxy import Fault, Proxy
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e

MICRO = 1_000_000
AUTHORIZATIONS = "/ai-gateway/billing/authorizations"


def through(proxy: Proxy, creditgate: Creditgate, account: str, **options: object) -> Client:
    return Client(proxy.base_url(), creditgate.operator, account, backoff_base=0.01,
                  **options)  # type: ignore[arg-type]


def direct(creditgate: Creditgate, account: str) -> Client:
    return Client(creditgate.server.base_url, creditgate.operator, account, max_retries=0)


def test_an_authorization_retried_after_a_dropped_answer_holds_once(
        creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    proxy.inject(Fault("drop_answer", match=AUTHORIZATIONS))
    with through(proxy, creditgate, account) as client:
        hold = client.authorize("req-1", Decimal("400.000001"))
    # The first attempt placed the hold; the retry was answered that hold, not a second one.
    assert proxy.count("POST", AUTHORIZATIONS) == 2
    assert (hold.id, hold.status, hold.amount_cents, hold.created) == (
        "req-1", "active", Decimal("400.000001"), False)
    assert creditgate.balance_microcents(account) == 1000 * MICRO
    # Exactly 400.000001 cents are held: 599.999999 more fit, and not one microcent beyond.
    with direct(creditgate, account) as plain:
        assert plain.authorize("req-2", Decimal("599.999999")).created is True
        with pytest.raises(InsufficientCredits):
            plain.authorize("req-3", Decimal("0.000001"))


def test_a_capture_retried_after_a_dropped_answer_posts_once(
        creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    with through(proxy, creditgate, account) as client:
        client.authorize("req-1", 100)
        proxy.inject(Fault("drop_answer", match="/capture"))
        captured = client.capture("req-1", Decimal("12.345678"))
    assert proxy.count("POST", "/req-1/capture") == 2
    assert (captured.status, captured.amount_cents, captured.cost_cents) == (
        "captured", Decimal(100), Decimal("12.345678"))
    assert creditgate.balance_microcents(account) == 1000 * MICRO - 12_345_678
    assert creditgate.hold(account, "req-1")["status"] == "captured"


def test_usage_retried_after_a_dropped_answer_counts_once(
        creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    proxy.inject(Fault("drop_answer", match="/usage-events"))
    events = [UsageEvent(cost_cents=Decimal("1.000001")) for _ in range(3)]  # ids generated
    with through(proxy, creditgate, account) as client:
        report = client.report_usage(events)
    assert proxy.count("POST", "/usage-events") == 2
    # The lost attempt stored them; the retry, with the same generated ids, finds them stored.
    assert (report.accepted, report.duplicates) == (0, 3)
    assert creditgate.balance_microcents(account) == 1000 * MICRO - 3_000_003


def test_a_402_is_raised_at_once_and_not_retried(creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=10)
    with through(proxy, creditgate, account) as client, \
            pytest.raises(InsufficientCredits) as refused:
        client.authorize("req-1", 11)
    assert (refused.value.status, refused.value.code) == (402, 2001)
    assert refused.value.pointer == "/amount"
    assert proxy.count("POST", AUTHORIZATIONS) == 1


def _set_limit(creditgate: Creditgate, account: str, cents: int) -> None:
    answer = httpx.post(
        f"{creditgate.server.base_url}/accounts/{account}/ai-gateway/billing/spending-limit",
        headers={"Authorization": f"Bearer {creditgate.operator}"},
        json={"amount": cents, "duration": "daily", "strategy": "fixed"})
    assert answer.status_code == 201, answer.text


def test_a_429_carries_retry_after_and_is_not_retried(creditgate: Creditgate,
                                                      proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    _set_limit(creditgate, account, 100)
    with through(proxy, creditgate, account) as client:
        client.authorize("req-1", 60)
        with pytest.raises(SpendingLimitReached) as full:
            client.authorize("req-2", 50)
        with pytest.raises(SpendingLimitReached) as never:
            client.authorize("req-3", 101)
    # creditgate marks a full window retryable (x-should-retry: true); waiting is the caller's.
    assert (full.value.status, full.value.code) == (429, 2002)
    assert full.value.retry_after is not None and 0 < full.value.retry_after <= 86_400
    assert (never.value.code, never.value.retry_after) == (2003, None)
    assert proxy.count("POST", AUTHORIZATIONS) == 3


def test_x_should_retry_false_stops_a_retry(creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    proxy.inject(Fault("reply", match=AUTHORIZATIONS, status=503,
                       headers={"x-should-retry": "false"}))
    with through(proxy, creditgate, account) as client, pytest.raises(Unavailable) as failed:
        client.authorize("req-1", 5)
    assert (failed.value.status, failed.value.code) == (503, 1503)
    assert proxy.count("POST", AUTHORIZATIONS) == 1
    assert creditgate.balance_microcents(account) == 1000 * MICRO


def test_x_should_retry_true_forces_a_retry_of_an_other_status(
        creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    proxy.inject(Fault("reply", match=AUTHORIZATIONS, status=425,
                       headers={"x-should-retry": "true"}))
    with through(proxy, creditgate, account) as client:
        assert client.authorize("req-1", 5).created is True
    assert proxy.count("POST", AUTHORIZATIONS) == 2


def test_5xx_is_retried_then_unavailable(creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    proxy.inject(Fault("reply", match=AUTHORIZATIONS, status=500, times=10))
    with through(proxy, creditgate, account, max_retries=3) as client, \
            pytest.raises(Unavailable) as failed:
        client.authorize("req-1", 5)
    assert failed.value.status == 500
    assert proxy.count("POST", AUTHORIZATIONS) == 4  # the first attempt and 3 retries


def test_503s_then_an_answer_succeed_with_the_same_body(creditgate: Creditgate,
                                                        proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    proxy.inject(Fault("reply", match=AUTHORIZATIONS, status=503, times=2))
    with through(proxy, creditgate, account) as client:
        hold = client.authorize("req-1", Decimal("5.5"))
    assert (hold.created, hold.amount_cents) == (True, Decimal("5.5"))
    assert proxy.count("POST", AUTHORIZATIONS) == 3


def test_a_timeout_is_retried_then_unavailable(creditgate: Creditgate, proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=1000)
    proxy.inject(Fault("stall", match="/credit-balance", times=2, seconds=3))
    with through(proxy, creditgate, account, timeout=0.3, max_retries=1) as client, \
            pytest.raises(Unavailable) as failed:
        client.balance()
    assert failed.value.status is None
    assert isinstance(failed.value.__cause__, httpx.TimeoutException)
    assert proxy.count("GET", "/credit-balance") == 2


def test_nothing_listening_is_unavailable_without_a_status() -> None:
    with Client(f"http://127.0.0.1:{free_port()}/client/v4", "t", "acct", max_retries=2,
                backoff_base=0.01) as client, pytest.raises(Unavailable) as failed:
        client.balance()
    assert failed.value.status is None
    assert isinstance(failed.value.__cause__, httpx.ConnectError)


def test_one_client_bills_several_accounts(creditgate: Creditgate) -> None:
    first, second = creditgate.new_account(grant_cents=100), creditgate.new_account(50)
    with direct(creditgate, first) as client:
        client.report_usage([UsageEvent(id="e1", cost_cents=3)])
        client.report_usage([UsageEvent(id="e1", cost_cents=Decimal("2.5"))],
                            account_id=second)
        hold = client.authorize("req-1", 7, account_id=second)
        client.void("req-1", account_id=second)
        assert client.balance().balance_cents == Decimal(97)
        assert client.balance(account_id=second).balance_cents == Decimal("47.5")
    assert hold.created is True
    assert creditgate.hold(second, "req-1")["status"] == "voided"


def test_tokens_are_priced_by_the_catalog(creditgate: Creditgate) -> None:
    account = creditgate.new_account(grant_cents=100)
    with direct(creditgate, account) as client:
        hold = client.authorize("req-1", provider="openai", model="gpt-4o",
                                max_input_tokens=1000, max_output_tokens=500, ttl_seconds=60)
        captured = client.capture("req-1", input_tokens=100, output_tokens=50)
        # The capture's tokens were priced by the hold's model: 100 in, 50 out.
        again = client.capture("req-1", input_tokens=100, output_tokens=50)
    assert hold.expires_at_ms - hold.created_at_ms == 60_000
    assert (hold.provider, hold.model) == ("openai", "gpt-4o")
    assert again == captured
    assert creditgate.balance_microcents(account) == (
        100 * MICRO - int(captured.cost_cents * MICRO))
    assert 0 < captured.cost_cents < hold.amount_cents


def test_other_refusals_are_typed_and_not_retried(creditgate: Creditgate,
                                                  proxy: Proxy) -> None:
    account = creditgate.new_account(grant_cents=100)
    with through(proxy, creditgate, account) as client:
        with pytest.raises(CreditgateError) as unknown:
            client.capture("never-held", 1)
        client.authorize("req-1", 5)
        client.capture("req-1", 4)
        with pytest.raises(CreditgateError) as mismatch:
            client.capture("req-1", 3)
    assert (unknown.value.status, unknown.value.code) == (404, 2004)
    assert (mismatch.value.status, mismatch.value.code) == (409, 2008)
    assert proxy.count("POST", "/capture") == 3


def test_money_must_be_exact_and_ids_routable() -> None:
    with Client("http://127.0.0.1:9/client/v4", "t", "acct") as client:
        with pytest.raises(TypeError, match="Decimal"):
            client.authorize("req-1", 1.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            client.report_usage([UsageEvent(id="e", cost_cents=0.1)])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="'/'"):
            client.capture("a/b", 1)
        with pytest.raises(ValueError, match="account_id"):
            Client("http://127.0.0.1:9/client/v4", "t").balance()

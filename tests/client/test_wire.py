"""The client's wire text and retry rules, without a server: exact cents, valid JSON, and
which answers are sent again."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from creditgate.client import AsyncClient, AsyncUsageReporter, Client, UsageEvent, UsageReporter
from creditgate.client.retry import RetryPolicy
from creditgate.client.wire import authorize_body, capture_body, encode_event, money


@pytest.mark.parametrize(("cents", "text"), [
    (7, "7"), (Decimal("7.5"), "7.5"), (Decimal("1E+2"), "100"),
    (Decimal("0.000001"), "0.000001"), (Decimal("-0"), "-0"), (Decimal("1.2300"), "1.2300"),
])
def test_cents_are_written_exactly_as_given(cents: int | Decimal, text: str) -> None:
    assert money(cents, "cost_cents") == text


@pytest.mark.parametrize("bad", [1.5, True, "7", Decimal("NaN"), Decimal("Infinity")])
def test_inexact_or_non_numbers_are_refused(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        money(bad, "cost_cents")  # type: ignore[arg-type]


def test_bodies_are_json_with_the_wire_names() -> None:
    event = UsageEvent(id='é"\n\\', cost_cents=Decimal("0.0125"), provider="openai",
                       model="gpt-4o", input_tokens=1, output_tokens=0, timestamp_ms=5,
                       gateway_id="gw", metadata={"team": "ml", "n": [1, 2.5]})
    assert json.loads(encode_event(event), parse_float=Decimal) == {
        "id": 'é"\n\\', "cost": Decimal("0.0125"), "provider": "openai", "model": "gpt-4o",
        "input_tokens": 1, "output_tokens": 0, "timestamp": 5, "gateway_id": "gw",
        "metadata": {"team": "ml", "n": [1, Decimal("2.5")]}}
    assert json.loads(authorize_body("r", None, "openai", "gpt-4o", 10, 20, 60)) == {
        "id": "r", "provider": "openai", "model": "gpt-4o", "max_input_tokens": 10,
        "max_output_tokens": 20, "ttl": 60}
    assert json.loads(capture_body(None, 3, None)) == {"input_tokens": 3}


def test_only_failures_are_retried_and_the_header_decides_the_rest() -> None:
    policy = RetryPolicy()
    for status in (400, 401, 402, 403, 404, 409, 413, 429):
        assert not policy.retryable(status, {"x-should-retry": "true"}), status
    assert policy.retryable(500, {}) and policy.retryable(503, {}) and policy.retryable(408, {})
    assert not policy.retryable(503, {"x-should-retry": "false"})
    assert policy.retryable(425, {"x-should-retry": "true"})
    assert not policy.retryable(425, {})


def test_backoff_doubles_with_jitter_and_honours_retry_after() -> None:
    low, high = RetryPolicy(random=lambda: 0.0), RetryPolicy(random=lambda: 1.0)
    assert [low.delay(n) for n in range(4)] == [0.05, 0.1, 0.2, 0.4]
    assert [high.delay(n) for n in range(4)] == [0.1, 0.2, 0.4, 0.8]
    assert high.delay(20) == 5.0  # backoff_max
    assert low.delay(0, retry_after=2.0) == 2.0
    assert low.delay(0, retry_after=60.0) == 5.0


def test_a_reporter_refuses_limits_creditgate_would_not_take() -> None:
    with Client("http://127.0.0.1:9/client/v4", "t", "acct") as client:
        with pytest.raises(ValueError, match="10000"):
            UsageReporter(client, max_batch=10_001)
        with pytest.raises(ValueError, match="max_buffered"):
            UsageReporter(client, max_batch=100, max_buffered=99)
        with pytest.raises(TypeError):
            AsyncUsageReporter(client)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        UsageReporter(AsyncClient("http://127.0.0.1:9/client/v4", "t"))  # type: ignore[arg-type]

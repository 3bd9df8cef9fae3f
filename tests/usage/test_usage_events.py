from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from creditgate.kernel.clock import DAY_MS, MINUTE_MS
from creditgate.kernel.runtime import Runtime
from creditgate.usage.tables import usage_events, usage_rollups
from tests.conftest import Account, error_of
from tests.helpers import balance_microcents, grant_cents

URL = "ai-gateway/billing/usage-events"


def post(client: Any, account: Account, body: Any) -> Any:
    return client.post(account.url(URL), json=body, headers=account.headers)


def event_count(runtime: Runtime) -> int:
    with runtime.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(usage_events)).scalar_one())


def test_batch_is_debited_exactly_and_duplicates_count_once(client: Any, account: Account,
                                                            runtime: Runtime) -> None:
    grant_cents(runtime, account.id, 1000)
    events = [{"id": "a", "cost": 12.5}, {"id": "b", "cost": 0.000001}, {"id": "a", "cost": 99}]
    first = post(client, account, {"events": events})
    assert first.status_code == 200, first.text
    assert first.json()["result"] == {"accepted": 2, "duplicates": 1}
    again = post(client, account, {"events": [{"id": "b", "cost": 0.000001}, {"id": "c",
                                                                              "cost": 1}]})
    assert again.json()["result"] == {"accepted": 1, "duplicates": 1}
    # 1000 - 12.5 - 0.000001 - 1 cents = 986.499999 cents
    assert balance_microcents(runtime, account.id) == 986_499_999
    balance = client.get(account.url("ai-gateway/billing/credit-balance"),
                         headers=account.headers).json()["result"]["balance"]
    assert balance == 986.499999
    assert event_count(runtime) == 3


def test_event_without_cost_is_priced_from_the_catalog(client: Any, account: Account,
                                                       runtime: Runtime) -> None:
    # gpt-4o: $2.50 / M input tokens, $10 / M output tokens.
    body = {"events": [{"id": "p", "provider": "openai", "model": "gpt-4o",
                        "input_tokens": 1000, "output_tokens": 100}]}
    assert post(client, account, body).status_code == 200
    # $0.0025 + $0.001 = 0.35 cents
    assert balance_microcents(runtime, account.id) == -350_000


def test_rollups_follow_the_event_hours(client: Any, account: Account, runtime: Runtime,
                                        clock: Any) -> None:
    now = clock.now_ms()
    body = {"events": [
        {"id": "1", "timestamp": now - 2 * 3_600_000, "cost": 1, "model": "m"},
        {"id": "2", "timestamp": now - 2 * 3_600_000 + MINUTE_MS, "cost": 2, "model": "m"},
        {"id": "3", "timestamp": now, "cost": 4, "model": "m"},
    ]}
    assert post(client, account, body).status_code == 200
    with runtime.db.read() as conn:
        rows = conn.execute(select(usage_rollups.c.hour_start_ms, usage_rollups.c.cost_microcents,
                                   usage_rollups.c.event_count)
                            .order_by(usage_rollups.c.hour_start_ms)).all()
    assert [(r[1], r[2]) for r in rows] == [(3_000_000, 2), (4_000_000, 1)]


BAD_BODIES: list[tuple[Any, int, int, str | None]] = [
    ([], 400, 1001, "/"),
    ({"events": "x"}, 400, 1001, "/events"),
    ({}, 400, 1002, "/events"),
    ({"events": []}, 400, 1001, "/events"),
    ({"events": [{"id": "ok", "cost": 1}], "extra": 1}, 400, 1003, "/extra"),
    ({"events": [{"cost": 1}]}, 400, 1002, "/events/0/id"),
    ({"events": [{"id": "x" * 129, "cost": 1}]}, 400, 1001, "/events/0/id"),
    ({"events": [{"id": 5, "cost": 1}]}, 400, 1001, "/events/0/id"),
    ({"events": [{"id": "ok", "cost": 1}, {"id": "n", "cost": -1}]}, 400, 1001, "/events/1/cost"),
    ({"events": [{"id": "s", "cost": "1"}]}, 400, 1001, "/events/0/cost"),
    ({"events": [{"id": "h", "cost": 1e30}]}, 400, 1001, "/events/0/cost"),
    ({"events": [{"id": "b", "cost": True}]}, 400, 1001, "/events/0/cost"),
    ({"events": [{"id": "u", "model": "no-such-model-xyz"}]}, 400, 1005, "/events/0/model"),
    ({"events": [{"id": "u", "input_tokens": 5}]}, 400, 1005, "/events/0/model"),
    ({"events": [{"id": "w", "cost": 1, "input_tokens": "5"}]}, 400, 1001,
     "/events/0/input_tokens"),
    ({"events": [{"id": "w", "cost": 1, "input_tokens": -5}]}, 400, 1001,
     "/events/0/input_tokens"),
    ({"events": [{"id": "f", "cost": 1, "colour": "red"}]}, 400, 1003, "/events/0/colour"),
    ({"events": [{"id": "m", "cost": 1, "metadata": [1]}]}, 400, 1001, "/events/0/metadata"),
    ({"events": [1]}, 400, 1001, "/events/0"),
]


@pytest.mark.parametrize(("body", "status", "code", "pointer"), BAD_BODIES)
def test_bad_batches_are_refused_whole(client: Any, account: Account, runtime: Runtime,
                                       body: Any, status: int, code: int,
                                       pointer: str | None) -> None:
    response = post(client, account, body)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["code"] == code
    assert error.get("source", {}).get("pointer") == pointer
    assert response.headers["x-should-retry"] == "false"
    assert event_count(runtime) == 0
    assert balance_microcents(runtime, account.id) == 0


def test_timestamps_outside_the_window_are_refused(client: Any, account: Account,
                                                   clock: Any, runtime: Runtime) -> None:
    now = clock.now_ms()
    for ts in (now - 35 * DAY_MS - 1, now + 5 * MINUTE_MS + 1, 1.5):
        response = post(client, account, {"events": [{"id": "t", "cost": 1, "timestamp": ts}]})
        assert response.status_code == 400
        assert error_of(response)["source"]["pointer"] == "/events/0/timestamp"
    for ts in (now - 35 * DAY_MS, now + 5 * MINUTE_MS):
        response = post(client, account, {"events": [{"id": f"t{ts}", "cost": 1,
                                                      "timestamp": ts}]})
        assert response.status_code == 200
    assert event_count(runtime) == 2


def test_malformed_json_nan_and_oversized_bodies(client: Any, account: Account,
                                                 runtime: Runtime) -> None:
    headers = {**account.headers, "content-type": "application/json"}
    bad = client.post(account.url(URL), content=b"{not json", headers=headers)
    assert bad.status_code == 400 and error_of(bad)["code"] == 6007
    nan = client.post(account.url(URL), content=b'{"events":[{"id":"n","cost":NaN}]}',
                      headers=headers)
    assert nan.status_code == 400
    huge = client.post(account.url(URL), content=b"{" + b" " * (9 * 1024 * 1024) + b"}",
                       headers=headers)
    assert huge.status_code == 413 and error_of(huge)["code"] == 1008
    too_many = {"events": [{"id": str(i), "cost": 1} for i in range(10_001)]}
    response = post(client, account, too_many)
    assert response.status_code == 400 and error_of(response)["code"] == 1004
    assert event_count(runtime) == 0


def test_ten_thousand_events_in_one_batch(client: Any, account: Account,
                                          runtime: Runtime) -> None:
    body = {"events": [{"id": f"e{i}", "cost": 0.01} for i in range(10_000)]}
    response = post(client, account, body)
    assert response.json()["result"] == {"accepted": 10_000, "duplicates": 0}
    assert balance_microcents(runtime, account.id) == -100 * 1_000_000


@pytest.mark.parametrize(("text", "microcents"), [
    (b"0", 0), (b"12", 12_000_000), (b"0.0125", 12_500), (b"1.000001", 1_000_001),
    (b"0.0000005", 0), (b"0.0000015", 2), (b"1e2", 100_000_000), (b"2.5E-3", 2_500),
    (b"100000000", 100_000_000_000_000),
])
def test_costs_are_read_exactly_from_the_json_text(text: bytes, microcents: int) -> None:
    from creditgate.usage.events import read_cost_text

    assert read_cost_text(text, "/cost") == microcents


@pytest.mark.parametrize("text", [b"100000000.000001", b"1e9", b"-1", b'"1"', b"true", b"null"])
def test_costs_out_of_range_or_not_numbers(text: bytes) -> None:
    from creditgate.kernel.errors import ApiError
    from creditgate.usage.events import read_cost_text

    with pytest.raises(ApiError):
        read_cost_text(text, "/cost")

from __future__ import annotations

from typing import Any

import pytest

from creditgate.kernel.clock import DAY_MS, HOUR_MS, ManualClock
from tests.conftest import START, Account, error_of

URL = "ai-gateway/billing/usage-history"


def history(client: Any, account: Account, **params: Any) -> Any:
    return client.get(account.url(URL), params=params, headers=account.headers)


def post_costs(client: Any, account: Account, events: list[tuple[int, float]]) -> None:
    body = {"events": [{"id": f"e{i}", "timestamp": ts, "cost": cost}
                       for i, (ts, cost) in enumerate(events)]}
    response = client.post(account.url("ai-gateway/billing/usage-events"), json=body,
                           headers=account.headers)
    assert response.status_code == 200, response.text


def test_hourly_windows_include_zeros(client: Any, account: Account) -> None:
    # START is 12:00 UTC; spend at 09:10, 09:50 and 11:59.
    post_costs(client, account, [(START - 3 * HOUR_MS + 600_000, 1.5),
                                 (START - 3 * HOUR_MS + 3_000_000, 2),
                                 (START - 60_000, 0.25)])
    body = history(client, account, value_grouping_window="hour",
                   start_time=START - 4 * HOUR_MS, end_time=START).json()
    values = [(e["start_time"], e["end_time"], e["aggregated_value"])
              for e in body["result"]["history"]]
    assert values == [
        (START - 4 * HOUR_MS, START - 3 * HOUR_MS, 0),
        (START - 3 * HOUR_MS, START - 2 * HOUR_MS, 3.5),
        (START - 2 * HOUR_MS, START - HOUR_MS, 0),
        (START - HOUR_MS, START, 0.25),
    ]


def test_daily_windows_and_defaults(client: Any, account: Account, clock: ManualClock) -> None:
    post_costs(client, account, [(START - 2 * DAY_MS, 7), (START, 3)])
    body = history(client, account, value_grouping_window="day").json()
    entries = body["result"]["history"]
    assert len(entries) == 30
    day_start = START - START % DAY_MS
    assert entries[-1]["start_time"] == day_start
    assert entries[-1]["aggregated_value"] == 3
    assert entries[-3]["aggregated_value"] == 7
    assert sum(e["aggregated_value"] for e in entries) == 10
    hourly = history(client, account, value_grouping_window="hour").json()["result"]["history"]
    assert len(hourly) == 24 and hourly[-1]["start_time"] == START
    assert hourly[-1]["aggregated_value"] == 3


def test_history_is_per_account(client: Any, account: Account, make_account: Any) -> None:
    other = make_account()
    post_costs(client, other, [(START, 9)])
    entries = history(client, account, value_grouping_window="hour").json()["result"]["history"]
    assert all(e["aggregated_value"] == 0 for e in entries)


@pytest.mark.parametrize(("params", "code", "pointer"), [
    ({}, 1002, "/value_grouping_window"),
    ({"value_grouping_window": "week"}, 1001, "/value_grouping_window"),
    ({"value_grouping_window": "hour", "start_time": "abc"}, 1001, "/start_time"),
    ({"value_grouping_window": "hour", "start_time": START, "end_time": START - 1}, 1007,
     "/start_time"),
    ({"value_grouping_window": "hour", "start_time": START - 1001 * HOUR_MS,
      "end_time": START}, 1004, "/start_time"),
])
def test_bad_queries(client: Any, account: Account, params: dict[str, Any], code: int,
                     pointer: str) -> None:
    response = history(client, account, **params)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["source"]["pointer"]) == (code, pointer)

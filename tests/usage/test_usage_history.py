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
    ({"value_grouping_window": "hour", "start_time": "1e400"}, 1001, "/start_time"),
    ({"value_grouping_window": "hour", "start_time": "-0.5"}, 1001, "/start_time"),
    ({"value_grouping_window": "hour", "end_time": "NaN"}, 1001, "/end_time"),
    ({"value_grouping_window": "hour", "end_time": "1" * 65}, 1001, "/end_time"),
    ({"value_grouping_window": "hour", "page": "0"}, 1001, "/page"),
    ({"value_grouping_window": "hour", "page": "²"}, 1001, "/page"),
])
def test_bad_queries(client: Any, account: Account, params: dict[str, Any], code: int,
                     pointer: str) -> None:
    response = history(client, account, **params)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["source"]["pointer"]) == (code, pointer)


def test_fractional_milliseconds_round_outwards(client: Any, account: Account) -> None:
    """The spec types the times as numbers and the Python SDK sends floats: a fractional start
    rounds down and a fractional end up, to the millisecond, before windows are aligned."""
    post_costs(client, account, [(START - HOUR_MS, 2), (START, 5)])
    body = history(client, account, value_grouping_window="hour",
                   start_time=f"{START - HOUR_MS}.75", end_time=f"{START}.25").json()
    assert [(e["start_time"], e["aggregated_value"]) for e in body["result"]["history"]] == [
        (START - HOUR_MS, 2), (START, 5)]  # the end rounded up to START + 1: its window counts
    exact = history(client, account, value_grouping_window="hour",
                    start_time=f"{START - HOUR_MS}.0", end_time=f"{START}.0").json()
    assert [e["start_time"] for e in exact["result"]["history"]] == [START - HOUR_MS]
    exponent = history(client, account, value_grouping_window="hour",
                       start_time=f"{(START - HOUR_MS) / 1e13}e13", end_time=START).json()
    assert [e["start_time"] for e in exponent["result"]["history"]] == [START - HOUR_MS]


def test_a_range_above_1000_windows_is_answered_a_page_at_a_time(
        client: Any, account: Account) -> None:
    """The spec's own example, a start years back and no end, used to be a 400: now page 1
    holds the newest 1,000 windows, page 2 the ones before, the last page the rest."""
    post_costs(client, account, [(START, 4), (START - 800 * HOUR_MS, 6)])
    years_back = START - 3 * 365 * DAY_MS
    body = history(client, account, value_grouping_window="hour", start_time=years_back).json()
    windows = body["result"]["history"]
    total = (START + HOUR_MS - years_back) // HOUR_MS
    assert body["result_info"] == {"page": 1, "per_page": 1000, "total_count": total,
                                   "has_more": True}
    assert len(windows) == 1000
    assert (windows[0]["start_time"], windows[-1]["start_time"]) == (
        START - 999 * HOUR_MS, START)
    assert sum(e["aggregated_value"] for e in windows) == 10
    assert windows[199] == {"id": f"hour-{START - 800 * HOUR_MS}",
                            "start_time": START - 800 * HOUR_MS,
                            "end_time": START - 799 * HOUR_MS, "aggregated_value": 6}
    second = history(client, account, value_grouping_window="hour", start_time=years_back,
                     page=2).json()
    assert [e["start_time"] for e in second["result"]["history"][::999]] == [
        START - 1999 * HOUR_MS, START - 1000 * HOUR_MS]
    last_page = -(-total // 1000)
    last = history(client, account, value_grouping_window="hour", start_time=years_back,
                   page=last_page).json()
    assert len(last["result"]["history"]) == total - (last_page - 1) * 1000
    assert last["result"]["history"][0]["start_time"] == years_back
    assert last["result_info"]["has_more"] is False
    beyond = history(client, account, value_grouping_window="hour", start_time=years_back,
                     page=last_page + 1).json()
    assert beyond["result"]["history"] == [] and beyond["result_info"]["has_more"] is False
    short = history(client, account, value_grouping_window="hour").json()
    assert short["result_info"] == {"page": 1, "per_page": 1000, "total_count": 24,
                                    "has_more": False}

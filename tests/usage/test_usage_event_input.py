"""Hostile input to usage ingest: nesting, metadata size, control characters (issue 19)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from creditgate.kernel.runtime import Runtime
from creditgate.ledger.tables import ledger_entries
from creditgate.usage.tables import usage_events, usage_rollups
from tests.conftest import Account, error_of
from tests.helpers import balance_microcents, grant_cents

URL = "ai-gateway/billing/usage-events"
GOOD = b'{"id":"fine","cost":1}'


def post_raw(client: Any, account: Account, body: bytes) -> Any:
    headers = {**account.headers, "content-type": "application/json"}
    return client.post(account.url(URL), content=body, headers=headers)


def objects(depth: int) -> bytes:
    """`{"a":{"a":…1…}}`: `depth` levels of objects."""
    return b'{"a":' * depth + b"1" + b"}" * depth


def arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def batch(*events: bytes) -> bytes:
    return b'{"events":[' + b",".join(events) + b"]}"


def with_metadata(metadata: bytes, event_id: bytes = b"m") -> bytes:
    return b'{"id":"' + event_id + b'","cost":1,"metadata":' + metadata + b"}"


def snapshot(runtime: Runtime, account_id: str) -> tuple[Any, ...]:
    """Everything an accepted batch changes: events, rollups, ledger, balance."""
    with runtime.db.read() as conn:
        counts = tuple(int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                       for table in (usage_events, usage_rollups, ledger_entries))
    return counts, balance_microcents(runtime, account_id)


TOO_DEEP = "must nest at most 8 levels of objects and arrays"

DEEP_BODIES: list[tuple[bytes, int, str, str]] = [
    # The adversarial run's body: 1,000 levels in 6 KB answered 500 (RecursionError).
    (batch(GOOD, with_metadata(objects(1000))), 1009, "/events/1/metadata", TOO_DEEP),
    (batch(with_metadata(b'{"a":' + arrays(100_000) + b"}")), 1009, "/events/0/metadata",
     TOO_DEEP),
    (batch(with_metadata(arrays(50_000))), 1009, "/events/0/metadata", TOO_DEEP),
    (batch(with_metadata(objects(9))), 1009, "/events/0/metadata", TOO_DEEP),
    (batch(with_metadata(b'{"a":' + arrays(8) + b"}")), 1009, "/events/0/metadata", TOO_DEEP),
    (batch(GOOD, GOOD, b'{"id":"c","cost":' + arrays(20_000) + b"}"), 1001, "/events/2/cost",
     "must be a number of cents"),
    (batch(b'{"id":"c","cost":' + objects(5000) + b"}"), 1001, "/events/0/cost",
     "must be a number of cents"),
    (batch(with_metadata(b'{"k":"' + b"x" * 4090 + b'"}')), 1009, "/events/0/metadata",
     "must serialize to at most 4096 bytes"),
]


@pytest.mark.parametrize(("body", "code", "pointer", "message"), DEEP_BODIES)
def test_deep_or_large_metadata_and_costs_are_refused_and_change_nothing(
        client: Any, account: Account, runtime: Runtime, body: bytes, code: int, pointer: str,
        message: str) -> None:
    grant_cents(runtime, account.id, 1000)
    assert post_raw(client, account, batch(b'{"id":"before","cost":2.5}')).status_code == 200
    before = snapshot(runtime, account.id)
    assert before == ((1, 1, 2), 997_500_000)
    response = post_raw(client, account, body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert (error["code"], error["source"]["pointer"]) == (code, pointer)
    assert error["message"] == f"{pointer}: {message}"
    assert response.headers["x-should-retry"] == "false"
    assert snapshot(runtime, account.id) == before


def test_metadata_up_to_the_limits_is_kept_exactly_as_given(client: Any, account: Account,
                                                             runtime: Runtime) -> None:
    deepest = objects(8)
    mixed = b'{"a":' + arrays(7) + b"}"
    # Brackets inside strings (escaped quotes too) are text, not nesting.
    brackets = b'{"s":"[[[[[[[[[[{{{{{{{{{\\"[[[[","t":{"u":"\\\\"}}'
    largest = b'{"k":"' + b"x" * 4088 + b'"}'
    assert len(largest) == 4096
    events = [with_metadata(m, str(i).encode())
              for i, m in enumerate((deepest, mixed, brackets, largest))]
    response = post_raw(client, account, batch(*events))
    assert response.json()["result"] == {"accepted": 4, "duplicates": 0}, response.text
    with runtime.db.read() as conn:
        stored = dict(conn.execute(select(usage_events.c.event_id, usage_events.c.metadata)).all())
    assert stored == {"0": deepest.decode(), "1": mixed.decode(), "2": brackets.decode(),
                      "3": largest.decode()}


# C0 (NUL, BEL, US, LF, TAB), DEL and C1 (NEL, APC), each field twice.
CONTROLS = [("id", "\x00"), ("gateway_id", "\x07"), ("provider", "\x1f"), ("model", "\x7f"),
            ("id", "\x85"), ("gateway_id", "\x9f"), ("provider", "\n"), ("model", "\t")]


@pytest.mark.parametrize(("field", "char"), CONTROLS)
def test_control_characters_in_ids_and_names_are_refused(
        client: Any, account: Account, runtime: Runtime, field: str, char: str) -> None:
    grant_cents(runtime, account.id, 100)
    before = snapshot(runtime, account.id)
    event = {"id": "e2", "cost": 1, "provider": "openai", "model": "gpt-4o", "gateway_id": "gw",
             field: f"ab{char}c"}
    response = post_raw(client, account, orjson.dumps(
        {"events": [{"id": "e0", "cost": 1}, {"id": "e1", "cost": 1}, event]}))
    assert response.status_code == 400, response.text
    error = error_of(response)
    pointer = f"/events/2/{field}"
    assert (error["code"], error["source"]["pointer"]) == (1001, pointer)
    assert error["message"] == (f"{pointer}: must not contain control characters "
                                f"(U+{ord(char):04X} at position 2)")
    assert snapshot(runtime, account.id) == before


def test_printable_unicode_names_are_accepted(client: Any, account: Account,
                                              runtime: Runtime) -> None:
    # Not control characters: a no-break space, a zero-width joiner, CJK, an emoji.
    names = ["provider\u00a0x", "mo\u200ddel", "模型", "🤖", "=cmd|' /C calc'!A0"]
    body = {"events": [{"id": f"ü{i}\u00a0", "cost": 1, "provider": n, "model": n}
                       for i, n in enumerate(names)]}
    response = post_raw(client, account, orjson.dumps(body))
    assert response.json()["result"] == {"accepted": 5, "duplicates": 0}, response.text
    with runtime.db.read() as conn:
        stored = sorted(conn.execute(select(usage_events.c.provider)).scalars())
    assert stored == sorted(names)

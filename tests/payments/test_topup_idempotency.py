"""A repeated top-up request charges the card once: idempotency keys and the double-click guard."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from creditgate.kernel.runtime import Runtime
from creditgate.payments.sandbox import SandboxProcessor
from creditgate.payments.tables import sandbox_intents, topup_keys, topups
from tests.conftest import Account, error_of
from tests.helpers import balance_microcents
from tests.payments.conftest import attach, run_worker, status, topup
from tests.payments.test_topups import count


def keyed(client: Any, account: Account, body: dict[str, Any], key: str) -> Any:
    return client.post(account.url("ai-gateway/billing/topup"), json=body,
                       headers={**account.headers, "Idempotency-Key": key})


def charges(runtime: Runtime) -> dict[str, int]:
    """What the sandbox charged, per processor idempotency key (cents)."""
    with runtime.db.read() as conn:
        rows = conn.execute(select(sandbox_intents.c.idempotency_key,
                                   sandbox_intents.c.amount_cents)).all()
    return {key: int(amount) for key, amount in rows}


def test_a_retry_with_the_same_key_answers_the_first_top_up(
        client: Any, account: Account, runtime: Runtime) -> None:
    attach(client, account, "pm_card_visa")
    first = keyed(client, account, {"amount": 5000}, "order-17")
    assert first.status_code == 200, first.text
    again = keyed(client, account, {"amount": 5000}, "order-17")
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    topup_id = first.json()["result"]["payment_intent_id"]
    assert charges(runtime) == {f"topup:{topup_id}": 5000}
    assert balance_microcents(runtime, account.id) == 5000 * 1_000_000
    assert count(runtime, topups) == 1


def test_the_key_may_come_in_the_body(client: Any, account: Account, runtime: Runtime) -> None:
    attach(client, account, "pm_card_visa")
    body = {"amount": 2000, "idempotency_key": "k-body"}
    first = topup(client, account, body)
    assert topup(client, account, body).json() == first.json()
    # The header and the body field name the same key.
    assert keyed(client, account, {"amount": 2000}, "k-body").json() == first.json()
    assert balance_microcents(runtime, account.id) == 2000 * 1_000_000
    assert len(charges(runtime)) == 1


@pytest.mark.parametrize("body", [{"amount": 6000}, {"amount": 5000,
                                                      "payment_method_id": "pm_card_visa"}])
def test_the_same_key_with_another_request_is_a_409(
        client: Any, account: Account, runtime: Runtime, body: dict[str, Any]) -> None:
    attach(client, account, "pm_card_visa")
    assert keyed(client, account, {"amount": 5000}, "k1").status_code == 200
    response = keyed(client, account, body, "k1")
    assert response.status_code == 409, response.text
    assert response.headers["x-should-retry"] == "false"
    assert error_of(response)["code"] == 3008
    assert balance_microcents(runtime, account.id) == 5000 * 1_000_000
    assert count(runtime, topups) == 1


def test_a_lost_answer_after_the_charge_is_settled_once_by_the_retry(
        client: Any, account: Account, runtime: Runtime, sandbox: SandboxProcessor,
        clock: Any) -> None:
    attach(client, account, "pm_card_visa")
    sandbox.fail_next(when="after")  # charged, but the request never learns it
    first = keyed(client, account, {"amount": 3000}, "k-lost")
    assert first.json()["result"]["client_secret"] is None
    topup_id = first.json()["result"]["payment_intent_id"]
    assert balance_microcents(runtime, account.id) == 0
    again = keyed(client, account, {"amount": 3000}, "k-lost")
    assert again.status_code == 200, again.text
    assert again.json()["result"]["payment_intent_id"] == topup_id
    assert status(client, account, topup_id).json()["result"]["status"] == "completed"
    clock.advance(minutes=5)
    run_worker(runtime)  # the reconcile job finds it settled
    assert charges(runtime) == {f"topup:{topup_id}": 3000}
    assert balance_microcents(runtime, account.id) == 3000 * 1_000_000


def test_a_declined_top_up_is_declined_again_without_a_second_attempt(
        client: Any, account: Account, runtime: Runtime) -> None:
    attach(client, account, "pm_card_chargeDeclined")
    first = keyed(client, account, {"amount": 1000}, "k-declined")
    again = keyed(client, account, {"amount": 1000}, "k-declined")
    assert (first.status_code, again.status_code) == (402, 402)
    assert error_of(again) == error_of(first)
    assert len(charges(runtime)) == 1


def test_a_key_older_than_a_day_starts_a_new_top_up(
        client: Any, account: Account, runtime: Runtime, clock: Any) -> None:
    attach(client, account, "pm_card_visa")
    first = keyed(client, account, {"amount": 1000}, "k-old")
    clock.advance(hours=23, minutes=59)
    assert keyed(client, account, {"amount": 9000}, "k-old").status_code == 409
    clock.advance(minutes=1)
    second = keyed(client, account, {"amount": 9000}, "k-old")
    assert second.status_code == 200, second.text
    assert second.json()["result"]["payment_intent_id"] != first.json()["result"][
        "payment_intent_id"]
    assert balance_microcents(runtime, account.id) == 10_000 * 1_000_000
    assert count(runtime, topup_keys) == 1


def test_different_keys_are_different_top_ups(client: Any, account: Account,
                                              runtime: Runtime) -> None:
    attach(client, account, "pm_card_visa")
    keyed(client, account, {"amount": 1000}, "a")
    keyed(client, account, {"amount": 1000}, "b")
    assert len(charges(runtime)) == 2
    assert balance_microcents(runtime, account.id) == 2000 * 1_000_000


@pytest.mark.parametrize(("headers", "body", "pointer"), [
    ({"Idempotency-Key": ""}, {"amount": 1000}, None),
    ({"Idempotency-Key": "x" * 256}, {"amount": 1000}, None),
    ({}, {"amount": 1000, "idempotency_key": 7}, "/idempotency_key"),
    ({}, {"amount": 1000, "idempotency_key": "tab\there"}, "/idempotency_key"),
    ({"Idempotency-Key": "a"}, {"amount": 1000, "idempotency_key": "b"}, "/idempotency_key"),
])
def test_bad_keys_are_refused_and_change_nothing(
        client: Any, account: Account, runtime: Runtime, headers: dict[str, str],
        body: dict[str, Any], pointer: str | None) -> None:
    attach(client, account, "pm_card_visa")
    response = client.post(account.url("ai-gateway/billing/topup"), json=body,
                           headers={**account.headers, **headers})
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == 1001
    assert error.get("source", {}).get("pointer") == pointer
    assert count(runtime, topups) == 0


def test_a_double_click_without_a_key_is_charged_once(
        client: Any, account: Account, runtime: Runtime, sandbox: SandboxProcessor,
        clock: Any) -> None:
    attach(client, account, "pm_card_visa")
    sandbox.fail_next(when="after")  # the first click's answer is still unsettled
    first = topup(client, account, {"amount": 4000})
    clock.advance(seconds=59)
    second = topup(client, account, {"amount": 4000})
    assert second.json()["result"]["payment_intent_id"] == first.json()["result"][
        "payment_intent_id"]
    assert len(charges(runtime)) == 1
    assert balance_microcents(runtime, account.id) == 4000 * 1_000_000


def test_the_double_click_guard_keeps_to_its_window_and_amount(
        client: Any, account: Account, runtime: Runtime, sandbox: SandboxProcessor,
        clock: Any) -> None:
    attach(client, account, "pm_card_visa")
    sandbox.fail_next(when="before")
    pending = topup(client, account, {"amount": 4000}).json()["result"]["payment_intent_id"]
    other_amount = topup(client, account, {"amount": 4100}).json()["result"]
    assert other_amount["payment_intent_id"] != pending
    clock.advance(seconds=61)
    later = topup(client, account, {"amount": 4000}).json()["result"]
    assert later["payment_intent_id"] != pending
    # A settled top-up is never answered again: the next click is a new top-up.
    again = topup(client, account, {"amount": 4100}).json()["result"]
    assert again["payment_intent_id"] != other_amount["payment_intent_id"]
    assert len(charges(runtime)) == 3
    assert balance_microcents(runtime, account.id) == (4100 + 4000 + 4100) * 1_000_000

"""Webhooks signed with Stripe's scheme (HMAC-SHA256 over "<t>.<payload>", header
`t=…,v1=…`), verified by the official library's WebhookSignature."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from creditgate.kernel.runtime import Runtime
from creditgate.payments.processor import PAYMENT_PROCESSOR
from creditgate.payments.sandbox import SandboxProcessor
from creditgate.payments.tables import topups, webhook_events
from creditgate.worker.tables import jobs
from tests.conftest import Account, error_of
from tests.helpers import balance_microcents
from tests.payments.conftest import WEBHOOK_SECRET, attach, run_worker, topup

URL = "/webhooks/stripe"


def signed(payload: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    stamp = int(time.time())
    digest = hmac.new(secret.encode(), b"%d.%s" % (stamp, payload), hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={stamp},v1={digest}", "Content-Type": "application/json"}


def event(event_id: str, kind: str, obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"id": event_id, "object": "event", "type": kind,
                         "data": {"object": obj}})


def pending_topup(client: Any, account: Account, runtime: Runtime) -> tuple[str, str]:
    attach(client, account, "pm_card_authenticationRequired")
    topup_id = topup(client, account, {"amount": 2000}).json()["result"]["payment_intent_id"]
    with runtime.db.read() as conn:
        intent_id = conn.execute(select(topups.c.intent_id)).scalar_one()
    return topup_id, intent_id


def inbox(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.db.read() as conn:
        return [dict(r) for r in conn.execute(select(webhook_events)).mappings().all()]


def test_bad_or_missing_signature_is_refused_and_changes_nothing(
        client: Any, account: Account, runtime: Runtime, sandbox: SandboxProcessor) -> None:
    topup_id, intent_id = pending_topup(client, account, runtime)
    sandbox.authenticate(intent_id)
    body = event("evt_1", "payment_intent.succeeded",
                 {"id": intent_id, "metadata": {"invoice_id": topup_id}})
    for headers in ({}, signed(body, "whsec_wrong"), {"Stripe-Signature": "garbage"},
                    signed(body + b" ")):
        response = client.post(URL, content=body, headers=headers)
        assert response.status_code == 400, response.text
        assert error_of(response)["code"] == 3006
    assert inbox(runtime) == []
    assert balance_microcents(runtime, account.id) == 0


@pytest.mark.parametrize(("event_id", "kind", "pointer"), [
    ("e" * 129, "payment_intent.succeeded", "/id"),
    ("evt_\x00", "payment_intent.succeeded", "/id"),
    ("", "payment_intent.succeeded", "/id"),
    ("evt_1", "t" * 129, "/type"),
    ("evt_1", "payment_intent.\x00", "/type"),
])
def test_signed_event_with_an_id_or_type_that_cannot_be_stored_is_a_400(
        client: Any, runtime: Runtime, event_id: str, kind: str, pointer: str) -> None:
    body = event(event_id, kind, {"id": "pi_1"})
    response = client.post(URL, content=body, headers=signed(body))
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert (error["code"], error["source"]["pointer"]) == (1001, pointer)
    assert inbox(runtime) == []
    with runtime.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(jobs)).scalar_one() == 0


def test_longest_event_id_is_stored(client: Any, runtime: Runtime) -> None:
    body = event("e" * 128, "t" * 128, {"id": "pi_1"})
    response = client.post(URL, content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    assert [(r["id"], r["type"]) for r in inbox(runtime)] == [("e" * 128, "t" * 128)]


def test_event_credits_once_however_often_it_arrives(
        client: Any, account: Account, runtime: Runtime, sandbox: SandboxProcessor) -> None:
    topup_id, intent_id = pending_topup(client, account, runtime)
    sandbox.authenticate(intent_id)
    obj = {"id": intent_id, "object": "payment_intent", "metadata": {"invoice_id": topup_id}}
    succeeded = event("evt_ok", "payment_intent.succeeded", obj)
    for _ in range(3):
        response = client.post(URL, content=succeeded, headers=signed(succeeded))
        assert response.status_code == 200, response.text
    # Out of order: a stale failure event after the success changes nothing.
    stale = event("evt_stale", "payment_intent.payment_failed", obj)
    assert client.post(URL, content=stale, headers=signed(stale)).status_code == 200
    run_worker(runtime)
    assert balance_microcents(runtime, account.id) == 2000 * 1_000_000
    rows = {r["id"]: r for r in inbox(runtime)}
    assert set(rows) == {"evt_ok", "evt_stale"}
    assert all(r["handled_ms"] is not None for r in rows.values())
    assert rows["evt_ok"]["attempts"] == 1


def test_failed_processing_is_retried_by_the_worker(
        client: Any, account: Account, runtime: Runtime, sandbox: SandboxProcessor,
        clock: Any) -> None:
    topup_id, intent_id = pending_topup(client, account, runtime)
    # The processor is out of reach while the event arrives: processing fails, is retried.
    body = event("evt_early", "payment_intent.succeeded",
                 {"id": intent_id, "metadata": {"invoice_id": topup_id}})
    sandbox.authenticate(intent_id)
    original = runtime.services[PAYMENT_PROCESSOR]
    runtime.services.provide(PAYMENT_PROCESSOR, _Unreachable())
    assert client.post(URL, content=body, headers=signed(body)).status_code == 200
    [row] = inbox(runtime)
    assert (row["handled_ms"], row["attempts"]) == (None, 1)
    assert "ProcessorUnavailable" in row["last_error"]
    run_worker(runtime)
    runtime.services.provide(PAYMENT_PROCESSOR, original)
    clock.advance(minutes=1)
    run_worker(runtime)
    [row] = inbox(runtime)
    assert row["handled_ms"] is not None
    assert balance_microcents(runtime, account.id) == 2000 * 1_000_000


class _Unreachable:
    """A processor endpoint that times out: the network, not our code, is what fails."""

    name = "unreachable"

    def __getattr__(self, _: str) -> Any:
        from creditgate.payments.processor import ProcessorUnavailable

        def fail(*args: Any, **kwargs: Any) -> Any:
            raise ProcessorUnavailable("timed out")

        return fail

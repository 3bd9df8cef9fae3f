"""Retention of the webhook inbox: handled rows go after the age; an event the processor sends
again after that is handled again and credits nothing twice (`settle` is idempotent)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from creditgate.kernel.clock import ManualClock
from creditgate.kernel.retention import prune
from creditgate.kernel.runtime import Runtime
from creditgate.payments.jobs import HANDLED_WEBHOOKS
from creditgate.payments.sandbox import SandboxProcessor
from tests.conftest import Account
from tests.helpers import balance_microcents
from tests.payments.conftest import run_worker
from tests.payments.test_webhooks import URL, event, inbox, pending_topup, signed


def test_handled_events_go_after_the_age_and_a_resent_one_credits_once(
        client: Any, account: Account, runtime: Runtime, sandbox: SandboxProcessor,
        clock: ManualClock) -> None:
    runtime.settings = replace(runtime.settings, webhook_inbox_retention_days=7)
    topup_id, intent_id = pending_topup(client, account, runtime)
    sandbox.authenticate(intent_id)
    obj = {"id": intent_id, "object": "payment_intent", "metadata": {"invoice_id": topup_id}}
    succeeded = event("evt_ok", "payment_intent.succeeded", obj)
    assert client.post(URL, content=succeeded, headers=signed(succeeded)).status_code == 200
    run_worker(runtime)
    clock.advance(days=5)
    stale = event("evt_stale", "payment_intent.payment_failed", obj)
    assert client.post(URL, content=stale, headers=signed(stale)).status_code == 200
    run_worker(runtime)
    assert balance_microcents(runtime, account.id) == 2000 * 1_000_000

    clock.advance(days=2, seconds=1)  # evt_ok was handled 7 days and a second ago
    assert HANDLED_WEBHOOKS.due(runtime, clock.now_ms()) == 1
    assert prune(runtime, HANDLED_WEBHOOKS) == 1
    assert [r["id"] for r in inbox(runtime)] == ["evt_stale"]
    assert client.post(URL, content=succeeded, headers=signed(succeeded)).status_code == 200
    run_worker(runtime)
    assert sorted(r["id"] for r in inbox(runtime)) == ["evt_ok", "evt_stale"]
    assert balance_microcents(runtime, account.id) == 2000 * 1_000_000

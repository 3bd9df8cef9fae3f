"""The payments domain's worker jobs, and the retention of its webhook inbox."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import ColumnElement, func, select

from creditgate.invoices.statement_payments import COLLECT_JOB
from creditgate.kernel.retention import Pruner, cutoff_ms, delete_oldest, task
from creditgate.kernel.runtime import Runtime
from creditgate.payments import auto_topup, collection, topups, webhooks
from creditgate.payments.tables import HANDLED, webhook_events
from creditgate.worker.outbox import Job
from creditgate.worker.runner import JobHandler, Periodic


def reconcile_topup(runtime: Runtime, job: Job) -> None:
    topups.reconcile(runtime, str(job.payload["topup_id"]))


def handle_stripe_event(runtime: Runtime, job: Job) -> None:
    webhooks.process(runtime, str(job.payload["event_id"]))


def collect_statement(runtime: Runtime, job: Job) -> None:
    collection.run_step(runtime, str(job.payload["statement_id"]), int(job.payload["step"]))


def reconcile_collection(runtime: Runtime, job: Job) -> None:
    collection.reconcile(runtime, str(job.payload["statement_id"]), int(job.payload["attempt"]))


HANDLERS: dict[str, JobHandler] = {
    auto_topup.JOB_KIND: auto_topup.run_job,
    "topup_reconcile": reconcile_topup,
    webhooks.JOB_KIND: handle_stripe_event,
    COLLECT_JOB: collect_statement,
    collection.RECONCILE_JOB: reconcile_collection,
}


# Handled inbox rows past `webhook_inbox_retention_days`, oldest first through
# ix_webhook_events_handled. Rows not yet handled are kept whatever their age (their job
# retries them). An event the processor sends again after its row is gone is handled again:
# every outcome lands in the idempotent `settle`, and the age is at least 7 days, longer than
# Stripe retries.
def _handled_before(cutoff: int) -> ColumnElement[bool]:
    return HANDLED & (webhook_events.c.handled_ms < cutoff)


def handled_webhooks_due(runtime: Runtime, now_ms: int) -> int:
    cutoff = cutoff_ms(now_ms, runtime.settings.webhook_inbox_retention_days)
    if cutoff is None:
        return 0
    with runtime.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(webhook_events)
                                .where(_handled_before(cutoff))).scalar_one())


def prune_handled_webhooks(runtime: Runtime, now_ms: int, rows: int) -> Iterator[int]:
    cutoff = cutoff_ms(now_ms, runtime.settings.webhook_inbox_retention_days)
    if cutoff is None:
        return
    yield from delete_oldest(runtime.db, webhook_events, _handled_before(cutoff),
                             webhook_events.c.handled_ms, rows)


HANDLED_WEBHOOKS = Pruner("payments.webhook_events", handled_webhooks_due,
                          prune_handled_webhooks)


def periodic_tasks(runtime: Runtime) -> list[Periodic]:
    every_ms = runtime.settings.retention_every_seconds * 1000
    return [Periodic(f"retention.{HANDLED_WEBHOOKS.name}", every_ms, task(HANDLED_WEBHOOKS))]

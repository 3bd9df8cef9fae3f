"""The payments domain's worker jobs."""

from __future__ import annotations

from creditgate.invoices.statement_payments import COLLECT_JOB
from creditgate.kernel.runtime import Runtime
from creditgate.payments import auto_topup, collection, topups, webhooks
from creditgate.worker.outbox import Job
from creditgate.worker.runner import JobHandler


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

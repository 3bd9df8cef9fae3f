"""Auto top-up: configuration, the usage listener that triggers it and the worker job.

The listener runs inside the usage transaction with the account row locked, so deciding and
marking "in flight" is one atomic step: concurrent usage posts trigger at most one top-up.
The job charges outside any transaction with the same key on every retry, so a worker killed
between the usage and the charge, or between the charge and the credit, neither loses nor
repeats the top-up.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from creditgate.invoices import topup_invoices
from creditgate.kernel.clock import utc_from_ms
from creditgate.kernel.db import after_commit
from creditgate.kernel.errors import ApiError
from creditgate.kernel.metrics import metrics
from creditgate.kernel.money import MICROCENTS_PER_CENT
from creditgate.kernel.runtime import Runtime
from creditgate.payments import errors
from creditgate.payments.processor import ProcessorUnavailable
from creditgate.payments.store import ensure_payment_account, payment_account
from creditgate.payments.tables import payment_accounts, topups
from creditgate.payments.topups import (
    StillPending,
    ask_processor,
    credit_terms,
    open_topup,
    record_auto_failure,
    settle,
)
from creditgate.usage.service import Recorded, UsageListener
from creditgate.worker.outbox import MAX_ATTEMPTS, Job, enqueue

MIN_AMOUNT_CENTS = 1000
MIN_THRESHOLD_CENTS = 500
JOB_KIND = "auto_topup"
RECONCILE_LATE_MS = 30 * 60_000


def daily_max(runtime: Runtime) -> int:
    return runtime.settings.auto_topup_daily_max


def config_view(pa: dict[str, Any] | None) -> dict[str, Any]:
    if pa is None:
        return {"amount": None, "disabledReason": None, "error": None, "lastFailedAt": None,
                "threshold": None}
    return {"amount": pa["auto_amount_cents"], "disabledReason": pa["auto_disabled_reason"],
            "error": pa["auto_error"], "lastFailedAt": pa["auto_last_failed_ms"],
            "threshold": pa["auto_threshold_cents"]}


def get_config(runtime: Runtime, account_id: str) -> dict[str, Any]:
    with runtime.db.read() as conn:
        return config_view(payment_account(conn, account_id))


def set_config(runtime: Runtime, account_id: str, amount: int, threshold: int) -> dict[str, Any]:
    now = runtime.clock.now_ms()
    with runtime.db.write_for(account_id) as (conn, _):
        pa = ensure_payment_account(conn, account_id, now)
        if pa["default_method_id"] is None:
            raise ApiError(errors.NO_DEFAULT_PAYMENT_METHOD,
                           "Auto top-up needs a default payment method: attach one with "
                           "POST /accounts/{account_id}/billing/profile/payment-method first")
        conn.execute(update(payment_accounts).where(
            payment_accounts.c.account_id == account_id).values(
            auto_amount_cents=amount, auto_threshold_cents=threshold, auto_error=None,
            auto_disabled_reason=None, auto_failures=0, updated_ms=now))
    return {"amount": amount, "threshold": threshold}


def delete_config(runtime: Runtime, account_id: str) -> None:
    now = runtime.clock.now_ms()
    with runtime.db.write_for(account_id) as (conn, _):
        conn.execute(update(payment_accounts).where(
            payment_accounts.c.account_id == account_id).values(
            auto_amount_cents=None, auto_threshold_cents=None, auto_error=None,
            auto_disabled_reason=None, auto_failures=0, auto_last_failed_ms=None,
            updated_ms=now))


def usage_listener(runtime: Runtime) -> UsageListener:
    def on_usage(conn: Connection, account_id: str, recorded: Recorded, now_ms: int) -> None:
        maybe_trigger(conn, account_id, recorded.balance_after_microcents, now_ms,
                      daily_max(runtime))

    return on_usage


def maybe_trigger(conn: Connection, account_id: str, balance_microcents: int, now_ms: int,
                  cap: int) -> bool:
    """Enqueue one auto top-up if the balance fell below the threshold (account locked)."""
    pa = payment_account(conn, account_id)
    if (pa is None or pa["auto_amount_cents"] is None or pa["auto_disabled_reason"]
            or pa["auto_in_flight"] or pa["default_method_id"] is None):
        return False
    if balance_microcents >= int(pa["auto_threshold_cents"]) * MICROCENTS_PER_CENT:
        return False
    day = utc_from_ms(now_ms).strftime("%Y-%m-%d")
    count = int(pa["auto_day_count"]) if pa["auto_day"] == day else 0
    if count >= cap:
        message = (f"Daily auto top-up limit reached ({cap} per UTC day); "
                   "auto top-up resumes tomorrow")
        if pa["auto_error"] != message:
            conn.execute(update(payment_accounts).where(
                payment_accounts.c.account_id == account_id).values(
                auto_error=message, updated_ms=now_ms))
        return False
    seq = int(pa["auto_seq"]) + 1
    conn.execute(update(payment_accounts).where(
        payment_accounts.c.account_id == account_id).values(
        auto_in_flight=True, auto_seq=seq, auto_day=day, auto_day_count=count + 1,
        updated_ms=now_ms))
    enqueue(conn, kind=JOB_KIND, now_ms=now_ms, account_id=account_id, payload={"seq": seq},
            dedupe_key=f"auto_topup:{account_id}:{seq}")
    after_commit(conn, lambda: _count("triggered"))
    return True


def _count(outcome: str) -> None:
    metrics().auto_topups.labels(outcome).inc()


def run_job(runtime: Runtime, job: Job) -> None:
    """The worker's handler for one triggered auto top-up."""
    account_id = str(job.account_id)
    seq = int(job.payload["seq"])
    trigger = f"auto_topup:{account_id}:{seq}"
    now = runtime.clock.now_ms()
    with runtime.db.write_for(account_id) as (conn, _):
        pa = payment_account(conn, account_id)
        if pa is None or not pa["auto_in_flight"] or int(pa["auto_seq"]) != seq:
            return
        topup = _topup_for(conn, trigger)
        if topup is None:
            if (pa["auto_amount_cents"] is None or pa["auto_disabled_reason"]
                    or pa["default_method_id"] is None):
                # Configuration removed or disabled since the trigger: nothing to charge.
                _clear_in_flight(conn, account_id, now)
                after_commit(conn, lambda: _count("cancelled"))
                return
            topup = open_topup(conn, account_id=account_id, origin="auto_topup",
                               amount_cents=int(pa["auto_amount_cents"]),
                               payment_method_id=pa["default_method_id"], now_ms=now,
                               trigger_key=trigger,
                               tax_country=topup_invoices.tax_country_of(runtime, conn,
                                                                         account_id))
            # Should this job keep failing, the reconciler still settles the top-up later.
            enqueue(conn, kind="topup_reconcile", now_ms=now, account_id=account_id,
                    payload={"topup_id": topup["id"]}, run_after_ms=now + RECONCILE_LATE_MS,
                    dedupe_key=f"topup_reconcile:{topup['id']}")
        elif topup["status"] != "pending":
            _clear_in_flight(conn, account_id, now)
            return
    try:
        outcome = ask_processor(runtime, topup)
    except ProcessorUnavailable as exc:
        # The charge may or may not have happened: retry with the same key, and say so meanwhile.
        with runtime.db.write_for(account_id) as (conn, _):
            record_auto_failure(conn, account_id, f"payment processor unavailable ({exc}); "
                                f"retry {job.attempts} of {MAX_ATTEMPTS}",
                                runtime.clock.now_ms(), count=False)
        _count("processor_unavailable")
        raise
    with runtime.db.write_for(account_id) as (conn, _):
        now = runtime.clock.now_ms()
        settled = settle(conn, topup["id"], outcome, now, credit_terms(runtime, now))
    # completed, failed, or pending (asked again on the job's next attempt)
    _count(str(settled["status"]))
    if settled["status"] == "pending":
        raise StillPending(f"auto top-up {topup['id']} still pending at the processor")


def _topup_for(conn: Connection, trigger: str) -> dict[str, Any] | None:
    row = conn.execute(select(topups).where(topups.c.trigger_key == trigger)).mappings().first()
    return None if row is None else dict(row)


def _clear_in_flight(conn: Connection, account_id: str, now_ms: int) -> None:
    conn.execute(update(payment_accounts).where(
        payment_accounts.c.account_id == account_id).values(
        auto_in_flight=False, updated_ms=now_ms))

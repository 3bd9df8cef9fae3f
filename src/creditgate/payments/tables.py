"""Payments tables. Amounts are integer cents (USD), as the AI Gateway API shows them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from creditgate.kernel.db import metadata

# One row per account that has touched payments: processor customer, default card, auto top-up.
payment_accounts = Table(
    "payment_accounts", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    Column("customer_id", String(128), nullable=True),
    Column("default_method_id", String(128), nullable=True),
    Column("auto_amount_cents", BigInteger, nullable=True),
    Column("auto_threshold_cents", BigInteger, nullable=True),
    Column("auto_error", String(500), nullable=True),
    Column("auto_disabled_reason", String(500), nullable=True),
    Column("auto_last_failed_ms", BigInteger, nullable=True),
    Column("auto_failures", Integer, nullable=False, server_default="0"),
    # At most one auto top-up in flight: set with the job in the usage transaction, cleared
    # when its outcome is settled. auto_seq names the attempt (job dedupe key, trigger key).
    Column("auto_in_flight", Boolean, nullable=False, server_default="0"),
    Column("auto_seq", Integer, nullable=False, server_default="0"),
    # Daily cap: auto top-ups started on this UTC day ("YYYY-MM-DD").
    Column("auto_day", String(10), nullable=True),
    Column("auto_day_count", Integer, nullable=False, server_default="0"),
    Column("first_topup_success", Boolean, nullable=False, server_default="0"),
    Column("updated_ms", BigInteger, nullable=False),
)

payment_methods = Table(
    "payment_methods", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("id", String(128), nullable=False),  # the processor's pm_… id
    Column("brand", String(32), nullable=False),
    Column("last4", String(4), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("account_id", "id", name="pk_payment_methods"),
)

# One row per top-up; its id is its invoice's id (in_…).
topups = Table(
    "topups", metadata,
    Column("id", String(64), ForeignKey("invoices.id"), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("origin", String(32), nullable=False),  # manual_topup, auto_topup
    Column("amount_cents", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # pending, completed, failed
    Column("payment_method_id", String(128), nullable=True),
    Column("intent_id", String(128), nullable=True),
    Column("client_secret", String(255), nullable=True),
    Column("failure_reason", String(500), nullable=True),
    # Auto top-ups: "auto_topup:<account>:<seq>", so a retried job finds its own top-up.
    Column("trigger_key", String(200), nullable=True, unique=True),
    # Manual top-ups: the answer's `onboarding` (a default card was on file), kept so that a
    # replayed request answers exactly what the first one did.
    Column("onboarding", Boolean, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_topups_account", "account_id", "created_ms"),
    Index("ix_topups_intent", "intent_id"),
)

# The webhook inbox: one row per processor event id, handled at most once.
webhook_events = Table(
    "webhook_events", metadata,
    Column("id", String(255), primary_key=True),
    Column("type", String(128), nullable=False),
    Column("payload", Text, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("handled_ms", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
)
# Retention deletes handled rows, oldest first (payments/jobs.py, migration
# 0006_payments_retention).
HANDLED = webhook_events.c.handled_ms.is_not(None)
Index("ix_webhook_events_handled", webhook_events.c.handled_ms,
      postgresql_where=HANDLED, sqlite_where=HANDLED)

# The sandbox processor's own state (its "remote" side), written only in its own transactions.
sandbox_intents = Table(
    "sandbox_intents", metadata,
    Column("id", String(64), primary_key=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("customer_id", String(128), nullable=True),
    Column("amount_cents", BigInteger, nullable=False),
    Column("payment_method", String(128), nullable=True),
    Column("status", String(32), nullable=False),
    Column("client_secret", String(128), nullable=False),
    Column("failure", String(500), nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    # How many charge requests carried this idempotency key (the first created the intent,
    # the others were answered with it): tests assert a card was charged once however often
    # a crashed caller asked again (added by 0005_payments_collection).
    Column("requests", Integer, nullable=False, server_default="1"),
)

# Idempotency keys of manual top-ups (the `Idempotency-Key` header or body field): a retry with
# the same key within KEY_TTL_MS answers the first top-up instead of charging again.
topup_keys = Table(
    "topup_keys", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("topup_id", String(64), ForeignKey("topups.id"), nullable=False),
    # SHA-256 of the request's canonical body: the same key with another body is a 409.
    Column("fingerprint", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("account_id", "key", name="pk_topup_keys"),
)

# Collection of a closed usage statement's amount_due (payments/collection.py): one row per
# statement with something due, its dunning state and the charge attempt in flight. Amounts
# are integer cents; `ledger_microcents` is what the balance gets back when it is paid (the
# pre-tax part: the usage that took the balance below zero).
collections = Table(
    "collections", metadata,
    Column("statement_id", String(64), ForeignKey("invoices.id"), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("ledger_microcents", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # collecting, paid, uncollectible
    # Charges started; attempt n charges with idempotency key "collection:<statement>:<n>".
    Column("attempts", Integer, nullable=False, server_default="0"),
    # The latest attempt was started (committed) and its outcome is not settled yet.
    Column("attempt_open", Boolean, nullable=False, server_default="0"),
    # The dunning step the open attempt belongs to (0: at the close, k: the k-th retry);
    # NULL for a payment the customer asked for.
    Column("attempt_step", Integer, nullable=True),
    Column("dunning_step", Integer, nullable=False, server_default="-1"),  # last step done
    Column("next_attempt_ms", BigInteger, nullable=True),
    Column("payment_method_id", String(128), nullable=True),
    Column("intent_id", String(128), nullable=True),
    Column("failure_reason", String(500), nullable=True),
    Column("paid_by", String(80), nullable=True),  # "card" or "topup:<invoice id>"
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_collections_account_status", "account_id", "status"),
)

"""Notification tables: events, webhook endpoints, deliveries and their attempts, emails, and
the low-balance alert state. Money in `data` is in the API's units (cents)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from creditgate.kernel.db import metadata

# One row per event, written in the transaction of the change that caused it.
notification_events = Table(
    "notification_events", metadata,
    Column("id", String(40), primary_key=True),  # evt_<32 hex>
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("type", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("data", Text, nullable=False),  # JSON object
    # What makes a repeat of the same occurrence (a top-up id, a crossing): emitted once.
    Column("dedupe_key", String(200), nullable=False, unique=True),
)
Index("ix_notification_events_account", notification_events.c.account_id,
      notification_events.c.created_ms)

# account_id NULL: an operator's endpoint, which receives every account's events.
webhook_endpoints = Table(
    "webhook_endpoints", metadata,
    Column("id", String(40), primary_key=True),  # whe_<32 hex>
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=True),
    Column("url", String(2048), nullable=False),
    Column("events", Text, nullable=False),  # JSON list of types; [] means every type
    # The Standard Webhooks signing secret (whsec_…), kept to sign every delivery.
    Column("secret", String(100), nullable=False),
    Column("status", String(16), nullable=False),  # enabled | disabled | deleted
    Column("disabled_reason", String(500), nullable=True),
    Column("failing_since_ms", BigInteger, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
)
Index("ix_webhook_endpoints_account", webhook_endpoints.c.account_id)

webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("id", String(40), primary_key=True),  # whd_<32 hex>
    Column("event_id", String(40), ForeignKey("notification_events.id"), nullable=False),
    Column("endpoint_id", String(40), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    # Due time; while an attempt runs, the lease's end (a worker that died hands it back).
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("delivered_ms", BigInteger, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
)
Index("ix_webhook_deliveries_due", webhook_deliveries.c.status,
      webhook_deliveries.c.next_attempt_ms)

webhook_attempts = Table(
    "webhook_attempts", metadata,
    Column("delivery_id", String(40), ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("attempted_ms", BigInteger, nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    Column("status_code", Integer, nullable=True),  # None: no answer (refused, timed out)
    Column("error", String(500), nullable=True),
    UniqueConstraint("delivery_id", "attempt", name="uq_webhook_attempts"),
)

email_deliveries = Table(
    "email_deliveries", metadata,
    Column("event_id", String(40), ForeignKey("notification_events.id"), primary_key=True),
    Column("status", String(16), nullable=False),  # pending | sent | failed | skipped
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("recipient", String(320), nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("sent_ms", BigInteger, nullable=True),
)
Index("ix_email_deliveries_due", email_deliveries.c.status, email_deliveries.c.next_attempt_ms)

# The low-balance alert of an account: its threshold and which side of it the balance was
# last seen on, so that each crossing is told once.
balance_alerts = Table(
    "balance_alerts", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    Column("low_threshold_cents", BigInteger, nullable=True),  # None: the setting's default
    # Below the threshold / at or below zero when last seen, and how many times each crossing
    # was told (the crossing's number makes its event's dedupe key).
    Column("low_sent", Boolean, nullable=False),
    Column("depleted_sent", Boolean, nullable=False),
    Column("low_crossings", Integer, nullable=False),
    Column("depleted_crossings", Integer, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

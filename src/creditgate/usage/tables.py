"""Usage's tables: the events, their rollups and spend buckets, written in the usage
transaction (usage/service.py), and `usage_daily`, which database triggers keep.

`usage_daily` is `usage_rollups` summed by UTC day. Triggers on `usage_rollups` (created by
migration 0002_reporting; `USAGE_DAILY_TRIGGERS` names them) add every inserted rollup row
into its day, and take out the old figures of an updated or deleted one, in the statement's own
transaction: the day table is always the rollups' sum, whoever writes the rollups (ingest,
`usage import`, captures, an operator's correction). They are this package's triggers because
its rollups fire them; reporting only reads `usage_daily`. Triggers rather than an upsert in
`_roll_up`: they cost the ingest nothing per batch in Python, and they cover writes that do not
go through it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from creditgate.kernel.db import metadata

usage_events = Table(
    "usage_events", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    # The gateway's idempotency key, unique per account.
    Column("event_id", String(128), primary_key=True),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("gateway_id", String(256), nullable=False, server_default=""),
    Column("provider", String(128), nullable=False, server_default=""),
    Column("model", String(256), nullable=False, server_default=""),
    Column("input_tokens", BigInteger, nullable=False, server_default="0"),
    Column("output_tokens", BigInteger, nullable=False, server_default="0"),
    Column("cost_microcents", BigInteger, nullable=False),
    Column("metadata", Text, nullable=True),
    Column("received_ms", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
# Retention deletes an account's raw events of closed months, oldest first (usage/jobs.py,
# migration 0006_usage_retention). Partial on a term true of every row, so that only a query
# naming it (RETAINED_INDEX_TERM) can use the index and event-id lookups keep the primary key.
RETAINED_INDEX_TERM = usage_events.c.received_ms.is_not(None)
Index("ix_usage_events_account_received", usage_events.c.account_id, usage_events.c.received_ms,
      sqlite_where=RETAINED_INDEX_TERM, postgresql_where=RETAINED_INDEX_TERM)

# Usage per account, UTC hour, provider and model, kept at ingest so history, statements and
# reports read a number of rows that grows with windows, not with events. `billing_month` is the
# month the usage is billed in: the event's own month, or the first open month for late usage.
usage_rollups = Table(
    "usage_rollups", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    Column("hour_start_ms", BigInteger, primary_key=True),
    Column("provider", String(128), primary_key=True),
    Column("model", String(256), primary_key=True),
    Column("billing_month", String(7), primary_key=True),
    Column("cost_microcents", BigInteger, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("event_count", Integer, nullable=False),
    # Clustered on the key, so a range of hours is one contiguous read.
    sqlite_with_rowid=False,
)
# Statements (invoices) read one account's month of rollups (added by 0002_invoices).
Index("ix_usage_rollups_account_month", usage_rollups.c.account_id, usage_rollups.c.billing_month)

# Usage per account, UTC day, provider, model and billing month: `usage_rollups` summed by day,
# kept by the triggers below (see the module docstring); reports read days in key order instead
# of grouping hours.
usage_daily = Table(
    "usage_daily", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    Column("day_ms", BigInteger, primary_key=True),
    Column("provider", String(128), primary_key=True),
    Column("model", String(256), primary_key=True),
    Column("billing_month", String(7), primary_key=True),
    Column("cost_microcents", BigInteger, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("event_count", BigInteger, nullable=False),
)
# The triggers on `usage_rollups` that keep `usage_daily`, per database (migration
# 0002_reporting creates them; tests/usage/test_usage_daily.py checks they are there).
USAGE_DAILY_TRIGGERS = {
    "sqlite": ("usage_daily_delete", "usage_daily_insert", "usage_daily_update"),
    # One trigger for the three operations, running the function usage_daily_apply().
    "postgresql": ("usage_daily_sync",),
}

# Spend per account and UTC hour / day, kept in the usage transaction with the minutes, so a
# 30-day window or a month of hourly history reads at most a few hundred rows. (Spending
# limits read them; migration 0002_usage_spend_buckets gave them usage's names.)
spend_hours = Table(
    "usage_spend_hours", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    Column("start_ms", BigInteger, primary_key=True),
    Column("cost_microcents", BigInteger, nullable=False),
)

spend_days = Table(
    "usage_spend_days", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    Column("start_ms", BigInteger, primary_key=True),
    Column("cost_microcents", BigInteger, nullable=False),
)

# Spend per account and UTC minute: the granularity of sliding spending-limit windows.
usage_minutes = Table(
    "usage_minutes", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    Column("minute_start_ms", BigInteger, primary_key=True),
    Column("cost_microcents", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

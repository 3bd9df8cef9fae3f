from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text

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

# Spend per account and UTC hour / day, kept in the usage transaction with the minutes, so a
# 30-day window or a month of hourly history reads at most a few hundred rows.
# (The table names come from the limits migration that created them.)
spend_hours = Table(
    "limit_spend_hours", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    Column("start_ms", BigInteger, primary_key=True),
    Column("cost_microcents", BigInteger, nullable=False),
)

spend_days = Table(
    "limit_spend_days", metadata,
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

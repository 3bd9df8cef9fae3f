"""Spending limits and holds (the spend buckets that keep window sums cheap are usage's)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, literal_column

from creditgate.kernel.db import metadata

# One row per account that has a limit or has ever held funds: read once per decision.
account_limits = Table(
    "account_limits", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    # Running sum of active holds; changes only in the transaction that changes a hold.
    Column("held_microcents", BigInteger, nullable=False, server_default="0"),
    Column("active_holds", Integer, nullable=False, server_default="0"),
    # A lower bound on the earliest expiry among active holds (None: no active hold). When the
    # clock passes it, the deciding transaction releases expired holds first.
    Column("earliest_expiry_ms", BigInteger, nullable=True),
    # The spending limit: integer cents, or all three None when no limit is set.
    Column("limit_cents", BigInteger, nullable=True),
    Column("limit_duration", String(8), nullable=True),
    Column("limit_strategy", String(8), nullable=True),
    Column("updated_ms", BigInteger, nullable=False),
)

authorizations = Table(
    "authorizations", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    # The gateway's id; the capture posts the usage event under the same id.
    Column("id", String(128), primary_key=True),
    Column("amount_microcents", BigInteger, nullable=False),
    Column("provider", String(128), nullable=False, server_default=""),
    Column("model", String(256), nullable=False, server_default=""),
    # active, captured, voided, expired
    Column("status", String(16), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("captured_microcents", BigInteger, nullable=True),
    Column("finished_ms", BigInteger, nullable=True),
)

# "The hold is active", with the status as a literal rather than a bound parameter:
# PostgreSQL's generic plans can use the partial indexes below only for a query whose
# condition is this same literal.
ACTIVE = authorizations.c.status == literal_column("'active'")
# Only active holds are indexed by expiry: the sweep and the per-account release ask for
# nothing else (filtering on ACTIVE), and a hold is looked up by id through the primary key
# alone (see migration 0003).
Index("ix_authorizations_active_due", authorizations.c.expires_ms, authorizations.c.account_id,
      postgresql_where=ACTIVE, sqlite_where=ACTIVE)
Index("ix_authorizations_account_active", authorizations.c.account_id,
      authorizations.c.expires_ms, postgresql_where=ACTIVE, sqlite_where=ACTIVE)
# Finished holds (captured, voided, expired) per account by when they finished: retention
# deletes an account's oldest in batches (limits/jobs.py, migration 0006_limits_retention).
# Partial, so the holds in flight cost it nothing until they finish.
FINISHED = authorizations.c.status != literal_column("'active'")
Index("ix_authorizations_finished", authorizations.c.account_id, authorizations.c.finished_ms,
      postgresql_where=FINISHED, sqlite_where=FINISHED)

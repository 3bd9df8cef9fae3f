from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    and_,
    literal_column,
)

from creditgate.kernel.columns import BigIntPK
from creditgate.kernel.db import metadata

ledger_entries = Table(
    "ledger_entries", metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    # grant (CLI/promotions), topup, auto_topup, usage, adjustment, collection (a usage
    # statement's amount_due paid: payments/collection.py)
    Column("kind", String(32), nullable=False),
    # Signed microcents: credits positive, usage negative.
    Column("amount_microcents", BigInteger, nullable=False),
    # Idempotency: one entry per (account, reference), e.g. "topup:in_…" or "usage:<batch>".
    Column("reference", String(200), nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("account_id", "reference", name="uq_ledger_reference"),
    Index("ix_ledger_account_created", "account_id", "created_ms"),
)

# Credit entries are every kind but usage debits. Written as a literal, not a bound parameter:
# PostgreSQL's generic plans can use the partial index only for a query with this same condition.
CREDIT_ENTRIES = ledger_entries.c.kind != literal_column("'usage'")
# Statements (invoices) read an account's credit grants without walking every usage debit
# (added by 0002_invoices).
Index("ix_ledger_account_credits", ledger_entries.c.account_id, ledger_entries.c.created_ms,
      ledger_entries.c.id, sqlite_where=CREDIT_ENTRIES, postgresql_where=CREDIT_ENTRIES)

# One row per credit that can pay for usage: every positive grant, top-up and auto top-up
# (and, from the 0005 migration, each account's balance at the time as one paid grant).
# Usage draws `remaining_microcents` down in the spend order (ledger/credit_grants.py); an
# expiry takes the rest as one `expiry` ledger entry. 0 <= remaining <= original, always.
credit_grants = Table(
    "credit_grants", metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    # "promotional" (spent first) or "paid" (top-ups).
    Column("category", String(16), nullable=False),
    # Lower is spent first among grants of the same category (Stripe's convention), 0-100.
    Column("priority", Integer, nullable=False, server_default="50"),
    Column("original_microcents", BigInteger, nullable=False),
    Column("remaining_microcents", BigInteger, nullable=False),
    # Unix ms from which the grant pays nothing more; null: never expires.
    Column("expires_ms", BigInteger, nullable=True),
    # Set when the expiry sweep took the remainder (its entry: reference "expiry:<id>").
    Column("expired_ms", BigInteger, nullable=True),
    # "grant" (the grant's id), "topup_invoice" (the invoice's id) or "migration".
    Column("source_type", String(16), nullable=False),
    Column("source_id", String(200), nullable=False),
    # The ledger entry that created the grant (null for the migrated balance).
    Column("ledger_entry_id", BigInteger, nullable=True, unique=True),
    Column("created_ms", BigInteger, nullable=False),
    # Keyed by account too, so account_id can be the distribution column (docs/scaling.md).
    UniqueConstraint("account_id", "id", name="uq_credit_grants_account_id"),
)

# Literal conditions, not bound parameters, so PostgreSQL's generic plans use the indexes.
LIVE_GRANTS = credit_grants.c.remaining_microcents > literal_column("0")
# Usage reads an account's grants that still hold something (a handful per account).
Index("ix_credit_grants_account_live", credit_grants.c.account_id,
      sqlite_where=LIVE_GRANTS, postgresql_where=LIVE_GRANTS)
EXPIRING_GRANTS = and_(LIVE_GRANTS, credit_grants.c.expires_ms.isnot(None))
# The expiry sweep and the hold decisions read the live grants that will expire.
Index("ix_credit_grants_live_expiry", credit_grants.c.expires_ms, credit_grants.c.account_id,
      sqlite_where=EXPIRING_GRANTS, postgresql_where=EXPIRING_GRANTS)

# What paid for what: microcents each grant gave to the usage billed in a month (`purpose`
# "YYYY-MM") or to a negative correction (`purpose` "correction"). `grant_id` 0 is the part no
# grant covered (the balance below zero); a later grant pays it off while its month is open.
# Statements apply credits per grant from these rows (invoices read them through
# `ledger.credit_grants.month_credits`).
credit_draws = Table(
    "credit_draws", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    Column("grant_id", BigInteger, primary_key=True),
    Column("purpose", String(16), primary_key=True),
    Column("amount_microcents", BigInteger, nullable=False),
)

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
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
# The credit pool of usage statements: credits, without the payments of earlier statements
# (`collection` entries pay usage already billed; counting them again would bill it twice).
STATEMENT_CREDITS = CREDIT_ENTRIES & (ledger_entries.c.kind != literal_column("'collection'"))
# Statements (invoices) read an account's credit grants without walking every usage debit
# (added by 0002_invoices).
Index("ix_ledger_account_credits", ledger_entries.c.account_id, ledger_entries.c.created_ms,
      ledger_entries.c.id, sqlite_where=CREDIT_ENTRIES, postgresql_where=CREDIT_ENTRIES)

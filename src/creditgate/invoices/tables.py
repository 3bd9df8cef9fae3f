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
    literal_column,
)

from creditgate.kernel.db import metadata
from creditgate.ledger.tables import ledger_entries
from creditgate.usage.tables import usage_rollups

# Amount columns are integer cents (USD), as the API shows them.
invoices = Table(
    "invoices", metadata,
    Column("id", String(64), primary_key=True),  # in_…
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("origin", String(32), nullable=False),  # manual_topup, auto_topup, usage
    Column("status", String(16), nullable=False),  # draft, open, paid, void, uncollectible
    Column("currency", String(3), nullable=False, server_default="usd"),
    Column("subtotal_cents", BigInteger, nullable=False, server_default="0"),
    Column("tax_cents", BigInteger, nullable=False, server_default="0"),
    Column("credits_applied_cents", BigInteger, nullable=False, server_default="0"),
    Column("amount_due_cents", BigInteger, nullable=False, server_default="0"),
    Column("amount_paid_cents", BigInteger, nullable=False, server_default="0"),
    Column("amount_remaining_cents", BigInteger, nullable=False, server_default="0"),
    Column("attempt_count", Integer, nullable=False, server_default="0"),
    Column("attempted", Boolean, nullable=False, server_default="0"),
    Column("auto_advance", Boolean, nullable=True),
    Column("description", String(500), nullable=True),
    Column("created_by", String(64), nullable=False, server_default="creditgate"),
    Column("created_s", BigInteger, nullable=False),
    Column("period_start_s", BigInteger, nullable=False),
    Column("period_end_s", BigInteger, nullable=False),
    # The month a usage statement closes ("YYYY-MM"); NULL for top-up invoices.
    Column("period_month", String(7), nullable=True),
    # Lines and credits as rendered (JSON), frozen when the invoice is final.
    Column("lines_json", Text, nullable=False, server_default="[]"),
    # Added by 0002_invoices: the rate and country a usage statement was taxed with.
    Column("tax_rate", String(16), nullable=True),
    Column("tax_country", String(2), nullable=True),
    UniqueConstraint("account_id", "origin", "period_month", name="uq_invoice_statement"),
    Index("ix_invoices_account_created", "account_id", "created_s"),
    Index("ix_invoices_account_origin_created", "account_id", "origin", "created_s"),
)

# Statements read one account's month of rollups, and its credit grants without walking every
# usage debit; both indexes are added by 0002_invoices.
Index("ix_usage_rollups_account_month", usage_rollups.c.account_id, usage_rollups.c.billing_month)
# Credit entries are every kind but usage debits. Written as a literal, not a bound parameter:
# PostgreSQL's generic plans can use the partial index only for a query with this same condition.
CREDIT_ENTRIES = ledger_entries.c.kind != literal_column("'usage'")
Index("ix_ledger_account_credits", ledger_entries.c.account_id, ledger_entries.c.created_ms,
      ledger_entries.c.id, sqlite_where=CREDIT_ENTRIES, postgresql_where=CREDIT_ENTRIES)

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

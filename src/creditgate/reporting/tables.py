from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Table

from creditgate.kernel.db import metadata

_TEXT_FIELDS = (
    "account_type", "address", "address2", "city", "company", "country", "first_name",
    "last_name", "payment_address", "payment_address2", "payment_city", "payment_country",
    "payment_email", "payment_first_name", "payment_gateway", "payment_last_name",
    "payment_state", "payment_zipcode", "primary_email", "state", "tax_id_type", "telephone",
    "vat", "zipcode", "enterprise_billing_email", "enterprise_primary_email",
    # Added by migration 0002_reporting: the fields the Python SDK sends.
    "billing_email", "secondary_billing_email", "preferred_locale",
)

billing_profiles = Table(
    "billing_profiles", metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    Column("id", String(32), nullable=False),
    *(Column(name, String(320), nullable=True) for name in _TEXT_FIELDS),
    # Only the last four digits are ever stored; the API shows them masked.
    Column("card_last4", String(4), nullable=True),
    Column("card_expiry_month", Integer, nullable=True),
    Column("card_expiry_year", Integer, nullable=True),
    Column("is_partner", Boolean, nullable=False, server_default="0"),
    Column("use_legacy", Boolean, nullable=False, server_default="0"),
    Column("created_ms", BigInteger, nullable=False),
    Column("edited_ms", BigInteger, nullable=False),
)

# Usage per account, UTC day, provider, model and billing month: `usage_rollups` summed by day.
# Database triggers (migration 0002_reporting) keep it in step with every insert, update and
# delete of a rollup, in the same transaction, whoever writes; reports then read days in key
# order instead of grouping hours.
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

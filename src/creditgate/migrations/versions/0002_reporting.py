"""reporting: billing profile fields the Python SDK sends; daily usage kept by triggers

Revision ID: 0002_reporting
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_reporting"
down_revision = "0001_core"
branch_labels = ("reporting",)
depends_on = None

_NEW = ("billing_email", "secondary_billing_email", "preferred_locale")
_SUMS = ("cost_microcents", "input_tokens", "output_tokens", "event_count")
_KEY = "account_id, day_ms, provider, model, billing_month"


def _upsert(row: str, sign: str) -> str:
    """Add (sign=+) or remove (sign=-) one rollup row's figures to its day."""
    values = ", ".join(f"{sign}{row}.{s}" for s in _SUMS)
    added = ", ".join(f"{s} = usage_daily.{s} + excluded.{s}" for s in _SUMS)
    return (f"INSERT INTO usage_daily ({_KEY}, {', '.join(_SUMS)}) VALUES ({row}.account_id, "
            f"{row}.hour_start_ms - {row}.hour_start_ms % 86400000, {row}.provider, {row}.model, "
            f"{row}.billing_month, {values}) ON CONFLICT ({_KEY}) DO UPDATE SET {added};")


def upgrade() -> None:
    with op.batch_alter_table("billing_profiles", schema=None) as batch_op:
        for name in _NEW:
            batch_op.add_column(sa.Column(name, sa.String(length=320), nullable=True))
    op.create_table(
        "usage_daily",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("day_ms", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("billing_month", sa.String(length=7), nullable=False),
        sa.Column("cost_microcents", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("account_id", "day_ms", "provider", "model", "billing_month"),
    )
    op.execute(
        f"INSERT INTO usage_daily ({_KEY}, {', '.join(_SUMS)}) "
        "SELECT account_id, hour_start_ms - hour_start_ms % 86400000, provider, model, "
        f"billing_month, {', '.join(f'SUM({s})' for s in _SUMS)} FROM usage_rollups "
        "GROUP BY account_id, hour_start_ms - hour_start_ms % 86400000, provider, model, "
        "billing_month"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
CREATE FUNCTION usage_daily_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {_upsert('OLD', '-')}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {_upsert('NEW', '')}
  END IF;
  RETURN NULL;
END $$""")
        op.execute("CREATE TRIGGER usage_daily_sync AFTER INSERT OR UPDATE OR DELETE ON "
                   "usage_rollups FOR EACH ROW EXECUTE FUNCTION usage_daily_apply()")
    else:
        op.execute("CREATE TRIGGER usage_daily_insert AFTER INSERT ON usage_rollups BEGIN "
                   f"{_upsert('NEW', '')} END")
        op.execute("CREATE TRIGGER usage_daily_update AFTER UPDATE ON usage_rollups BEGIN "
                   f"{_upsert('OLD', '-')} {_upsert('NEW', '')} END")
        op.execute("CREATE TRIGGER usage_daily_delete AFTER DELETE ON usage_rollups BEGIN "
                   f"{_upsert('OLD', '-')} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER usage_daily_sync ON usage_rollups")
        op.execute("DROP FUNCTION usage_daily_apply()")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER usage_daily_{name}")
    op.drop_table("usage_daily")
    with op.batch_alter_table("billing_profiles", schema=None) as batch_op:
        for name in _NEW:
            batch_op.drop_column(name)

"""reporting: billing profile fields the Python SDK sends

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


def upgrade() -> None:
    with op.batch_alter_table("billing_profiles", schema=None) as batch_op:
        for name in _NEW:
            batch_op.add_column(sa.Column(name, sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("billing_profiles", schema=None) as batch_op:
        for name in _NEW:
            batch_op.drop_column(name)

"""payments: payment methods, top-ups, auto top-up, webhook inbox, sandbox state

Revision ID: 0002_payments
Revises: 0001_core
Create Date: 2026-11-23 13:05:44.568012
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002_payments'
down_revision: str | Sequence[str] | None = '0001_core'
branch_labels: str | Sequence[str] | None = ('payments',)
depends_on: str | Sequence[str] | None = None

def upgrade() -> None:
    op.create_table('sandbox_intents',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=True),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('payment_method', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('client_secret', sa.String(length=128), nullable=False),
    sa.Column('failure', sa.String(length=500), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    op.create_table('webhook_events',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=128), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('received_ms', sa.BigInteger(), nullable=False),
    sa.Column('handled_ms', sa.BigInteger(), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('payment_accounts',
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=True),
    sa.Column('default_method_id', sa.String(length=128), nullable=True),
    sa.Column('auto_amount_cents', sa.BigInteger(), nullable=True),
    sa.Column('auto_threshold_cents', sa.BigInteger(), nullable=True),
    sa.Column('auto_error', sa.String(length=500), nullable=True),
    sa.Column('auto_disabled_reason', sa.String(length=500), nullable=True),
    sa.Column('auto_last_failed_ms', sa.BigInteger(), nullable=True),
    sa.Column('auto_failures', sa.Integer(), server_default='0', nullable=False),
    sa.Column('auto_in_flight', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('auto_seq', sa.Integer(), server_default='0', nullable=False),
    sa.Column('auto_day', sa.String(length=10), nullable=True),
    sa.Column('auto_day_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('first_topup_success', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('account_id')
    )
    op.create_table('payment_methods',
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('brand', sa.String(length=32), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('account_id', 'id', name='pk_payment_methods')
    )
    op.create_table('topups',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('origin', sa.String(length=32), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('payment_method_id', sa.String(length=128), nullable=True),
    sa.Column('intent_id', sa.String(length=128), nullable=True),
    sa.Column('client_secret', sa.String(length=255), nullable=True),
    sa.Column('failure_reason', sa.String(length=500), nullable=True),
    sa.Column('trigger_key', sa.String(length=200), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['id'], ['invoices.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('trigger_key')
    )
    with op.batch_alter_table('topups', schema=None) as batch_op:
        batch_op.create_index('ix_topups_account', ['account_id', 'created_ms'], unique=False)
        batch_op.create_index('ix_topups_intent', ['intent_id'], unique=False)

def downgrade() -> None:
    with op.batch_alter_table('topups', schema=None) as batch_op:
        batch_op.drop_index('ix_topups_intent')
        batch_op.drop_index('ix_topups_account')

    op.drop_table('topups')
    op.drop_table('payment_methods')
    op.drop_table('payment_accounts')
    op.drop_table('webhook_events')
    op.drop_table('sandbox_intents')

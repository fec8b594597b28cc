"""orders tables

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import homecraft_shared.db
from homecraft_shared.outgoing_mail import create_outgoing_mail_table, drop_outgoing_mail_table

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('orders',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('buyer_id', sa.String(length=64), nullable=True),
    sa.Column('guest_email', sa.String(length=254), nullable=True),
    sa.Column('access_token', sa.String(length=64), nullable=True),
    sa.Column('placement_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('subtotal_cents', sa.Integer(), nullable=False),
    sa.Column('tax_cents', sa.Integer(), nullable=False),
    sa.Column('shipping_cents', sa.Integer(), nullable=False),
    sa.Column('total_cents', sa.Integer(), nullable=False),
    sa.Column('marketplace_percent', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('payment_method', sa.String(length=16), nullable=True),
    sa.Column('stripe_session_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_charge_id', sa.String(length=255), nullable=True),
    sa.Column('shipping', sa.JSON(), nullable=True),
    sa.Column('refunded_cents', sa.Integer(), nullable=False),
    sa.Column('created_at', homecraft_shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', homecraft_shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('paid_at', homecraft_shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('canceled_at', homecraft_shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('refunded_at', homecraft_shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('has_shipping', sa.Boolean(), nullable=False),
    sa.Column('has_digital', sa.Boolean(), nullable=False),
    sa.Column('flag_totals_mismatch', sa.Boolean(), nullable=False),
    sa.Column('flag_ledger_mismatch', sa.Boolean(), nullable=False),
    sa.Column('flag_missing_stripe_ids', sa.Boolean(), nullable=False),
    sa.Column('flag_no_transfer', sa.Boolean(), nullable=False),
    sa.Column('flag_skipped_unready', sa.Boolean(), nullable=False),
    sa.Column('payout_state', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('placement_key', name=op.f('uq_orders_placement_key'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_buyer_created', ['buyer_id', 'created_at'], unique=False)
        batch_op.create_index('ix_orders_created', ['created_at'], unique=False)
        batch_op.create_index('ix_orders_flag_ledger', ['flag_ledger_mismatch', 'created_at'], unique=False)
        batch_op.create_index('ix_orders_flag_no_transfer', ['flag_no_transfer', 'created_at'], unique=False)
        batch_op.create_index('ix_orders_flag_stripe_ids', ['flag_missing_stripe_ids', 'created_at'], unique=False)
        batch_op.create_index('ix_orders_flag_totals', ['flag_totals_mismatch', 'created_at'], unique=False)
        batch_op.create_index('ix_orders_flag_unready', ['flag_skipped_unready', 'created_at'], unique=False)
        batch_op.create_index('ix_orders_paid_at', ['paid_at'], unique=False)
        batch_op.create_index('ix_orders_payout_state_created', ['payout_state', 'created_at'], unique=False)
        batch_op.create_index('ix_orders_status_created', ['status', 'created_at'], unique=False)

    create_outgoing_mail_table(op)

    op.create_table('site_config',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('marketplace_percent', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('default_currency', sa.String(length=3), nullable=False),
    sa.Column('allowed_countries', sa.JSON(), nullable=False),
    sa.Column('updated_at', homecraft_shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_config'))
    )
    op.create_table('observed_refunds',
    sa.Column('refund_id', sa.String(length=255), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('observed_at', homecraft_shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_observed_refunds_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('refund_id', name=op.f('pk_observed_refunds'))
    )
    op.create_table('order_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('created_at', homecraft_shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_events_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_events'))
    )
    with op.batch_alter_table('order_events', schema=None) as batch_op:
        batch_op.create_index('ix_order_events_order', ['order_id', 'id'], unique=False)

    op.create_table('order_lines',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('seller_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('is_digital', sa.Boolean(), nullable=False),
    sa.Column('requires_shipping', sa.Boolean(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price_cents', sa.Integer(), nullable=False),
    sa.Column('gross_cents', sa.Integer(), nullable=False),
    sa.Column('fee_cents', sa.Integer(), nullable=False),
    sa.Column('net_cents', sa.Integer(), nullable=False),
    sa.Column('refunded_at', homecraft_shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines'))
    )
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.create_index('ix_order_lines_order', ['order_id', 'position'], unique=False)
        batch_op.create_index('ix_order_lines_seller', ['seller_id', 'order_id'], unique=False)

    op.create_table('seller_debits',
    sa.Column('source_id', sa.String(length=255), nullable=False),
    sa.Column('line_id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('seller_id', sa.String(length=64), nullable=False),
    sa.Column('debit_cents', sa.Integer(), nullable=False),
    sa.Column('at', homecraft_shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_seller_debits_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('source_id', 'line_id', name=op.f('pk_seller_debits'))
    )
    with op.batch_alter_table('seller_debits', schema=None) as batch_op:
        batch_op.create_index('ix_seller_debits_order', ['order_id'], unique=False)

    op.create_table('seller_payouts',
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('seller_id', sa.String(length=64), nullable=False),
    sa.Column('transferred', sa.Boolean(), nullable=False),
    sa.Column('transfer_id', sa.String(length=255), nullable=True),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('skip_reason', sa.String(length=32), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('seller_net_cents', sa.Integer(), nullable=False),
    sa.Column('balance_before_cents', sa.Integer(), nullable=False),
    sa.Column('at', homecraft_shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_seller_payouts_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', 'seller_id', name=op.f('pk_seller_payouts'))
    )


def downgrade() -> None:
    op.drop_table('seller_payouts')
    with op.batch_alter_table('seller_debits', schema=None) as batch_op:
        batch_op.drop_index('ix_seller_debits_order')

    op.drop_table('seller_debits')
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_order_lines_seller')
        batch_op.drop_index('ix_order_lines_order')

    op.drop_table('order_lines')
    with op.batch_alter_table('order_events', schema=None) as batch_op:
        batch_op.drop_index('ix_order_events_order')

    op.drop_table('order_events')
    op.drop_table('observed_refunds')
    op.drop_table('site_config')
    drop_outgoing_mail_table(op)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_status_created')
        batch_op.drop_index('ix_orders_payout_state_created')
        batch_op.drop_index('ix_orders_paid_at')
        batch_op.drop_index('ix_orders_flag_unready')
        batch_op.drop_index('ix_orders_flag_totals')
        batch_op.drop_index('ix_orders_flag_stripe_ids')
        batch_op.drop_index('ix_orders_flag_no_transfer')
        batch_op.drop_index('ix_orders_flag_ledger')
        batch_op.drop_index('ix_orders_created')
        batch_op.drop_index('ix_orders_buyer_created')

    op.drop_table('orders')

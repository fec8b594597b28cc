"""payouts: when a planned transfer was first asked of Stripe (decision 0316)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 07:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import homecraft_shared.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transfer_asked_at", homecraft_shared.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_column("transfer_asked_at")

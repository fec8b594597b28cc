"""products: seller_is_owner (C10), rating_as_of and trending_as_of (projection watermarks)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import homecraft_shared.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seller_is_owner", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("rating_as_of", homecraft_shared.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("trending_as_of", homecraft_shared.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("trending_as_of")
        batch_op.drop_column("rating_as_of")
        batch_op.drop_column("seller_is_owner")

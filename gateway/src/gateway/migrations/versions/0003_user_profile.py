"""user profile fields (I2)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = [("first_name", 150), ("last_name", 150), ("phone", 20), ("phone2", 20), ("address_line1", 200),
           ("address_line2", 200), ("city", 100), ("state", 2), ("zip_code", 10)]


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        for name, length in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)

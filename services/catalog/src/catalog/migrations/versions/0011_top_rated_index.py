"""Index for the `top` sort (C5): products(status, is_active, rating_count).

`top` lists only products with >= 3 reviews; without this index, counting them (and finding the
candidates to order) read every visible product's row. With it the count runs on the index alone and
the ordered page reads just the qualifying rows.

``op.create_index`` only: on SQLite a batch (table-rebuilding) migration of ``products`` would drop
the full-text triggers of 0010.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_products_visible_rating", "products", ["status", "is_active", "rating_count"])


def downgrade() -> None:
    op.drop_index("ix_products_visible_rating", table_name="products")

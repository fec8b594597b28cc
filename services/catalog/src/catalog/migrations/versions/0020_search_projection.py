"""The search projection's change log, and a stored average rating (C5 `top`, C7 ties).

* ``products.avg_rating``: rating_sum / rating_count (0 without reviews), written with the count and
  sum (the rating projection, inserts through the model's default), so `top` and `trending` walk an
  index in order instead of sorting every qualified row by a computed average. Indexes
  ``ix_products_visible_top`` (status, is_active, avg_rating, rating_count, created_at) and
  ``ix_products_visible_trending_order`` (status, is_active, trending_score, avg_rating, created_at)
  cover those sorts; the narrower ``ix_products_visible_trending`` goes.
* ``search_changes``: which products changed, in commit order per dialect (see
  ``catalog.search.changes``), for every process's in-memory search index (docs/decisions/0111) to
  follow. Triggers write it, so no code path (listing edits, event projections, a manual UPDATE) can
  forget to: products inserted, deleted, or updated in a column the index holds (an UPDATE that sets
  the same values writes nothing), images added, removed or reordered (a card shows the primary
  one), and every product of a seller whose payout readiness changed (C10
  ``can_buy``). A row with no product id asks every process to rebuild its index
  (``python -m catalog reindex``).

``op.add_column`` / ``op.create_index`` only: on SQLite a batch (table-rebuilding) migration of
``products`` would drop the triggers of 0010 and of this one.

Revision ID: 0020
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0011"
branch_labels = None
depends_on = None

# The product columns the search index holds (catalog.search.schema): an update of any other column
# (updated_at, rating_as_of, images, ...) is not a change to the index.
INDEXED_COLUMNS = (
    "title", "short_description", "description", "kind", "category_id", "seller_id", "seller_is_owner",
    "price_cents", "is_free", "status", "is_active", "is_trending", "trending_score", "rating_count",
    "avg_rating", "created_at",
)

_changed_sqlite = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in INDEXED_COLUMNS)
_changed_pg = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in INDEXED_COLUMNS)
_columns = ", ".join(INDEXED_COLUMNS)
# A card shows the product's primary image (else its first by sort order).
IMAGE_COLUMNS = ("product_id", "storage_key", "is_primary", "sort_order")
_image_columns = ", ".join(IMAGE_COLUMNS)
_image_changed_sqlite = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in IMAGE_COLUMNS)
_image_changed_pg = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in IMAGE_COLUMNS)

SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER search_changes_product_insert AFTER INSERT ON products BEGIN
        INSERT INTO search_changes (product_id, changed_at) VALUES (NEW.id, CURRENT_TIMESTAMP);
    END
    """,
    """
    CREATE TRIGGER search_changes_product_delete AFTER DELETE ON products BEGIN
        INSERT INTO search_changes (product_id, changed_at) VALUES (OLD.id, CURRENT_TIMESTAMP);
    END
    """,
    f"""
    CREATE TRIGGER search_changes_product_update AFTER UPDATE OF {_columns} ON products
    WHEN {_changed_sqlite}
    BEGIN
        INSERT INTO search_changes (product_id, changed_at) VALUES (NEW.id, CURRENT_TIMESTAMP);
    END
    """,
    """
    CREATE TRIGGER search_changes_image_insert AFTER INSERT ON product_images BEGIN
        INSERT INTO search_changes (product_id, changed_at) VALUES (NEW.product_id, CURRENT_TIMESTAMP);
    END
    """,
    """
    CREATE TRIGGER search_changes_image_delete AFTER DELETE ON product_images BEGIN
        INSERT INTO search_changes (product_id, changed_at) VALUES (OLD.product_id, CURRENT_TIMESTAMP);
    END
    """,
    f"""
    CREATE TRIGGER search_changes_image_update AFTER UPDATE OF {_image_columns} ON product_images
    WHEN {_image_changed_sqlite}
    BEGIN
        INSERT INTO search_changes (product_id, changed_at) VALUES (NEW.product_id, CURRENT_TIMESTAMP);
    END
    """,
    """
    CREATE TRIGGER search_changes_payout_insert AFTER INSERT ON seller_payout_status BEGIN
        INSERT INTO search_changes (product_id, changed_at)
        SELECT id, CURRENT_TIMESTAMP FROM products WHERE seller_id = NEW.seller_id;
    END
    """,
    """
    CREATE TRIGGER search_changes_payout_update AFTER UPDATE OF ready ON seller_payout_status
    WHEN OLD.ready IS NOT NEW.ready
    BEGIN
        INSERT INTO search_changes (product_id, changed_at)
        SELECT id, CURRENT_TIMESTAMP FROM products WHERE seller_id = NEW.seller_id;
    END
    """,
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS search_changes_image_update",
    "DROP TRIGGER IF EXISTS search_changes_image_delete",
    "DROP TRIGGER IF EXISTS search_changes_image_insert",
    "DROP TRIGGER IF EXISTS search_changes_payout_update",
    "DROP TRIGGER IF EXISTS search_changes_payout_insert",
    "DROP TRIGGER IF EXISTS search_changes_product_update",
    "DROP TRIGGER IF EXISTS search_changes_product_delete",
    "DROP TRIGGER IF EXISTS search_changes_product_insert",
]

POSTGRES_TRIGGERS = [
    """
    CREATE FUNCTION search_changes_product() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            INSERT INTO search_changes (product_id, changed_at) VALUES (OLD.id, now());
        ELSE
            INSERT INTO search_changes (product_id, changed_at) VALUES (NEW.id, now());
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION search_changes_image() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            INSERT INTO search_changes (product_id, changed_at) VALUES (OLD.product_id, now());
        ELSE
            INSERT INTO search_changes (product_id, changed_at) VALUES (NEW.product_id, now());
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_changes_image_insert_delete AFTER INSERT OR DELETE ON product_images
    FOR EACH ROW EXECUTE FUNCTION search_changes_image()
    """,
    f"""
    CREATE TRIGGER search_changes_image_update AFTER UPDATE OF {_image_columns} ON product_images
    FOR EACH ROW WHEN ({_image_changed_pg}) EXECUTE FUNCTION search_changes_image()
    """,
    """
    CREATE FUNCTION search_changes_seller() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO search_changes (product_id, changed_at)
        SELECT id, now() FROM products WHERE seller_id = NEW.seller_id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_changes_product_insert_delete AFTER INSERT OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION search_changes_product()
    """,
    f"""
    CREATE TRIGGER search_changes_product_update AFTER UPDATE OF {_columns} ON products
    FOR EACH ROW WHEN ({_changed_pg}) EXECUTE FUNCTION search_changes_product()
    """,
    """
    CREATE TRIGGER search_changes_payout_insert AFTER INSERT ON seller_payout_status
    FOR EACH ROW EXECUTE FUNCTION search_changes_seller()
    """,
    """
    CREATE TRIGGER search_changes_payout_update AFTER UPDATE OF ready ON seller_payout_status
    FOR EACH ROW WHEN (OLD.ready IS DISTINCT FROM NEW.ready) EXECUTE FUNCTION search_changes_seller()
    """,
]

POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS search_changes_image_update ON product_images",
    "DROP TRIGGER IF EXISTS search_changes_image_insert_delete ON product_images",
    "DROP FUNCTION IF EXISTS search_changes_image()",
    "DROP TRIGGER IF EXISTS search_changes_payout_update ON seller_payout_status",
    "DROP TRIGGER IF EXISTS search_changes_payout_insert ON seller_payout_status",
    "DROP TRIGGER IF EXISTS search_changes_product_update ON products",
    "DROP TRIGGER IF EXISTS search_changes_product_insert_delete ON products",
    "DROP FUNCTION IF EXISTS search_changes_seller()",
    "DROP FUNCTION IF EXISTS search_changes_product()",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    op.add_column("products", sa.Column("avg_rating", sa.Float(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE products SET avg_rating = CAST(rating_sum AS FLOAT) / rating_count WHERE rating_count > 0"
    )
    op.drop_index("ix_products_visible_trending", table_name="products")
    op.create_index(
        "ix_products_visible_trending_order", "products",
        ["status", "is_active", "trending_score", "avg_rating", "created_at"],
    )
    op.create_index(
        "ix_products_visible_top", "products", ["status", "is_active", "avg_rating", "rating_count", "created_at"]
    )
    op.create_table(
        "search_changes",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("product_id", sa.Uuid(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_search_changes_changed_at", "search_changes", ["changed_at"])
    dialect = op.get_bind().dialect.name
    _run(SQLITE_TRIGGERS if dialect == "sqlite" else POSTGRES_TRIGGERS)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _run(SQLITE_DROP if dialect == "sqlite" else POSTGRES_DROP)
    op.drop_index("ix_search_changes_changed_at", table_name="search_changes")
    op.drop_table("search_changes")
    op.drop_index("ix_products_visible_top", table_name="products")
    op.drop_index("ix_products_visible_trending_order", table_name="products")
    op.create_index("ix_products_visible_trending", "products", ["status", "is_active", "trending_score"])
    op.drop_column("products", "avg_rating")

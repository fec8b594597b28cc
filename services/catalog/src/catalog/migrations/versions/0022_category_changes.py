"""Category changes in the search projection's change log (docs/decisions/0111).

Every process keeps the category tree (names, slugs, parents, active flags, order) in memory with
its search index, so a category page and the hidden-category filter (C5, C8) need no statement.
These triggers append a ``search_changes`` row with the nil UUID as its product (``CATEGORIES``,
see ``catalog.search.changes``) in the transaction of every category inserted, deleted or updated in
a column the tree holds; each process reloads the tree when it reads one. Triggers, as for products
(0020): the API, seeds and manual SQL all change categories, and none can forget.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

COLUMNS = ("type", "name", "slug", "parent_id", "is_active", "sort_order")
_columns = ", ".join(COLUMNS)
_changed_sqlite = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in COLUMNS)
_changed_pg = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in COLUMNS)
# sa.Uuid is stored as 32 hex digits on SQLite, natively on PostgreSQL.
_NIL_SQLITE = "'" + "0" * 32 + "'"
_NIL_PG = "'00000000-0000-0000-0000-000000000000'::uuid"

_insert_sqlite = f"INSERT INTO search_changes (product_id, changed_at) VALUES ({_NIL_SQLITE}, CURRENT_TIMESTAMP);"

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER search_changes_category_insert AFTER INSERT ON categories BEGIN {_insert_sqlite} END",
    f"CREATE TRIGGER search_changes_category_delete AFTER DELETE ON categories BEGIN {_insert_sqlite} END",
    f"""
    CREATE TRIGGER search_changes_category_update AFTER UPDATE OF {_columns} ON categories
    WHEN {_changed_sqlite}
    BEGIN {_insert_sqlite} END
    """,
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS search_changes_category_update",
    "DROP TRIGGER IF EXISTS search_changes_category_delete",
    "DROP TRIGGER IF EXISTS search_changes_category_insert",
]

POSTGRES_TRIGGERS = [
    f"""
    CREATE FUNCTION search_changes_category() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO search_changes (product_id, changed_at) VALUES ({_NIL_PG}, now());
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_changes_category_insert_delete AFTER INSERT OR DELETE ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION search_changes_category()
    """,
    f"""
    CREATE TRIGGER search_changes_category_update AFTER UPDATE OF {_columns} ON categories
    FOR EACH ROW WHEN ({_changed_pg}) EXECUTE FUNCTION search_changes_category()
    """,
]

POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS search_changes_category_update ON categories",
    "DROP TRIGGER IF EXISTS search_changes_category_insert_delete ON categories",
    "DROP FUNCTION IF EXISTS search_changes_category()",
]


def upgrade() -> None:
    for statement in SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for statement in SQLITE_DROP if op.get_bind().dialect.name == "sqlite" else POSTGRES_DROP:
        op.execute(statement)

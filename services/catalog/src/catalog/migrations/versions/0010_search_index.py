"""Full-text search index over products (C5): FTS5 on SQLite, tsvector + GIN on PostgreSQL.

Both backends get a side table named ``products_fts`` kept in sync with ``products`` by triggers, so
no application code path can forget to index a product:

* SQLite: an external-content FTS5 table (``content='products'``, keyed by the products' rowid; the
  text is not stored twice), Porter stemming, ranked with ``bm25``. The rowid of ``products`` is
  implicit (its primary key is a UUID), and SQLite's ``VACUUM`` may renumber implicit rowids: after a
  ``VACUUM``, or after a migration that rebuilds ``products`` (Alembic batch mode on SQLite copies the
  table and drops its triggers), run ``python -m catalog search-reindex`` and re-create the triggers.
* PostgreSQL: ``search.products_fts(product_id, document tsvector, title_document tsvector)``, each
  with a GIN index, the document weighted title A, short description B, description C, ranked with
  ``ts_rank``; the title alone for the title-first tier of relevance. A side table rather than a
  column or an expression index on ``products``: ranking reads the stored vector instead of
  re-parsing every matching row, and the models stay as they are. It lives in its own schema,
  ``search``: derived data the service can rebuild, outside the schema the models describe (so the
  models-vs-migrations check, which compares the default schema, does not see it).

Revision ID: 0010
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0003"
branch_labels = None
depends_on = None

SQLITE_UPGRADE = [
    """
    CREATE VIRTUAL TABLE products_fts USING fts5(
        title, short_description, description,
        content='products', content_rowid='rowid',
        tokenize='porter unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TRIGGER products_fts_after_insert AFTER INSERT ON products BEGIN
        INSERT INTO products_fts(rowid, title, short_description, description)
        VALUES (new.rowid, new.title, new.short_description, new.description);
    END
    """,
    """
    CREATE TRIGGER products_fts_after_delete AFTER DELETE ON products BEGIN
        INSERT INTO products_fts(products_fts, rowid, title, short_description, description)
        VALUES ('delete', old.rowid, old.title, old.short_description, old.description);
    END
    """,
    """
    CREATE TRIGGER products_fts_after_update AFTER UPDATE OF title, short_description, description ON products
    BEGIN
        INSERT INTO products_fts(products_fts, rowid, title, short_description, description)
        VALUES ('delete', old.rowid, old.title, old.short_description, old.description);
        INSERT INTO products_fts(rowid, title, short_description, description)
        VALUES (new.rowid, new.title, new.short_description, new.description);
    END
    """,
    "INSERT INTO products_fts(products_fts) VALUES ('rebuild')",
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS products_fts_after_update",
    "DROP TRIGGER IF EXISTS products_fts_after_delete",
    "DROP TRIGGER IF EXISTS products_fts_after_insert",
    "DROP TABLE IF EXISTS products_fts",
]

# The weighted document: title A, short description B, description C (ts_rank weighs A highest).
PG_DOCUMENT = (
    "setweight(to_tsvector('english', coalesce({p}.title, '')), 'A')"
    " || setweight(to_tsvector('english', coalesce({p}.short_description, '')), 'B')"
    " || setweight(to_tsvector('english', coalesce({p}.description, '')), 'C')"
)
# The title alone: relevance ranks products with every term in the title first.
PG_TITLE = "to_tsvector('english', coalesce({p}.title, ''))"

POSTGRES_UPGRADE = [
    "CREATE SCHEMA IF NOT EXISTS search",
    """
    CREATE TABLE search.products_fts (
        product_id uuid PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
        document tsvector NOT NULL,
        title_document tsvector NOT NULL
    )
    """,
    "CREATE INDEX ix_products_fts_document ON search.products_fts USING gin (document)",
    "CREATE INDEX ix_products_fts_title_document ON search.products_fts USING gin (title_document)",
    f"""
    CREATE FUNCTION search.products_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO search.products_fts (product_id, document, title_document)
        VALUES (NEW.id, {PG_DOCUMENT.format(p="NEW")}, {PG_TITLE.format(p="NEW")})
        ON CONFLICT (product_id) DO UPDATE SET document = EXCLUDED.document, title_document = EXCLUDED.title_document;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER products_fts_after_insert AFTER INSERT ON products
    FOR EACH ROW EXECUTE FUNCTION search.products_fts_sync()
    """,
    """
    CREATE TRIGGER products_fts_after_update AFTER UPDATE OF title, short_description, description ON products
    FOR EACH ROW EXECUTE FUNCTION search.products_fts_sync()
    """,
    f"INSERT INTO search.products_fts (product_id, document, title_document)"
    f" SELECT p.id, {PG_DOCUMENT.format(p='p')}, {PG_TITLE.format(p='p')} FROM products p",
]

POSTGRES_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS products_fts_after_update ON products",
    "DROP TRIGGER IF EXISTS products_fts_after_insert ON products",
    "DROP FUNCTION IF EXISTS search.products_fts_sync()",
    "DROP TABLE IF EXISTS search.products_fts",
    "DROP SCHEMA IF EXISTS search",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_UPGRADE)
    elif dialect == "postgresql":
        _run(POSTGRES_UPGRADE)
    else:
        raise NotImplementedError(f"no full-text index for {dialect}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_DOWNGRADE)
    elif dialect == "postgresql":
        _run(POSTGRES_DOWNGRADE)

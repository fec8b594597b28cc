"""Drop the database's full-text index (0010): nothing reads it since the search projection (0020,
docs/decisions/0111), and its triggers cost every product write. Downgrading re-creates it (and
rebuilds it from the products) with 0010's own statements.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def _full_text_migration() -> ModuleType:
    """Migration 0010, whose statements create and drop the index (loaded from its file: version
    scripts are not a package)."""
    path = Path(__file__).with_name("0010_search_index.py")
    spec = importlib.util.spec_from_file_location("catalog_migration_0010", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    _full_text_migration().downgrade()


def downgrade() -> None:
    _full_text_migration().upgrade()

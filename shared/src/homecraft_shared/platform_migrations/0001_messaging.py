"""Outbox, inbox and dead-letter tables (the messaging mechanism from shared).

The first revision of every service's history: ``homecraft_shared.migrations.alembic_config`` puts
this folder beside the service's own ``migrations/versions``; a service's next revision revises it.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from homecraft_shared.messaging.tables import create_messaging_tables, drop_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op)


def downgrade() -> None:
    drop_messaging_tables(op)

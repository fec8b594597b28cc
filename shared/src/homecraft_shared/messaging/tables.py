"""The outbox, inbox and dead-letter tables every service has in its own database.

``create_messaging_tables`` is called from each service's first Alembic migration so the schema
is defined once, here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from homecraft_shared.db import Base, BigIntPK, UtcDateTime


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, unique=True)
    subject: Mapped[str] = mapped_column(sa.String(200))
    payload: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    published_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)


class InboxEvent(Base):
    """One row per (consumer, event) handled: the dedupe record, written in the handler's transaction."""

    __tablename__ = "inbox_events"

    consumer: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    event_type: Mapped[str] = mapped_column(sa.String(200))
    processed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class DeadLetter(Base):
    __tablename__ = "dead_letters"
    __table_args__ = (sa.UniqueConstraint("consumer", "event_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(sa.String(100))
    event_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    subject: Mapped[str] = mapped_column(sa.String(200))
    payload: Mapped[str] = mapped_column(sa.Text)
    error: Mapped[str] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(sa.Integer)
    failed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    replayed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


def create_messaging_tables(op: Any) -> None:
    """Alembic operations creating the three tables (used by each service's initial migration)."""
    op.create_table(
        "outbox_events",
        sa.Column("seq", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("published_at", UtcDateTime, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_events_event_id")),
    )
    op.create_index(op.f("ix_outbox_events_published_at"), "outbox_events", ["published_at"])
    op.create_table(
        "inbox_events",
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox_events")),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failed_at", UtcDateTime, nullable=False),
        sa.Column("replayed_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint("consumer", "event_id", name=op.f("uq_dead_letters_consumer_event_id")),
    )


def drop_messaging_tables(op: Any) -> None:
    op.drop_table("dead_letters")
    op.drop_table("inbox_events")
    op.drop_index(op.f("ix_outbox_events_published_at"), table_name="outbox_events")
    op.drop_table("outbox_events")

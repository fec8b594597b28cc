"""The engagement service's tables.

- Projections of other services' facts: ``products`` (catalog's product events) and
  ``purchased_lines`` (orders' ``order.paid``; what makes a buyer able to review, V1/V2).
- Engagement (E1): the raw ``engagement_events`` log, the per-visitor throttle marks, and the
  per product per day aggregates ``product_days`` everything else reads (trending C7, the
  "why is this trending" breakdown, seller analytics).
- Trending (C7): ``trending_scores`` (the last published score per product, indexed for the top-N
  read), ``trending_dirty`` (products whose score must be recomputed) and ``trending_state``.
- Reviews (V1, V2) with the rating summaries they publish; Q&A threads, messages and reports (Q1-Q3).

The messaging tables (outbox, inbox, dead letters) come from shared.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from homecraft_shared.db import Base, BigIntPK, UtcDateTime, string_enum, utcnow
from homecraft_shared.messaging import tables as messaging_tables

__all__ = ["Base", "messaging_tables"]

ExternalId = sa.String(64)  # ids owned by other services (products, users, orders, lines)
NAME_MAX = 150  # the username shown beside a review or a message


def shown_name(username: str) -> str:
    """The author's name as stored with what they wrote (the token's username, cut to the column)."""
    return username[:NAME_MAX]


class EventKind(enum.StrEnum):
    """E1: what a visitor did."""

    VIEW = "VIEW"  # product page
    CLICK = "CLICK"  # card click through the redirect
    ADD_TO_CART = "ADD_TO_CART"  # cart add


class ReportReason(enum.StrEnum):
    """Q3."""

    SPAM = "spam"
    HARASSMENT = "harassment"
    HATE = "hate"
    VIOLENCE = "violence"
    SEXUAL = "sexual"
    ILLEGAL = "illegal"
    OTHER = "other"


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


# --- projections ---------------------------------------------------------------------------------


class ProductFact(Base):
    """Catalog's product facts (product.published / updated / unlisted), as of ``as_of``."""

    __tablename__ = "product_facts"
    __table_args__ = (sa.Index("ix_product_facts_seller_id", "seller_id"),)

    product_id: Mapped[str] = mapped_column(ExternalId, primary_key=True)
    seller_id: Mapped[str] = mapped_column(ExternalId)
    kind: Mapped[str] = mapped_column(sa.String(8))
    category_id: Mapped[str] = mapped_column(ExternalId)
    title: Mapped[str] = mapped_column(sa.String(200))
    is_listed: Mapped[bool] = mapped_column(sa.Boolean)
    first_published_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    as_of: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class PurchasedLine(Base):
    """A line of a paid order (order.paid): one purchase for trending (C7) and the right to review (V1, V2)."""

    __tablename__ = "purchased_lines"
    __table_args__ = (
        sa.Index("ix_purchased_lines_buyer_id", "buyer_id"),
        sa.Index("ix_purchased_lines_order_id", "order_id"),
        sa.Index("ix_purchased_lines_seller_paid", "seller_id", "paid_at"),
    )

    line_id: Mapped[str] = mapped_column(ExternalId, primary_key=True)
    order_id: Mapped[str] = mapped_column(ExternalId)
    buyer_id: Mapped[str | None] = mapped_column(ExternalId)  # None for a guest order: guests cannot review
    product_id: Mapped[str] = mapped_column(ExternalId)
    seller_id: Mapped[str] = mapped_column(ExternalId)
    quantity: Mapped[int] = mapped_column(sa.Integer)
    gross_cents: Mapped[int] = mapped_column(sa.BigInteger)
    paid_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    refunded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


# --- engagement events and daily aggregates -----------------------------------------------------


class EngagementEvent(Base):
    """The raw log of accepted (throttled) engagement events; aggregates are what is read."""

    __tablename__ = "engagement_events"
    __table_args__ = (sa.Index("ix_engagement_events_occurred_at", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    product_id: Mapped[str] = mapped_column(ExternalId)
    kind: Mapped[EventKind] = mapped_column(string_enum(EventKind))
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ThrottleMark(Base):
    """E1: one row per (visitor, product, kind); a new event of that key is accepted only after
    ``blocked_until`` (epoch seconds)."""

    __tablename__ = "engagement_throttle"
    __table_args__ = (sa.Index("ix_engagement_throttle_blocked_until", "blocked_until"),)

    key: Mapped[str] = mapped_column(sa.String(160), primary_key=True)
    accepted_at: Mapped[int] = mapped_column(sa.BigInteger)  # epoch second of the event last accepted
    blocked_until: Mapped[int] = mapped_column(sa.BigInteger)


class ProductDay(Base):
    """Per product per UTC day: the counts trending (C7) and seller analytics read."""

    __tablename__ = "product_days"

    product_id: Mapped[str] = mapped_column(ExternalId, primary_key=True)
    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    views: Mapped[int] = mapped_column(sa.Integer, default=0)
    clicks: Mapped[int] = mapped_column(sa.Integer, default=0)
    add_to_cart: Mapped[int] = mapped_column(sa.Integer, default=0)
    purchases: Mapped[int] = mapped_column(sa.Integer, default=0)
    reviews: Mapped[int] = mapped_column(sa.Integer, default=0)
    revenue_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)


# --- trending --------------------------------------------------------------------------------------


class TrendingScore(Base):
    """The last published C7 score per product, with its tie-breakers, for the top-N read."""

    __tablename__ = "trending_scores"
    __table_args__ = (
        sa.Index("ix_trending_scores_rank", "score", "avg_rating", "first_published_at"),
    )

    product_id: Mapped[str] = mapped_column(ExternalId, primary_key=True)
    score: Mapped[float] = mapped_column(sa.Float)
    avg_rating: Mapped[float] = mapped_column(sa.Float, default=0.0)
    first_published_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    computed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class TrendingDirty(Base):
    """A product whose score may have changed since it was last computed."""

    __tablename__ = "trending_dirty"

    product_id: Mapped[str] = mapped_column(ExternalId, primary_key=True)


class TrendingState(Base):
    """One row: the first day of the window the scores were last computed for (day rollover)."""

    __tablename__ = "trending_state"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    window_start: Mapped[dt.date] = mapped_column(sa.Date)


# --- reviews and ratings ---------------------------------------------------------------------------


class Review(Base):
    """V1: a product review, one per purchased line."""

    __tablename__ = "reviews"
    __table_args__ = (sa.Index("ix_reviews_product_created", "product_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    line_id: Mapped[str] = mapped_column(sa.ForeignKey("purchased_lines.line_id"), unique=True)
    product_id: Mapped[str] = mapped_column(ExternalId)
    buyer_id: Mapped[str] = mapped_column(ExternalId)
    buyer_name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    rating: Mapped[int] = mapped_column(sa.SmallInteger)
    title: Mapped[str] = mapped_column(sa.String(120), default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class SellerReview(Base):
    """V2: a seller rating, one per (buyer, seller, order)."""

    __tablename__ = "seller_reviews"
    __table_args__ = (
        sa.UniqueConstraint("buyer_id", "seller_id", "order_id"),
        sa.Index("ix_seller_reviews_seller_created", "seller_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    seller_id: Mapped[str] = mapped_column(ExternalId)
    buyer_id: Mapped[str] = mapped_column(ExternalId)
    buyer_name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    order_id: Mapped[str] = mapped_column(ExternalId)
    rating: Mapped[int] = mapped_column(sa.SmallInteger)
    title: Mapped[str] = mapped_column(sa.String(120), default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class RatingSummary(Base):
    """Count and sum of ratings per product or seller (what review.posted / seller_review.posted carry)."""

    __tablename__ = "rating_summaries"

    subject: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # "product" | "seller"
    subject_id: Mapped[str] = mapped_column(ExternalId, primary_key=True)
    rating_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(sa.Integer, default=0)


# --- Q&A -------------------------------------------------------------------------------------------


class QaThread(Base):
    """Q1: a question thread on a product; ``author_id`` is the thread's buyer (its starter)."""

    __tablename__ = "qa_threads"
    __table_args__ = (sa.Index("ix_qa_threads_product_activity", "product_id", "last_activity_at"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    product_id: Mapped[str] = mapped_column(ExternalId)
    author_id: Mapped[str] = mapped_column(ExternalId)
    author_name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    subject: Mapped[str] = mapped_column(sa.String(180), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_activity_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class QaMessage(Base):
    """A message in a thread; soft-deleted (Q2), never removed."""

    __tablename__ = "qa_messages"
    __table_args__ = (sa.Index("ix_qa_messages_thread_created", "thread_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    thread_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("qa_threads.id"))
    author_id: Mapped[str] = mapped_column(ExternalId)
    author_name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    deleted_by: Mapped[str | None] = mapped_column(ExternalId)


class QaReport(Base):
    """Q3: a report of a message; never hides it; resolved by staff (who and when)."""

    __tablename__ = "qa_reports"
    __table_args__ = (sa.Index("ix_qa_reports_status_created", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    message_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("qa_messages.id"))
    reporter_id: Mapped[str] = mapped_column(ExternalId)
    reason: Mapped[ReportReason] = mapped_column(string_enum(ReportReason, 24))
    details: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[ReportStatus] = mapped_column(string_enum(ReportStatus, 12), default=ReportStatus.OPEN)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(ExternalId)

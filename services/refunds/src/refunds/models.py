"""The refunds service's tables.

- Projections of orders' facts: ``refundable_orders`` and ``refundable_lines`` (from ``order.paid``; what a
  request may be for, R1), kept current by ``order.refunded`` and ``payment.refunded``.
- ``refund_requests``: one per line at most (a unique key, R1), with its amounts snapshotted at
  creation and its decision, refund and escalation facts; ``refund_request_transitions``: every
  change with who and when (R3, R4).
- ``outgoing_mail`` (shared): lifecycle emails, queued in the same transaction as the change.

The messaging tables (outbox, inbox, dead letters) come from shared.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from homecraft_shared.db import Base, BigIntPK, UtcDateTime
from homecraft_shared.messaging import tables as messaging_tables
from homecraft_shared.outgoing_mail import OutgoingMail

__all__ = ["Base", "OutgoingMail", "messaging_tables"]

ExternalId = sa.String(64)  # ids owned by other services (orders, lines, products, users)


class PaidOrder(Base):
    __tablename__ = "refundable_orders"

    order_id: Mapped[str] = mapped_column(ExternalId, primary_key=True)
    buyer_id: Mapped[str | None] = mapped_column(ExternalId, index=True)
    guest_email: Mapped[str | None] = mapped_column(sa.String(254))
    currency: Mapped[str] = mapped_column(sa.String(3))
    tax_cents: Mapped[int] = mapped_column(sa.BigInteger)
    shipping_cents: Mapped[int] = mapped_column(sa.BigInteger)
    total_cents: Mapped[int] = mapped_column(sa.BigInteger)
    is_free: Mapped[bool] = mapped_column(sa.Boolean)
    # What Stripe has returned so far on the payment (payment.refunded), whatever path caused it.
    refunded_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    paid_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class PaidLine(Base):
    __tablename__ = "refundable_lines"

    line_id: Mapped[str] = mapped_column(ExternalId, primary_key=True)
    order_id: Mapped[str] = mapped_column(ExternalId, sa.ForeignKey("refundable_orders.order_id"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    product_id: Mapped[str] = mapped_column(ExternalId)
    seller_id: Mapped[str] = mapped_column(ExternalId, index=True)
    title: Mapped[str] = mapped_column(sa.String(300))
    is_digital: Mapped[bool] = mapped_column(sa.Boolean)
    requires_shipping: Mapped[bool] = mapped_column(sa.Boolean)
    gross_cents: Mapped[int] = mapped_column(sa.BigInteger)
    net_cents: Mapped[int] = mapped_column(sa.BigInteger)


class RefundRequest(Base):
    __tablename__ = "refund_requests"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    order_id: Mapped[str] = mapped_column(ExternalId, index=True)
    line_id: Mapped[str] = mapped_column(ExternalId, unique=True)  # R1: at most one request per line
    product_id: Mapped[str] = mapped_column(ExternalId)
    seller_id: Mapped[str] = mapped_column(ExternalId, index=True)
    buyer_id: Mapped[str | None] = mapped_column(ExternalId, index=True)
    guest_email: Mapped[str | None] = mapped_column(sa.String(254))
    # The guest's tokenized order link, made when the guest asked (R2, token verified by orders):
    # the lifecycle emails carry it. Never returned by the API.
    guest_link: Mapped[str | None] = mapped_column(sa.String(400))
    title: Mapped[str] = mapped_column(sa.String(300))
    reason: Mapped[str] = mapped_column(sa.String(32))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    line_gross_cents: Mapped[int] = mapped_column(sa.BigInteger)
    tax_share_cents: Mapped[int] = mapped_column(sa.BigInteger)
    shipping_share_cents: Mapped[int] = mapped_column(sa.BigInteger)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    decided_by: Mapped[str | None] = mapped_column(ExternalId)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    decision_note: Mapped[str | None] = mapped_column(sa.Text)
    refund_started_by: Mapped[str | None] = mapped_column(ExternalId)
    refund_started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    stripe_refund_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    refunded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    canceled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, index=True)


class RequestTransition(Base):
    """Every change of a request, with who and when (R3, R4): the request's audit trail."""

    __tablename__ = "refund_request_transitions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(sa.String(36), sa.ForeignKey("refund_requests.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(sa.String(16))
    to_status: Mapped[str] = mapped_column(sa.String(16))
    actor: Mapped[str] = mapped_column(sa.String(120))
    note: Mapped[str | None] = mapped_column(sa.Text)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

"""The orders service's tables. The messaging tables (outbox, inbox, dead letters) and the outgoing
mail table come from shared."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from homecraft_shared.db import Base, BigIntPK, UtcDateTime
from homecraft_shared.messaging import tables as messaging_tables
from homecraft_shared.outgoing_mail import OutgoingMail

__all__ = ["Base", "OutgoingMail", "messaging_tables"]

DEFAULT_PERCENT = Decimal("10.00")


def new_id() -> str:
    return str(uuid.uuid4())


class SiteConfig(Base):
    """S1: the one site configuration (row id 1)."""

    __tablename__ = "site_config"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marketplace_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), nullable=False)
    default_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    allowed_countries: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_by: Mapped[str | None] = mapped_column(String(64))


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    buyer_id: Mapped[str | None] = mapped_column(String(64))
    guest_email: Mapped[str | None] = mapped_column(String(254))
    # O1: a random secret (256 bits, url-safe); compared in constant time.
    access_token: Mapped[str | None] = mapped_column(String(64))
    # Idempotent placement: hash of (requester, client request key), unique.
    placement_key: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    subtotal_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    tax_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    shipping_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    total_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    marketplace_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), nullable=False)
    payment_method: Mapped[str | None] = mapped_column(String(16))
    stripe_session_id: Mapped[str | None] = mapped_column(String(255))
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255))
    shipping: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    refunded_cents: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    canceled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    refunded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Reconciliation (A1), stored so the operator's list is an index lookup, not a scan per request.
    has_shipping: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    has_digital: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    flag_totals_mismatch: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    flag_ledger_mismatch: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    flag_missing_stripe_ids: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    flag_no_transfer: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    flag_skipped_unready: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    payout_state: Mapped[str] = mapped_column(String(16), nullable=False, default="unpaid")

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.position", lazy="selectin", cascade="all, delete-orphan")

    __table_args__ = (
        Index("ix_orders_buyer_created", "buyer_id", "created_at"),
        Index("ix_orders_status_created", "status", "created_at"),
        Index("ix_orders_created", "created_at"),
        Index("ix_orders_payout_state_created", "payout_state", "created_at"),
        Index("ix_orders_paid_at", "paid_at"),
        # A1 filters: each flag (rarely true) with the list's order, so a flagged page is an index range.
        Index("ix_orders_flag_totals", "flag_totals_mismatch", "created_at"),
        Index("ix_orders_flag_ledger", "flag_ledger_mismatch", "created_at"),
        Index("ix_orders_flag_stripe_ids", "flag_missing_stripe_ids", "created_at"),
        Index("ix_orders_flag_no_transfer", "flag_no_transfer", "created_at"),
        Index("ix_orders_flag_unready", "flag_skipped_unready", "created_at"),
    )

    @property
    def is_guest(self) -> bool:
        return self.buyer_id is None


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    product_id: Mapped[str] = mapped_column(String(64), nullable=False)
    seller_id: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    is_digital: Mapped[bool] = mapped_column(Boolean, nullable=False)
    requires_shipping: Mapped[bool] = mapped_column(Boolean, nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    gross_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    fee_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    net_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    # Set when a refund names this line or the order is refunded/charged back: downloads end (O6).
    refunded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    order: Mapped[Order] = relationship(back_populates="lines")

    __table_args__ = (
        Index("ix_order_lines_order", "order_id", "position"),
        Index("ix_order_lines_seller", "seller_id", "order_id"),
    )


class OrderEvent(Base):
    """O4: the timeline, append-only; the operator's audit trail."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False, default="")
    actor: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index("ix_order_events_order", "order_id", "id"),)


class SellerPayout(Base):
    """A2: what payments did for one seller on one order (payout.transfer_created / payout.skipped)."""

    __tablename__ = "seller_payouts"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    seller_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    transferred: Mapped[bool] = mapped_column(Boolean, nullable=False)
    transfer_id: Mapped[str | None] = mapped_column(String(255))
    amount_cents: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    skip_reason: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text, nullable=False, default="")
    seller_net_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    balance_before_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)


class SellerDebit(Base):
    """A2 "debits since": refund and chargeback debits per line, once per Stripe object (P7, P8)."""

    __tablename__ = "seller_debits"

    source_id: Mapped[str] = mapped_column(String(255), primary_key=True)  # re_... or dp_...
    line_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    seller_id: Mapped[str] = mapped_column(String(64), nullable=False)
    debit_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index("ix_seller_debits_order", "order_id"),)


class ObservedRefund(Base):
    """Each Stripe refund counted once into the order's refunded total (P7)."""

    __tablename__ = "observed_refunds"

    refund_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    status: Mapped[str] = mapped_column(String(24), nullable=False)
    amount_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    observed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)

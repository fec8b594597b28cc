"""The payments service's tables. The messaging tables (outbox, inbox, dead letters) come from shared.

- Connect: ``seller_accounts`` (P1, P2).
- The Stripe event store: ``stripe_events`` (P4, A4), one row per Stripe event id.
- What it knows of orders: ``paid_orders`` / ``paid_order_lines`` (the ``order.paid`` projection)
  and ``checkouts`` (checkout sessions created and completed, P3).
- The seller ledger (P6): ``ledger_movements`` (one per fact, unique key), ``ledger_entries``
  (append-only, unique key) and ``seller_balances`` (the running sum, locked while paying out).
- Stripe objects as seen: ``payouts`` (one per order and seller, P5), ``stripe_refunds`` (P7),
  ``disputes`` (P8).
- Operations: ``operator_actions`` (who, when, what; A3, P9), ``ledger_adjustments`` (the operator's
  signed corrections, P6), ``reconciliation_runs``.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from homecraft_shared.db import Base, BigIntPK, UtcDateTime, utcnow
from homecraft_shared.messaging import tables as messaging_tables

__all__ = ["Base", "messaging_tables"]

Cents = sa.BigInteger


class SellerAccount(Base):
    __tablename__ = "seller_accounts"

    seller_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    stripe_account_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(320))
    details_submitted: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    charges_enabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    payouts_enabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # P2, stored so the published readiness and the one payouts use are the same fact.
    ready: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    onboarding_started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    onboarding_completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # The time of the newest Stripe fact applied; older account.updated events are ignored.
    stripe_as_of: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class StripeEvent(Base):
    """A verified Stripe webhook event, stored by its id before anything is done with it (P4)."""

    __tablename__ = "stripe_events"
    __table_args__ = (
        sa.Index("ix_stripe_events_received", "received_at"),
        sa.Index("ix_stripe_events_waiting", "waiting_for_order"),
    )

    event_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(100), index=True)
    endpoint: Mapped[str] = mapped_column(sa.String(16))  # platform | connect
    account: Mapped[str | None] = mapped_column(sa.String(255))
    livemode: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    stripe_created: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    payload: Mapped[str] = mapped_column(sa.Text)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # received -> processed | ignored | waiting (an order not projected yet)
    status: Mapped[str] = mapped_column(sa.String(16), default="received")
    outcome: Mapped[str] = mapped_column(sa.Text, default="")
    waiting_for_order: Mapped[str | None] = mapped_column(sa.String(64))
    processed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class PaidOrder(Base):
    """The ``order.paid`` projection: the money snapshot payouts, refunds and disputes work from."""

    __tablename__ = "paid_orders"

    order_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    buyer_id: Mapped[str | None] = mapped_column(sa.String(64))
    currency: Mapped[str] = mapped_column(sa.String(3))
    subtotal_cents: Mapped[int] = mapped_column(Cents)
    tax_cents: Mapped[int] = mapped_column(Cents)
    shipping_cents: Mapped[int] = mapped_column(Cents)
    total_cents: Mapped[int] = mapped_column(Cents)
    marketplace_percent: Mapped[str] = mapped_column(sa.String(8))
    payment_method: Mapped[str] = mapped_column(sa.String(16))
    checkout_session_id: Mapped[str | None] = mapped_column(sa.String(255))
    payment_intent_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    charge_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    paid_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    projected_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # refund | chargeback once Stripe says the whole payment went back
    refunded_cause: Mapped[str | None] = mapped_column(sa.String(16))


class PaidOrderLine(Base):
    __tablename__ = "paid_order_lines"
    __table_args__ = (sa.Index("ix_paid_order_lines_seller", "seller_id", "order_id"),)

    line_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("paid_orders.order_id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    seller_id: Mapped[str] = mapped_column(sa.String(64))
    product_id: Mapped[str] = mapped_column(sa.String(64))
    title: Mapped[str] = mapped_column(sa.String(300))
    quantity: Mapped[int] = mapped_column(sa.Integer)
    gross_cents: Mapped[int] = mapped_column(Cents)
    fee_cents: Mapped[int] = mapped_column(Cents)
    net_cents: Mapped[int] = mapped_column(Cents)


class Checkout(Base):
    """A Checkout Session created for an order (P3) and, once Stripe says so, its completion."""

    __tablename__ = "checkouts"

    order_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    checkout_session_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255))
    url: Mapped[str | None] = mapped_column(sa.Text)
    amount_total_cents: Mapped[int] = mapped_column(Cents, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3), default="usd")
    payment_intent_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    charge_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class LedgerMovement(Base):
    """One fact's effect on the ledger (a order's sales, a transfer, a Stripe refund, a lost dispute).

    The primary key is the fact's key, so the same fact never moves the ledger twice.
    """

    __tablename__ = "ledger_movements"

    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    order_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    stripe_object_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    total_cents: Mapped[int] = mapped_column(Cents)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class LedgerEntry(Base):
    """P6: append-only signed entries; never updated, never deleted."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        sa.Index("ix_ledger_entries_seller_id", "seller_id", "id"),
        sa.Index("ix_ledger_entries_seller_reason", "seller_id", "reason", "id"),
        sa.CheckConstraint(
            "(reason = 'sale' AND amount_cents > 0) OR (reason IN ('payout', 'refund', 'chargeback') "
            "AND amount_cents < 0) OR (reason = 'adjustment' AND amount_cents <> 0)",
            name="sign_follows_reason",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    movement_key: Mapped[str] = mapped_column(sa.ForeignKey("ledger_movements.key"), index=True)
    seller_id: Mapped[str] = mapped_column(sa.String(64))
    amount_cents: Mapped[int] = mapped_column(Cents)
    reason: Mapped[str] = mapped_column(sa.String(16))
    order_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    line_id: Mapped[str | None] = mapped_column(sa.String(64))
    stripe_object_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class SellerBalance(Base):
    """Σ of a seller's entries, kept in the same transaction as the entries; the row is locked while
    a payout is decided so two payouts never spend the same balance."""

    __tablename__ = "seller_balances"

    seller_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    balance_cents: Mapped[int] = mapped_column(Cents, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Payout(Base):
    """P5: the payout decision per order and seller, once (primary key); a skipped one may be retried (P9)."""

    __tablename__ = "payouts"
    __table_args__ = (sa.Index("ix_payouts_seller", "seller_id", "created_at"),)

    order_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    seller_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16))  # pending (transfer planned) | transferred | skipped
    skip_reason: Mapped[str | None] = mapped_column(sa.String(32))
    net_cents: Mapped[int] = mapped_column(Cents)
    balance_before_cents: Mapped[int] = mapped_column(Cents)
    amount_cents: Mapped[int] = mapped_column(Cents, default=0)
    transfer_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    source_charge_id: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    transferred_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=1)
    # When the pending attempt was first asked of Stripe (decision 0316): a later try looks for it first.
    transfer_asked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class StripeRefund(Base):
    """A Stripe refund as last seen (P7); ``refund_request_id`` makes refund execution idempotent."""

    __tablename__ = "stripe_refunds"

    refund_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    payment_intent_id: Mapped[str | None] = mapped_column(sa.String(255))
    charge_id: Mapped[str | None] = mapped_column(sa.String(255))
    amount_cents: Mapped[int] = mapped_column(Cents)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(24))
    line_ids: Mapped[str] = mapped_column(sa.Text, default="")  # comma-separated
    refund_request_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    published_status: Mapped[str | None] = mapped_column(sa.String(24))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Dispute(Base):
    __tablename__ = "disputes"

    dispute_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    charge_id: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[str] = mapped_column(sa.String(32))
    reason: Mapped[str] = mapped_column(sa.String(64), default="")
    amount_cents: Mapped[int] = mapped_column(Cents)
    currency: Mapped[str] = mapped_column(sa.String(3))
    stripe_as_of: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class LedgerAdjustment(Base):
    """An operator's signed adjustment of a seller's balance (P6's Σ adjustments): append-only, once per
    client key (its ledger movement is ``adjustment:<client_key>``), with who made it and when."""

    __tablename__ = "ledger_adjustments"
    __table_args__ = (sa.Index("ix_ledger_adjustments_seller", "seller_id", "id"),
                      sa.CheckConstraint("amount_cents <> 0", name="adjustment_not_zero"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    client_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    seller_id: Mapped[str] = mapped_column(sa.String(64))
    amount_cents: Mapped[int] = mapped_column(Cents)
    reason: Mapped[str] = mapped_column(sa.Text)
    movement_key: Mapped[str] = mapped_column(sa.ForeignKey("ledger_movements.key"), unique=True)
    actor_id: Mapped[str] = mapped_column(sa.String(64))
    actor_name: Mapped[str] = mapped_column(sa.String(150))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class OperatorAction(Base):
    """Every operator action (A3, P9): who, when, what."""

    __tablename__ = "operator_actions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    actor_id: Mapped[str] = mapped_column(sa.String(64))
    actor_name: Mapped[str] = mapped_column(sa.String(150))
    action: Mapped[str] = mapped_column(sa.String(64))
    target: Mapped[str] = mapped_column(sa.String(255))
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ReconciliationRun(Base):
    __tablename__ = "reconciliation_runs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    trigger: Mapped[str] = mapped_column(sa.String(16), default="operator", server_default="operator")  # | schedule
    runner: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    clean: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    differences: Mapped[str] = mapped_column(sa.Text, default="[]")  # JSON list
    error: Mapped[str | None] = mapped_column(sa.Text)


class JobLease(Base):
    """One runner at a time across replicas (decision 0305): a named lease with its holder and expiry.
    Taken with one conditional UPDATE (or the first INSERT), so two replicas never both hold it; a
    crashed holder's lease simply expires."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(200))
    acquired_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

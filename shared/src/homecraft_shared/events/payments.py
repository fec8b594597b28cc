"""Events the payments service produces.

Conventions for every payments fact: ids are strings (Stripe ids as Stripe spells them; our ids as
strings), amounts are integer cents, ``currency`` is the lower-case ISO code, and ``observed_at`` is
the time of the Stripe object or event the fact was read from, so a consumer can ignore a fact older
than what it already knows (facts may arrive late or out of order).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from homecraft_shared.messaging.contracts import EventData, event_contract

Cents = int
CURRENCY_PATTERN = r"^[a-z]{3}$"


@event_contract("seller.payout_readiness_changed", 1, producer="payments",
                description="A seller's Stripe Connect payout readiness (P2) changed.")
class SellerPayoutReadinessChangedV1(EventData):
    seller_id: str
    ready: bool
    stripe_account_id: str | None = None
    changed_at: dt.datetime


class ShippingDetails(EventData):
    """A shipping address as collected by Stripe Checkout (P3); every part may be empty."""

    name: str = ""
    phone: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = Field(default="", description="ISO 3166-1 alpha-2, upper case, or empty.")


@event_contract("payment.checkout_session_created", 1, producer="payments",
                description="A Stripe Checkout Session was created for an order (P3): the buyer is being sent to "
                            "Stripe's hosted page. Once per session; a retried request for the same session "
                            "publishes nothing new.")
class PaymentCheckoutSessionCreatedV1(EventData):
    order_id: str
    checkout_session_id: str = Field(description="Stripe Checkout Session id (cs_...).")
    amount_total_cents: Cents = Field(ge=0, description="What the session asks the buyer to pay, in cents.")
    currency: str = Field(pattern=CURRENCY_PATTERN)
    created_at: dt.datetime = Field(description="When Stripe created the session.")


@event_contract("payment.checkout_completed", 1, producer="payments",
                description="Stripe reported a completed, paid Checkout Session for an order (P4 "
                            "checkout.session.completed). May arrive more than once and out of order.")
class PaymentCheckoutCompletedV1(EventData):
    order_id: str
    checkout_session_id: str = Field(description="Stripe Checkout Session id (cs_...).")
    payment_intent_id: str = Field(description="Stripe PaymentIntent id (pi_...).")
    charge_id: str | None = Field(default=None, description="The payment's Stripe Charge (ch_...), when known.")
    amount_total_cents: Cents = Field(ge=0, description="What Stripe charged, in cents.")
    currency: str = Field(pattern=CURRENCY_PATTERN)
    customer_email: str | None = Field(default=None, description="The email the buyer gave Stripe.")
    shipping: ShippingDetails | None = Field(default=None, description="Only when a line requires shipping.")
    stripe_event_id: str = Field(description="The Stripe event this fact came from (evt_...).")
    completed_at: dt.datetime = Field(description="When Stripe completed the session.")


class _PayoutFact(EventData):
    order_id: str
    seller_id: str
    currency: str = Field(pattern=CURRENCY_PATTERN)
    seller_net_cents: Cents = Field(ge=0, description="The seller's net on this order (Σ of their lines' net, O2).")
    balance_before_cents: Cents = Field(
        description="The seller's ledger balance after this order's SALE entry and before any payout (P5, A2); "
                    "may be negative.")


@event_contract("payout.transfer_created", 1, producer="payments",
                description="A Stripe Transfer paid a seller for an order (P5); once per order and seller.")
class PayoutTransferCreatedV1(_PayoutFact):
    transfer_id: str = Field(description="Stripe Transfer id (tr_...).")
    amount_cents: Cents = Field(gt=0, description="The payout; at most the balance and what the charge can still fund.")
    source_charge_id: str | None = Field(default=None, description="The charge the transfer draws on.")
    created_at: dt.datetime


PayoutSkipReason = Literal["seller_not_ready", "balance_not_positive", "charge_exhausted", "transfer_failed"]


@event_contract("payout.skipped", 1, producer="payments",
                description="No transfer was made to a seller for an order (P5): why, and where the earnings wait.")
class PayoutSkippedV1(_PayoutFact):
    reason: PayoutSkipReason = Field(
        description="seller_not_ready: not payout-ready (P2), earnings wait in the balance; balance_not_positive: "
                    "payout would be <= 0; charge_exhausted: the charge can fund nothing more; transfer_failed: "
                    "Stripe refused the transfer.")
    message: str = Field(description="A sentence for the order timeline (O4).")
    skipped_at: dt.datetime


class LineDebit(EventData):
    """What the seller ledger was debited for one order line by a refund or chargeback (P7, P8)."""

    line_id: str
    seller_id: str
    debit_cents: Cents = Field(ge=0)


RefundStatus = Literal["pending", "requires_action", "succeeded", "failed", "canceled"]


@event_contract("payment.refunded", 1, producer="payments",
                description="A Stripe refund on an order's payment was observed (P4 charge.refunded / refund.created / "
                            "refund.updated), with the seller debits it caused (P7). Once per refund id and status.")
class PaymentRefundedV1(EventData):
    order_id: str
    refund_id: str = Field(description="Stripe Refund id (re_...).")
    payment_intent_id: str
    charge_id: str | None = None
    status: RefundStatus
    amount_cents: Cents = Field(ge=0, description="This refund's amount.")
    currency: str = Field(pattern=CURRENCY_PATTERN)
    line_ids: list[str] = Field(
        default_factory=list,
        description="The order lines this refund is for (from its metadata, R5); empty: not tied to lines "
                    "(e.g. made in the Stripe dashboard) and allocated over the lines by net (P7).")
    refund_request_id: str | None = Field(default=None, description="The refund request (refunds service), if any.")
    debits: list[LineDebit] = Field(default_factory=list, description="Ledger debits this refund caused (P7); "
                                                                      "empty unless status is succeeded.")
    refunded_total_cents: Cents = Field(ge=0, description="All succeeded refunds on the payment so far, this one included.")
    charged_total_cents: Cents = Field(ge=0, description="What the payment charged.")
    fully_refunded: bool = Field(description="refunded_total_cents >= charged_total_cents: the order is refunded.")
    observed_at: dt.datetime


DisputeStatus = Literal["warning_needs_response", "warning_under_review", "warning_closed",
                        "needs_response", "under_review", "won", "lost"]


@event_contract("payment.dispute_updated", 1, producer="payments",
                description="A Stripe dispute on an order's charge was created, updated or closed (P8); "
                            "a lost dispute carries the chargeback debits.")
class PaymentDisputeUpdatedV1(EventData):
    order_id: str
    dispute_id: str = Field(description="Stripe Dispute id (dp_...).")
    charge_id: str
    payment_intent_id: str | None = None
    phase: Literal["created", "updated", "closed"]
    status: DisputeStatus
    reason: str = Field(description="Stripe's dispute reason, e.g. fraudulent.")
    amount_cents: Cents = Field(ge=0)
    currency: str = Field(pattern=CURRENCY_PATTERN)
    chargeback_debits: list[LineDebit] = Field(
        default_factory=list, description="Ledger debits when closed as lost (P8): what was left of each line's net.")
    observed_at: dt.datetime


@event_contract("stripe.event_received", 1, producer="payments", held_in_memory=True,
                description="Internal to payments: a verified Stripe webhook event was stored (P4); its processing "
                            "runs from the store through the consumer (inbox, retries, dead letters). Held in "
                            "memory by NATS: the stored event is the durable record, and its fact is sent again "
                            "when it was not processed in time (decision 0327).")
class StripeEventReceivedV1(EventData):
    stripe_event_id: str = Field(description="Stripe event id (evt_...), the key of the stored event.")
    type: str = Field(description="Stripe event type, e.g. checkout.session.completed.")
    endpoint: Literal["platform", "connect"]
    received_at: dt.datetime

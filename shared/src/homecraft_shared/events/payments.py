"""Events the payments service produces."""

from __future__ import annotations

import datetime as dt

from homecraft_shared.messaging.contracts import EventData, event_contract


@event_contract("seller.payout_readiness_changed", 1, producer="payments",
                description="A seller's Stripe Connect payout readiness (P2) changed.")
class SellerPayoutReadinessChangedV1(EventData):
    seller_id: str
    ready: bool
    stripe_account_id: str | None = None
    changed_at: dt.datetime

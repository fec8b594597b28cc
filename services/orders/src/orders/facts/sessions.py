"""``payment.checkout_session_created`` into the order's timeline (O4: "stripe_session_created").

Once per Checkout Session: the inbox applies each event once, and a second event about the same
session (the same fact reported again) finds the entry already there. A session for an order that is
no longer pending (paid through another session, canceled) is still recorded: the timeline is the
operator's audit trail of what happened, and a late session is exactly what they need to see.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.events.payments import PaymentCheckoutSessionCreatedV1
from homecraft_shared.money import format_cents
from orders import lifecycle
from orders.domain import EventType
from orders.models import OrderEvent
from orders.placing import repository

logger = logging.getLogger(__name__)


def message_of(data: PaymentCheckoutSessionCreatedV1) -> str:
    return (f"Stripe Checkout Session {data.checkout_session_id} created for "
            f"{format_cents(data.amount_total_cents, data.currency)}")


async def session_created(session: AsyncSession, data: PaymentCheckoutSessionCreatedV1) -> bool:
    """True when the entry was appended now; False for an unknown order or a session already recorded."""
    order = await repository.by_id(session, data.order_id, for_update=True)
    if order is None:
        logger.warning("payments fact about an unknown order; skipped",
                       extra={"order_id": data.order_id, "fact": "checkout_session_created"})
        return False
    message = message_of(data)
    known = await session.scalar(select(OrderEvent.id).where(
        OrderEvent.order_id == order.id, OrderEvent.type == EventType.STRIPE_SESSION_CREATED.value,
        OrderEvent.message == message).limit(1))
    if known is not None:
        return False
    lifecycle.append(session, order, EventType.STRIPE_SESSION_CREATED, message, actor="payments")
    return True

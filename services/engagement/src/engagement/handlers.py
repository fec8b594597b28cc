"""Every event the engagement service consumes, registered in one place.

Each handler runs in the consumer's transaction (with the inbox row), so an event's effect happens
once; the projections also ignore facts older than the one stored.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from engagement.projections import service as projections
from homecraft_shared.events.catalog import ProductPublishedV1, ProductUnlistedV1, ProductUpdatedV1
from homecraft_shared.events.orders import OrderPaidV1, OrderRefundedV1
from homecraft_shared.events.payments import PaymentRefundedV1
from homecraft_shared.messaging.consumer import HandlerRegistry
from homecraft_shared.messaging.envelope import EventEnvelope

handlers = HandlerRegistry(consumer_name="engagement")

SNAPSHOT_FIELDS = ("product_id", "seller_id", "kind", "category_id", "title")


@handlers.on(ProductPublishedV1, reads=(*SNAPSHOT_FIELDS, "published_at"))
async def on_product_published(session: AsyncSession, data: ProductPublishedV1, _: EventEnvelope) -> None:
    await projections.apply_published(session, data)


@handlers.on(ProductUpdatedV1, reads=(*SNAPSHOT_FIELDS, "is_active", "updated_at"))
async def on_product_updated(session: AsyncSession, data: ProductUpdatedV1, _: EventEnvelope) -> None:
    await projections.apply_updated(session, data)


@handlers.on(ProductUnlistedV1, reads=("product_id", "seller_id", "unlisted_at"))
async def on_product_unlisted(session: AsyncSession, data: ProductUnlistedV1, _: EventEnvelope) -> None:
    await projections.apply_unlisted(session, data)


@handlers.on(OrderPaidV1, reads=("order_id", "buyer_id", "paid_at", "lines.line_id", "lines.product_id",
                                 "lines.seller_id", "lines.quantity", "lines.gross_cents"))
async def on_order_paid(session: AsyncSession, data: OrderPaidV1, _: EventEnvelope) -> None:
    await projections.apply_order_paid(session, data)


@handlers.on(OrderRefundedV1, reads=("order_id", "refunded_at"))
async def on_order_refunded(session: AsyncSession, data: OrderRefundedV1, _: EventEnvelope) -> None:
    await projections.apply_order_refunded(session, data)


@handlers.on(PaymentRefundedV1, reads=("order_id", "status", "line_ids", "fully_refunded", "observed_at"))
async def on_payment_refunded(session: AsyncSession, data: PaymentRefundedV1, _: EventEnvelope) -> None:
    await projections.apply_payment_refunded(session, data)

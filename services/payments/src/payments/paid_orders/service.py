"""Projects ``order.paid`` (idempotent: the first fact for an order wins; the snapshot never changes)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.events.orders import OrderPaidV1
from payments.ledger import domain
from payments.models import PaidOrder, PaidOrderLine
from payments.paid_orders import repository


async def project(session: AsyncSession, data: OrderPaidV1) -> PaidOrder | None:
    """Store the order's money snapshot; None when it was already there."""
    if await repository.get(session, data.order_id) is not None:
        return None
    domain.check_lines([domain.Line(x.line_id, x.seller_id, x.gross_cents, x.fee_cents, x.net_cents) for x in data.lines])
    order = PaidOrder(
        order_id=data.order_id, buyer_id=data.buyer_id, currency=data.currency, subtotal_cents=data.subtotal_cents,
        tax_cents=data.tax_cents, shipping_cents=data.shipping_cents, total_cents=data.total_cents,
        marketplace_percent=str(data.marketplace_percent), payment_method=data.payment_method,
        checkout_session_id=data.checkout_session_id, payment_intent_id=data.payment_intent_id,
        charge_id=data.charge_id, paid_at=data.paid_at,
    )
    session.add(order)
    await session.flush()
    for position, line in enumerate(data.lines):
        session.add(PaidOrderLine(
            line_id=line.line_id, order_id=data.order_id, position=position, seller_id=line.seller_id,
            product_id=line.product_id, title=line.title[:300], quantity=line.quantity, gross_cents=line.gross_cents,
            fee_cents=line.fee_cents, net_cents=line.net_cents))
    return order

"""The ``order.paid`` projection: what payments knows of an order's money."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from payments.ledger.domain import Line
from payments.models import PaidOrder, PaidOrderLine


async def get(session: AsyncSession, order_id: str) -> PaidOrder | None:
    return await session.get(PaidOrder, order_id)


async def by_payment(session: AsyncSession, *, payment_intent_id: str | None, charge_id: str | None) -> PaidOrder | None:
    for column, value in ((PaidOrder.payment_intent_id, payment_intent_id), (PaidOrder.charge_id, charge_id)):
        if value:
            found = await session.scalar(select(PaidOrder).where(column == value))
            if found is not None:
                return found
    return None


async def lines(session: AsyncSession, order_id: str) -> list[PaidOrderLine]:
    return list((await session.scalars(
        select(PaidOrderLine).where(PaidOrderLine.order_id == order_id).order_by(PaidOrderLine.position))).all())


_DOMAIN_LINES = (select(PaidOrderLine.line_id, PaidOrderLine.seller_id, PaidOrderLine.gross_cents,
                         PaidOrderLine.fee_cents, PaidOrderLine.net_cents)
                 .where(PaidOrderLine.order_id == bindparam("order_id")).order_by(PaidOrderLine.position))


async def domain_lines(session: AsyncSession, order_id: str) -> list[Line]:
    """The order's lines as the ledger's rules see them (columns only, one statement built once: 0306)."""
    rows = await session.execute(_DOMAIN_LINES, {"order_id": order_id})
    return [Line(line_id, seller_id, gross, fee, net) for line_id, seller_id, gross, fee, net in rows.all()]


async def seller_orders(session: AsyncSession, seller_id: str, *, offset: int, limit: int) -> list[str]:
    rows = await session.execute(
        select(PaidOrder.order_id).join(PaidOrderLine, PaidOrderLine.order_id == PaidOrder.order_id)
        .where(PaidOrderLine.seller_id == seller_id).group_by(PaidOrder.order_id, PaidOrder.paid_at)
        .order_by(PaidOrder.paid_at.desc()).offset(offset).limit(limit))
    return [order_id for (order_id,) in rows.all()]


async def find(session: AsyncSession, *, order_id: str | None, payment_intent_id: str | None,
               charge_id: str | None) -> PaidOrder | None:
    """The paid order a Stripe object is about: by our order id (metadata), else by its payment."""
    if order_id:
        found = await get(session, order_id)
        if found is not None:
            return found
    return await by_payment(session, payment_intent_id=payment_intent_id, charge_id=charge_id)


def wait_key(*, order_id: str | None, payment_intent_id: str | None, charge_id: str | None) -> str | None:
    """What an event about a not-yet-projected order waits for (matched again on order.paid)."""
    return order_id or payment_intent_id or charge_id

"""Refund execution for the refunds service (R3, R4): the Stripe refund of an approved request,
idempotent per request (a unique request id here, and Stripe's idempotency key), reported back as
``payment.refunded`` (with the request id) and debited into the ledger once (P7) -- the webhook that
reports the same refund later finds the movement already recorded."""

from __future__ import annotations

import stripe as stripe_lib
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.db import utcnow
from homecraft_shared.errors import Conflict, NotFound
from homecraft_shared.identity import Identity
from payments.deps import deps
from payments.models import StripeRefund
from payments.paid_orders import repository as orders
from payments.payouts.service import is_free
from payments.refunds import observed, policy
from payments.refunds.schemas import RefundExecute, RefundOut
from payments.stripe_gateway import idempotency


async def execute(session: AsyncSession, identity: Identity, body: RefundExecute) -> tuple[RefundOut, bool]:
    """(the refund, created now?)."""
    order = await orders.get(session, body.order_id)
    if order is None:
        raise NotFound(f"No paid order {body.order_id}.")
    lines = {line.line_id: line for line in await orders.lines(session, order.order_id)}
    unknown = [line_id for line_id in body.line_ids if line_id not in lines]
    if unknown:
        raise NotFound(f"Order {order.order_id} has no lines {', '.join(unknown)}.")
    # who may is asked before anything about an earlier execution is told
    policy.ensure_may_refund(identity, [lines[x].seller_id for x in body.line_ids])
    existing = await session.scalar(select(StripeRefund).where(StripeRefund.refund_request_id == body.refund_request_id))
    if existing is not None:
        if existing.order_id != body.order_id or existing.line_ids != ",".join(body.line_ids) \
                or existing.amount_cents != body.amount_cents:
            raise Conflict(f"Refund request {body.refund_request_id} was already executed for another order, lines "
                           "or amount; a request is refunded once.")
        return RefundOut.of(existing), False
    if is_free(order) or not order.payment_intent_id:
        raise Conflict("A free order cannot be refunded through Stripe (R3).")
    try:
        refund = await deps(session).stripe.v1.refunds.create_async({
            "payment_intent": order.payment_intent_id, "amount": body.amount_cents, "reason": "requested_by_customer",
            "metadata": {"order_id": order.order_id, "line_ids": ",".join(body.line_ids),
                         "refund_request_id": body.refund_request_id},
        }, idempotency(f"refund-request:{body.refund_request_id}:v1"))
    except stripe_lib.InvalidRequestError as exc:
        raise Conflict(f"Stripe refused the refund: {exc.user_message or exc}") from exc
    try:
        await observed.apply(session, order, refund_id=refund.id, status=refund.status, amount_cents=refund.amount,
                             currency=refund.currency, payment_intent_id=order.payment_intent_id,
                             charge_id=order.charge_id, line_ids=list(body.line_ids),
                             refund_request_id=body.refund_request_id, observed_at=utcnow())
    except IntegrityError:
        # Stripe's webhook for this very refund (its metadata names the request) was recorded first, by the
        # consumer, while this request waited for Stripe: it moved the ledger once and told the others (P7).
        # Nothing else was written here, so the whole transaction is dropped. (PostgreSQL does not get here:
        # the order's row lock makes this request wait and then see the refund's row.)
        await session.rollback()
        return RefundOut(refund_id=refund.id, refund_request_id=body.refund_request_id, order_id=body.order_id,
                         amount_cents=refund.amount, currency=refund.currency, status=refund.status,
                         line_ids=list(body.line_ids), created_at=utcnow()), True
    row = await session.get(StripeRefund, refund.id)
    assert row is not None
    return RefundOut.of(row), True

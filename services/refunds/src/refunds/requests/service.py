"""Refund requests: creation with the exact allocation (R1, R2), decisions (R3), cancellation,
refunds through payments (R3, R4), and the fact of the refund coming back (R5). Never commits."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from homecraft_shared.db import utcnow
from homecraft_shared.errors import Conflict, Forbidden, Problem, ValidationFailed, invalid_field
from homecraft_shared.events.refunds import RefundProcessedV1
from homecraft_shared.identity import Identity
from homecraft_shared.inputs import Page
from homecraft_shared.messaging.outbox import record_event
from refunds import domain, emails
from refunds.clients import PeerServices
from refunds.domain import Status
from refunds.models import RefundRequest, RequestTransition
from refunds.ratelimits import RequestRateLimits
from refunds.requests import policy, repository
from refunds.requests.schemas import BulkRefundResult, RefundRequestIn, RefundRequestOut, RefundRequestPage
from refunds.settings import RefundsSettings


async def record(session: AsyncSession, request: RefundRequest, target: Status, actor: str, note: str | None = None,
                 *, at: dt.datetime | None = None) -> bool:
    """Move the request to ``target`` and append the transition (who, when), unless another transaction
    moved it first (then nothing is written and False is returned)."""
    if not await repository.move_status(session, request.id, Status(request.status), target):
        await session.refresh(request)
        return False
    session.add(RequestTransition(request_id=request.id, from_status=request.status, to_status=target, actor=actor,
                                  note=note, at=at or utcnow()))
    set_committed_value(request, "status", target)  # already written by the compare-and-set
    return True


def changed_meanwhile(request: RefundRequest) -> Conflict:
    return Conflict(f"This refund request changed while you were deciding (it is now {request.status}); "
                    "reload it and try again.")


async def out(session: AsyncSession, request: RefundRequest) -> RefundRequestOut:
    return RefundRequestOut.of(request, await repository.history(session, request.id))


async def create(session: AsyncSession, peers: PeerServices, limits: RequestRateLimits, settings: RefundsSettings,
                 identity: Identity | None, body: RefundRequestIn) -> RefundRequest:
    order = await repository.order(session, body.order_id)
    if order is None:
        raise policy.not_found_order(body.order_id)
    guest = False
    if identity is not None and (identity.user_id == order.buyer_id or identity.is_owner):
        pass  # R2: the registered buyer, or staff on their behalf
    elif order.buyer_id is None and body.guest_token:
        if not await peers.guest_token_opens(order.order_id, body.guest_token):
            raise policy.not_found_order(body.order_id)
        if not body.guest_email:
            raise invalid_field("guest_email", "Type the email address you used at checkout.")
        if not policy.emails_match(body.guest_email, order.guest_email or ""):
            raise invalid_field("guest_email", "This is not the email address used at checkout for this order.")
        guest = True
    else:
        raise policy.not_found_order(body.order_id)

    buyer_key = identity.user_id if identity is not None and not guest else f"guest:{order.guest_email}"
    await limits.hit(buyer_key, order.order_id)

    lines = list(await repository.order_lines(session, order.order_id))
    line = next((candidate for candidate in lines if candidate.line_id == body.line_id), None)
    if line is None:
        raise invalid_field("line_id", f"Order {order.order_id} has no line {body.line_id}.")
    if line.is_digital:
        raise ValidationFailed("Digital downloads cannot be refunded; only shipped prints can (R1).",
                               errors=[{"field": "line_id", "message": "This line is a digital download."}])
    if order.is_free:
        raise Conflict("This order was free: there is nothing to refund (R3).")
    if order.refunded_at is not None:
        raise Conflict("This order has been refunded already.")
    if await repository.request_of_line(session, line.line_id) is not None:
        raise Conflict("There is already a refund request for this line: one request per line (R1).")
    left = order.total_cents - order.refunded_cents - await repository.open_amount(session, order.order_id)
    amounts = domain.request_amounts(
        [domain.Line(x.line_id, x.gross_cents, x.requires_shipping, x.is_digital) for x in lines],
        line.line_id, order.tax_cents, order.shipping_cents, left)
    if amounts.total_cents <= 0:
        raise Conflict("Nothing is left to refund on this order's payment.")

    now = utcnow()
    request = RefundRequest(
        id=str(uuid.uuid4()), order_id=order.order_id, line_id=line.line_id, product_id=line.product_id,
        seller_id=line.seller_id, buyer_id=order.buyer_id, guest_email=order.guest_email,
        guest_link=f"{settings.public_base_url.rstrip('/')}/orders/{order.order_id}?t={body.guest_token}" if guest else None,
        title=line.title, reason=body.reason.value,
        note=body.note, status=Status.REQUESTED, currency=order.currency, line_gross_cents=amounts.line_gross_cents,
        tax_share_cents=amounts.tax_share_cents, shipping_share_cents=amounts.shipping_share_cents,
        amount_cents=amounts.total_cents, created_at=now,
    )
    session.add(request)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same line asked for concurrently
        raise Conflict("There is already a refund request for this line: one request per line (R1).") from exc
    session.add(RequestTransition(request_id=request.id, from_status=None, to_status=Status.REQUESTED,
                                  actor=policy.actor_of(None if guest else identity, order.guest_email),
                                  note=body.note or None, at=now))
    await emails.notify_seller(session, request, settings.escalate_after_days)
    return request


async def decide(session: AsyncSession, peers: PeerServices, identity: Identity | None,
                 request_id: str, approve: bool, note: str | None) -> RefundRequest:
    request = await policy.visible_request(session, peers, identity, request_id, None, for_update=True)
    decider = policy.ensure_may_decide(identity, request)
    target = Status.APPROVED if approve else Status.DECLINED
    domain.check_transition(Status(request.status), target)
    now = utcnow()
    if not await record(session, request, target, policy.actor_of(decider), note, at=now):
        raise changed_meanwhile(request)
    request.decided_by, request.decided_at, request.decision_note = decider.user_id, now, note
    await emails.notify_buyer(session, request, target.value)
    return request


async def cancel(session: AsyncSession, peers: PeerServices, identity: Identity | None, request_id: str,
                 guest_token: str | None) -> RefundRequest:
    request = await policy.visible_request(session, peers, identity, request_id, guest_token, for_update=True)
    guest = identity is None or (not policy.is_party(identity, request))
    policy.ensure_requester(identity, request, guest_verified=guest)
    domain.check_transition(Status(request.status), Status.CANCELED)
    now = utcnow()
    if not await record(session, request, Status.CANCELED,
                        policy.actor_of(None if guest else identity, request.guest_email), at=now):
        raise changed_meanwhile(request)
    request.canceled_at = now
    return request


async def refund(session: AsyncSession, peers: PeerServices, identity: Identity | None,
                 request_id: str) -> RefundRequest:
    """R3/R4: the Stripe refund of an approved request, through payments (idempotent per request)."""
    request = await policy.visible_request(session, peers, identity, request_id, None, for_update=True)
    actor = policy.ensure_may_decide(identity, request)
    domain.check_transition(Status(request.status), Status.REFUNDED)
    order = await repository.order(session, request.order_id)
    if order is None or order.is_free:
        raise Conflict("A free order cannot be refunded through Stripe (R3).")
    now = utcnow()
    request.refund_started_by, request.refund_started_at = actor.user_id, now
    result = await peers.create_stripe_refund(request_id=request.id, order_id=request.order_id,
                                              line_id=request.line_id, amount_cents=request.amount_cents)
    if result.get("status") == "succeeded":
        await mark_refunded(session, request.id, str(result["refund_id"]), now, actor=policy.actor_of(actor))
    else:
        request.stripe_refund_id = str(result["refund_id"])
    return request


async def mark_refunded(session: AsyncSession, request_id: str, refund_id: str, at: dt.datetime, *,
                        actor: str = "stripe") -> None:
    """The Stripe refund of a request succeeded (R5), seen by the refund call or by payments' event,
    whichever comes first; the second changes nothing. Publishes ``refund.processed`` once."""
    request = await repository.request(session, request_id, for_update=True)
    if request is None or request.status == Status.REFUNDED:
        return
    note = None if request.status == Status.APPROVED else f"refunded at Stripe while {request.status}"
    if not await record(session, request, Status.REFUNDED, actor, note, at=at):
        return  # the other path (the refund call or payments' event) recorded it first (R5: once)
    request.stripe_refund_id, request.refunded_at = refund_id, at
    record_event(session, RefundProcessedV1(
        request_id=request.id, order_id=request.order_id, line_id=request.line_id, product_id=request.product_id,
        seller_id=request.seller_id, buyer_id=request.buyer_id, currency=request.currency,
        line_gross_cents=request.line_gross_cents, tax_share_cents=request.tax_share_cents,
        shipping_share_cents=request.shipping_share_cents, amount_cents=request.amount_cents,
        stripe_refund_id=refund_id, processed_at=at,
    ), subject_id=request.order_id)
    await emails.notify_buyer(session, request, "refunded")


async def bulk_refund(session: AsyncSession, peers: PeerServices, identity: Identity,
                      request_ids: list[str]) -> list[BulkRefundResult]:
    """The operator's safety valve (R4): refund approved requests, each on its own (one failing does not stop the rest)."""
    results = []
    for request_id in dict.fromkeys(request_ids):
        try:
            async with session.begin_nested():
                request = await refund(session, peers, identity, request_id)
            results.append(BulkRefundResult(request_id=request_id, ok=True, status=request.status, detail=None))
        except Problem as exc:
            results.append(BulkRefundResult(request_id=request_id, ok=False, status=None, detail=exc.detail))
    return results


async def queue(session: AsyncSession, identity: Identity, view: str, status: Status | None, page: Page) -> RefundRequestPage:
    """R4 queues: ``buyer`` (own), ``seller`` (own lines; owners and staff all), ``staff`` (all, escalated first)."""
    if view == "buyer":
        rows, total = await repository.queue(session, buyer_id=identity.user_id, status=status, page=page)
    elif view == "seller":
        rows, total = await repository.queue(session, seller_id=None if identity.is_owner else identity.user_id,
                                             status=status, page=page)
    else:
        if not identity.is_owner:
            raise Forbidden("The staff queue is for owners and staff (R4).")
        rows, total = await repository.queue(session, status=status, escalated_first=True, page=page)
    return RefundRequestPage(items=[RefundRequestOut.of(row) for row in rows], page=page.page, page_size=page.page_size,
                             total=total)

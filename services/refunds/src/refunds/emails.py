"""Lifecycle emails (beyond the seed's silence): queued in the same transaction as the change, sent
by the shared mail worker with retries (decisions 0601, 0602).

- "requested" goes to the line's seller; approved, declined, refunded and escalated go to the buyer.
- A guest buyer is written to at the checkout address (carried by ``order.paid``), with the tokenized
  order link saved when the guest asked (R2).
- Registered users' addresses live with the gateway's accounts and are in no event: their emails
  are queued to the user id and the mail worker asks the gateway for the address when it sends
  (``homecraft_shared.outgoing_mail``), so nothing here waits on HTTP.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.outgoing_mail import queue_mail
from refunds.models import RefundRequest

_SUBJECTS = {
    "approved": "Your refund request was approved",
    "declined": "Your refund request was declined",
    "refunded": "Your refund was made",
    "escalated": "Your refund request was passed to our support team",
}

_BODIES = {
    "approved": "The seller approved your refund request for \"{title}\". The refund of {amount} follows shortly.",
    "declined": "The seller declined your refund request for \"{title}\".{note}",
    "refunded": "We refunded {amount} for \"{title}\" to your payment method. It can take 5-10 days to appear.",
    "escalated": "The seller has not answered your refund request for \"{title}\" in time, so our support team "
                 "will decide it.",
}

_SIGNED_IN_LINK = "sign in to Home Craft 3D and open My orders"


def _money(cents: int, currency: str) -> str:
    return f"{cents // 100}.{cents % 100:02d} {currency.upper()}"


async def notify_buyer(session: AsyncSession, request: RefundRequest, what: str) -> None:
    """Tell the buyer (guest or registered) about ``what`` happened to their request (once per request and kind)."""
    note = f"\n\nThe seller's note: {request.decision_note}" if request.decision_note else ""
    text = _BODIES[what].format(title=request.title, amount=_money(request.amount_cents, request.currency), note=note)
    dedupe_key = f"refund-{what}:{request.id}"
    if request.guest_email:
        link = request.guest_link or "the link in your order confirmation email"
        await queue_mail(session, dedupe_key=dedupe_key, to=request.guest_email, subject=_SUBJECTS[what],
                         body=f"{text}\n\nYour order and this request: {link}\n\nHome Craft 3D")
    elif request.buyer_id:
        await queue_mail(session, dedupe_key=dedupe_key, to_user=request.buyer_id, subject=_SUBJECTS[what],
                         body=f"{text}\n\nTo see your order and this request, {_SIGNED_IN_LINK}.\n\nHome Craft 3D")


async def notify_seller(session: AsyncSession, request: RefundRequest, decide_within_days: float) -> None:
    """Tell the line's seller a refund was requested (R3: the seller decides it)."""
    note = f"\n\nThe buyer's note: {request.note}" if request.note else ""
    body = (f"A buyer asked for a refund of \"{request.title}\" (order {request.order_id}), reason: "
            f"{request.reason.replace('_', ' ')}.{note}\n\nThe refund would be "
            f"{_money(request.amount_cents, request.currency)}: the line plus its share of the order's tax and "
            f"shipping.\n\nPlease approve or decline it within {decide_within_days:g} days in your refund "
            "requests; after that it goes to our support team.\n\nHome Craft 3D")
    await queue_mail(session, dedupe_key=f"refund-requested:{request.id}", to_user=request.seller_id,
                     subject=f"Refund requested: {request.title}"[:300], body=body)

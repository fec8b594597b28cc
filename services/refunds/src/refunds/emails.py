"""Lifecycle emails (beyond the seed's silence): queued in the same transaction as the change, sent
by the shared mail worker with retries. Only guests' addresses are known here (orders' ``order.paid``
carries the guest email; registered users' addresses stay with the gateway's accounts)."""

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


def _money(cents: int, currency: str) -> str:
    return f"{cents // 100}.{cents % 100:02d} {currency.upper()}"


async def notify_guest(session: AsyncSession, request: RefundRequest, what: str) -> None:
    """Email a guest buyer about ``what`` happened to their request (once per request and kind)."""
    if not request.guest_email:
        return
    note = f"\n\nThe seller's note: {request.decision_note}" if request.decision_note else ""
    link = request.guest_link or "the link in your order confirmation email"
    body = (_BODIES[what].format(title=request.title, amount=_money(request.amount_cents, request.currency), note=note)
            + f"\n\nYour order and this request: {link}\n\nHome Craft 3D")
    await queue_mail(session, dedupe_key=f"refund-{what}:{request.id}", to=request.guest_email,
                     subject=_SUBJECTS[what], body=body)

"""Who may see and change a refund request (R2, R4). Someone who may not see a request gets the same
404 as for a request that does not exist, so nothing confirms that it does."""

from __future__ import annotations

import hmac

from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.errors import Forbidden, NotFound
from homecraft_shared.identity import Identity
from refunds.clients import PeerServices
from refunds.models import PaidOrder, RefundRequest
from refunds.requests import repository


def actor_of(identity: Identity | None, guest_email: str | None = None) -> str:
    if identity is not None:
        return f"user:{identity.user_id}"
    return f"guest:{guest_email}" if guest_email else "guest"


def emails_match(typed: str, at_checkout: str) -> bool:
    """R2: the guest re-types the checkout email; compared in constant time, case-insensitively."""
    return hmac.compare_digest(typed.strip().lower().encode(), at_checkout.strip().lower().encode())


async def guest_opens_order(peers: PeerServices, order: PaidOrder, token: str | None) -> bool:
    return order.buyer_id is None and bool(token) and await peers.guest_token_opens(order.order_id, token or "")


def is_party(identity: Identity | None, request: RefundRequest) -> bool:
    """The buyer, the line's seller, an owner or staff (R4 queues)."""
    if identity is None:
        return False
    return identity.is_owner or identity.user_id in (request.buyer_id, request.seller_id)


async def visible_request(session: AsyncSession, peers: PeerServices, identity: Identity | None, request_id: str,
                          guest_token: str | None, *, for_update: bool = False) -> RefundRequest:
    """The request, if the caller may see it: a party (R4), or a guest through the order token (R2)."""
    request = await repository.request(session, request_id, for_update=for_update)
    if request is not None:
        if is_party(identity, request):
            return request
        if request.buyer_id is None and guest_token and await peers.guest_token_opens(request.order_id, guest_token):
            return request
    raise NotFound(f"No refund request {request_id} that you can see.")


def ensure_may_decide(identity: Identity | None, request: RefundRequest) -> Identity:
    """R3/R4: the line's seller, an owner or staff decide and trigger refunds; the buyer sees it but may not."""
    if identity is None or not (identity.is_owner or identity.user_id == request.seller_id):
        raise Forbidden("Only the seller of this line, an owner or staff may decide or refund this request (R3, R4).")
    return identity


def ensure_requester(identity: Identity | None, request: RefundRequest, guest_verified: bool) -> None:
    """Cancelling is the buyer's (or the guest's, through the order token), or staff's."""
    if guest_verified:
        return
    if identity is None or not (identity.user_id == request.buyer_id or identity.is_owner):
        raise Forbidden("Only the buyer who asked may cancel this request.")


def not_found_order(order_id: str) -> NotFound:
    return NotFound(f"No paid order {order_id} of yours. Guests: open the link from your order email "
                    "and type the email you used at checkout.")

"""Who may see an order: its registered buyer, the holder of its guest token (O1, compared in
constant time), or an owner. Anyone else gets a 404 that does not confirm the order exists (O8)."""

from __future__ import annotations

import hmac
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.errors import NotFound
from homecraft_shared.identity import Identity
from orders.models import Order
from orders.placing import repository

TOKEN_BYTES = 32  # 256 bits


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_matches(order: Order, token: str | None) -> bool:
    if not token or not order.access_token:
        return False
    return hmac.compare_digest(order.access_token.encode(), token.encode())


def may_view(order: Order, identity: Identity | None, token: str | None) -> bool:
    if identity is not None and (identity.is_owner or (order.buyer_id is not None and identity.user_id == order.buyer_id)):
        return True
    return token_matches(order, token)


async def order_for(session: AsyncSession, order_id: str, identity: Identity | None, token: str | None,
                    *, for_update: bool = False) -> Order:
    order = await repository.by_id(session, order_id, for_update=for_update)
    if order is None or not may_view(order, identity, token):
        raise NotFound("No such order (or it is not yours): check the link, or sign in as its buyer.")
    return order

"""Who may do what with a listing (I1, C4), and loading a listing for a caller who may.

Sellers manage their own listings, owners (owners and staff) any listing. Creating or changing a
listing, its images and files needs a payout-ready seller (C4; owners bypass); viewing one's own
listings and taking one down do not. The owner-only flags are for owners alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.buyability import seller_payout_ready
from catalog.listings import repository
from catalog.listings.domain import OWNER_FLAGS
from catalog.models import Product
from homecraft_shared.errors import Forbidden, NotFound
from homecraft_shared.identity import Identity

NOT_READY_MESSAGE = (
    "Finish payout onboarding (Stripe Connect) before you create or change listings: "
    "your seller account is not payout-ready yet."
)


def ensure_seller(identity: Identity) -> None:
    if not identity.is_seller:
        raise Forbidden("Only sellers can create listings: turn on selling in your profile first.")


async def ensure_payout_ready(session: AsyncSession, identity: Identity) -> None:
    """C4: creating or changing listings, images and assets needs a payout-ready seller; owners bypass."""
    if identity.is_owner:
        return
    if not await seller_payout_ready(session, identity.user_id):
        raise Forbidden(NOT_READY_MESSAGE)


def ensure_may_manage(identity: Identity, product: Product) -> None:
    if not (identity.is_owner or product.seller_id == identity.user_id):
        raise Forbidden("This listing belongs to another seller; only its seller or a marketplace owner may change it.")


def ensure_may_set_flags(identity: Identity, sent: Mapping[str, object]) -> None:
    flags = [flag for flag in OWNER_FLAGS if sent.get(flag) is not None]
    if flags and not identity.is_owner:
        raise Forbidden(f"Only marketplace owners may set {', '.join(flags)}.")


def ensure_may_list_all(identity: Identity) -> None:
    if not identity.is_owner:
        raise Forbidden("Only marketplace owners may list every seller's listings.")


async def listing_for_owner(session: AsyncSession, identity: Identity, product_id: uuid.UUID) -> Product:
    """The listing, for its seller or an owner to read. Someone else's listing is a 404 like a missing
    one: a read must not confirm that a draft exists (issue 7)."""
    product = await repository.get_listing(session, product_id)
    if product is None or not (identity.is_owner or product.seller_id == identity.user_id):
        raise NotFound(f"Listing {product_id} does not exist.")
    return product


async def listing_for_change(
    session: AsyncSession,
    identity: Identity,
    product_id: uuid.UUID,
    *,
    needs_payout_ready: bool = True,
    lock: bool = True,
) -> Product:
    """The listing, for a change by its seller or an owner, after the C4 readiness check; locked until
    the transaction ends unless ``lock=False`` (then call ``relock`` before changing it)."""
    product = await repository.get_listing(session, product_id, for_update=lock)
    if product is None:
        raise NotFound(f"Listing {product_id} does not exist.")
    ensure_may_manage(identity, product)
    if needs_payout_ready:
        await ensure_payout_ready(session, identity)
    return product


async def relock(session: AsyncSession, product: Product) -> Product:
    """Lock a listing checked earlier with ``lock=False`` and re-read it (its images and files may have
    changed meanwhile)."""
    locked = await repository.get_listing(session, product.id, for_update=True)
    if locked is None:
        raise NotFound(f"Listing {product.id} was deleted meanwhile.")
    return locked

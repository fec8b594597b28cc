"""Listing use cases: create and edit a listing, list a seller's listings, publish and unpublish.

Orchestration only: who may act is ``catalog.listings.policy``, what is valid and which event a
change causes is ``catalog.listings.domain``. Never commits: the request's session does, so a
listing change and the event it causes (outbox) are one transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.categories import repository as categories
from catalog.listings import domain, policy, repository
from catalog.listings.schemas import ListingCreate, ListingPage, ListingSummary, ListingUpdate
from catalog.models import Category, ListingStatus, Product
from homecraft_shared.db import flush_or_conflict, utcnow
from homecraft_shared.errors import Conflict, FieldErrors
from homecraft_shared.identity import Identity
from homecraft_shared.messaging.outbox import record_event

SLUG_RACE_MESSAGE = "Another listing of yours was saved with the same title at the same moment; try again."


async def _category(session: AsyncSession, category_id: int, errors: FieldErrors) -> Category | None:
    category = await categories.get(session, category_id)
    domain.check_category(category, category_id, errors)
    return category


async def create_listing(session: AsyncSession, identity: Identity, data: ListingCreate) -> Product:
    """A new draft listing of the caller (C2), after the C4 checks."""
    policy.ensure_seller(identity)
    await policy.ensure_payout_ready(session, identity)
    sent = data.model_dump(exclude_unset=True)
    policy.ensure_may_set_flags(identity, sent)
    state: dict[str, Any] = {
        "kind": data.kind,
        "title": data.title,
        "category_id": data.category_id,
        "short_description": data.short_description or "",
        "description": data.description or "",
        "price_cents": data.price_cents,
        "is_free": bool(data.is_free),
        "material": data.material or "",
        "color": data.color or "",
        "width_mm": data.width_mm,
        "height_mm": data.height_mm,
        "depth_mm": data.depth_mm,
        "license_text": data.license_text or "",
    }
    for flag in domain.OWNER_FLAGS:
        if sent.get(flag) is not None:
            state[flag] = sent[flag]
    errors = FieldErrors()
    category = await _category(session, data.category_id, errors)
    domain.check_category_kind(category, data.kind, errors)
    domain.check_price(state, set(sent), errors)
    domain.check_kind_fields(state, errors)
    errors.raise_if_any()

    product = Product(
        id=uuid.uuid4(),
        seller_id=identity.user_id,
        seller_is_owner=identity.is_owner,
        slug=await _unique_slug(session, identity.user_id, data.title),
        status=ListingStatus.DRAFT,
        category=category,
        **state,
    )
    session.add(product)
    await _flush(session)
    return product


async def update_listing(session: AsyncSession, identity: Identity, product_id: uuid.UUID, data: ListingUpdate) -> Product:
    product = await policy.listing_for_change(session, identity, product_id)
    sent = data.model_dump(exclude_unset=True)
    policy.ensure_may_set_flags(identity, sent)
    errors = FieldErrors()
    errors.reject_nulls(sent, clearable=(*domain.CLEARABLE, *domain.OWNER_FLAGS))
    errors.raise_if_any()
    changes = {k: v for k, v in sent.items() if v is not None or k in domain.CLEARABLE}

    state = {column: getattr(product, column) for column in domain.EDITABLE}
    state.update(changes)
    if "kind" in changes:
        domain.check_kind_change(product, changes["kind"], errors)
    if "category_id" in changes and changes["category_id"] != product.category_id:
        category = await _category(session, state["category_id"], errors)
    else:
        category = product.category
    domain.check_category_kind(category, state["kind"], errors)
    domain.check_price(state, set(changes), errors)
    domain.check_kind_fields(state, errors)
    errors.raise_if_any()

    before = domain.Before.of(product)
    for field, value in state.items():
        if getattr(product, field) != value:
            setattr(product, field, value)
    assert category is not None  # a missing category was refused above
    product.category = category
    if product.seller_id == identity.user_id:
        product.seller_is_owner = identity.is_owner  # the seller's own token is the freshest word on it
    await _flush(session)
    _record_change(session, product, before, unlisted_reason="deactivated")
    return product


async def _unique_slug(session: AsyncSession, seller_id: str, title: str) -> str:
    base = domain.slug_base(title)
    taken = await repository.seller_slugs_with_prefix(session, seller_id, domain.slug_prefix(base))
    return domain.unique_slug(base, taken)


async def _flush(session: AsyncSession) -> None:
    # A concurrent request may take the same slug first: the constraint decides.
    await flush_or_conflict(session, SLUG_RACE_MESSAGE)


async def seller_listings(
    session: AsyncSession, identity: Identity, *, status: ListingStatus | None, all_sellers: bool, page: int, page_size: int
) -> ListingPage:
    """The caller's own listings, drafts included (not gated by payout readiness, C4); owners may ask for all."""
    if all_sellers:
        policy.ensure_may_list_all(identity)
    seller_id = None if all_sellers else identity.user_id
    products, total = await repository.page_for_seller(session, seller_id, status, page=page, page_size=page_size)
    return ListingPage(items=[ListingSummary.of(p) for p in products], total=total, page=page, page_size=page_size)


async def publish(session: AsyncSession, identity: Identity, product_id: uuid.UUID) -> Product:
    """Draft or unlisted → published, only when complete; records ``product.published`` if now visible."""
    product = await policy.listing_for_change(session, identity, product_id)
    if product.status == ListingStatus.PUBLISHED:
        raise Conflict("This listing is already published.")
    domain.missing_for_publish(product, product.category).raise_if_any(prefix="This listing cannot be published yet: ")
    before = domain.Before.of(product)
    product.status = ListingStatus.PUBLISHED
    product.published_at = utcnow()
    await _flush(session)
    _record_change(session, product, before, unlisted_reason="unpublished")
    return product


async def unpublish(session: AsyncSession, identity: Identity, product_id: uuid.UUID) -> Product:
    """Published → unlisted; records ``product.unlisted``. Taking a listing down needs no payout readiness."""
    product = await policy.listing_for_change(session, identity, product_id, needs_payout_ready=False)
    if product.status != ListingStatus.PUBLISHED:
        raise Conflict(f"Only a published listing can be unpublished; this one is {product.status.value}.")
    before = domain.Before.of(product)
    product.status = ListingStatus.UNLISTED
    await _flush(session)
    _record_change(session, product, before, unlisted_reason="unpublished")
    return product


def _record_change(session: AsyncSession, product: Product, before: domain.Before, *, unlisted_reason: domain.UnlistedReason) -> None:
    event = domain.event_for_change(product, before, unlisted_reason=unlisted_reason, now=utcnow())
    if event is not None:
        record_event(session, event, subject_id=str(product.id))

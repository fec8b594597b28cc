"""Seller listing endpoints: create, edit, view, list one's own, publish and unpublish.

Callers: the listing's seller (role ``seller``) or a marketplace owner (``owner``/``staff``). Changes
need a payout-ready seller (C4; owners bypass); listing and viewing one's own listings do not.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, status

from catalog.listings import policy, service
from catalog.listings.schemas import ListingCreate, ListingOut, ListingPage, ListingUpdate
from catalog.models import ListingStatus
from homecraft_shared.dependencies import CurrentIdentity, DbSession
from homecraft_shared.inputs import Page, paging
from homecraft_shared.openapi import problems

router = APIRouter(tags=["listings"], responses=problems(403, 404))


@router.post("/listings", status_code=status.HTTP_201_CREATED, summary="Create a draft listing (payout-ready sellers, owners)")
async def create_listing(body: ListingCreate, session: DbSession, identity: CurrentIdentity) -> ListingOut:
    product = await service.create_listing(session, identity, body)
    return ListingOut.of(await policy.listing_for_owner(session, identity, product.id))


@router.get("/listings/{product_id}", summary="A listing with its images, files and what it lacks to be published (its seller, owners)")
async def get_listing(product_id: uuid.UUID, session: DbSession, identity: CurrentIdentity) -> ListingOut:
    return ListingOut.of(await policy.listing_for_owner(session, identity, product_id))


@router.patch("/listings/{product_id}", summary="Edit a listing (its payout-ready seller, owners)")
async def update_listing(product_id: uuid.UUID, body: ListingUpdate, session: DbSession, identity: CurrentIdentity) -> ListingOut:
    return ListingOut.of(await service.update_listing(session, identity, product_id, body))


@router.post(
    "/listings/{product_id}/publish", summary="Publish a complete draft or republish an unlisted listing",
    responses=problems(409),
)
async def publish_listing(product_id: uuid.UUID, session: DbSession, identity: CurrentIdentity) -> ListingOut:
    return ListingOut.of(await service.publish(session, identity, product_id))


@router.post("/listings/{product_id}/unpublish", summary="Take a published listing down (unlisted)", responses=problems(409))
async def unpublish_listing(product_id: uuid.UUID, session: DbSession, identity: CurrentIdentity) -> ListingOut:
    return ListingOut.of(await service.unpublish(session, identity, product_id))


@router.get("/sellers/me/products", summary="The caller's own listings, drafts included, newest first")
async def my_listings(
    session: DbSession,
    identity: CurrentIdentity,
    status_: ListingStatus | None = Query(None, alias="status"),
    all_sellers: bool = Query(False, alias="all", description="Owners only: every seller's listings."),
    window: Page = Depends(paging(20, 100)),
) -> ListingPage:
    return await service.seller_listings(
        session, identity, status=status_, all_sellers=all_sellers, page=window.page, page_size=window.page_size
    )

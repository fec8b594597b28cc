"""Catalog's product facts, projected (architecture: "a service keeps a local projection").

Idempotent and order-proof: each fact carries the time it was true at catalog; an older fact than
the one stored is ignored, so a duplicate, late or reordered event leaves the same state. Every
change marks the product's trending score for recomputation (an unlisted product scores 0).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from engagement.ingestion.repository import mark_dirty
from engagement.models import Product
from engagement.projections import repository
from homecraft_shared.events.catalog import ProductPublishedV1, ProductSnapshot, ProductUnlistedV1, ProductUpdatedV1


def _copy(product: Product, data: ProductSnapshot) -> None:
    product.seller_id = data.seller_id
    product.kind = data.kind
    product.category_id = data.category_id
    product.title = data.title[:200]


async def _apply(session: AsyncSession, data: ProductSnapshot, *, listed: bool, as_of: dt.datetime) -> None:
    product = await repository.product(session, data.product_id)
    if product is None:
        product = Product(product_id=data.product_id, is_listed=listed, first_published_at=as_of, as_of=as_of)
        _copy(product, data)
        session.add(product)
    elif as_of >= product.as_of:
        _copy(product, data)
        product.is_listed = listed
        product.as_of = as_of
        product.first_published_at = min(product.first_published_at, as_of)
    else:
        return
    await mark_dirty(session, [data.product_id])


async def apply_published(session: AsyncSession, data: ProductPublishedV1) -> None:
    await _apply(session, data, listed=True, as_of=data.published_at)


async def apply_updated(session: AsyncSession, data: ProductUpdatedV1) -> None:
    await _apply(session, data, listed=data.is_active, as_of=data.updated_at)


async def apply_unlisted(session: AsyncSession, data: ProductUnlistedV1) -> None:
    product = await repository.product(session, data.product_id)
    if product is None:
        # Remember the unlisting, so an older "published" arriving late cannot list it.
        session.add(Product(product_id=data.product_id, seller_id=data.seller_id, kind="", category_id="", title="",
                            is_listed=False, first_published_at=data.unlisted_at, as_of=data.unlisted_at))
    elif data.unlisted_at >= product.as_of:
        product.is_listed = False
        product.as_of = data.unlisted_at
    else:
        return
    await mark_dirty(session, [data.product_id])

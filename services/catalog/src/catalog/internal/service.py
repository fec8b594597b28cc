"""The internal API: current product facts for orders, and digital files for entitled downloads."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from catalog.assets import repository as assets
from catalog.buyability import can_buy
from catalog.internal import repository
from catalog.internal.schemas import InternalAsset, LookupResponse, ProductAssets, ProductFacts
from catalog.models import CatalogType, DigitalAsset, ListingStatus, Product
from catalog.storage import MediaStorage
from homecraft_shared.db import InlineReads
from homecraft_shared.errors import NotFound


def _parse(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def lookup(db: AsyncSession | AsyncConnection | InlineReads, product_ids: list[str]) -> LookupResponse:
    """One prepared statement, plain columns, no ORM objects; the facts are built without re-validation (they
    are the database's own typed values), so the endpoint can send them serialized as they are."""
    wanted = list(dict.fromkeys(product_ids))
    parsed = {value: _parse(value) for value in wanted}
    rows = await repository.lookup_rows(db, {pid for pid in parsed.values() if pid is not None})
    by_id = {row.id: row for row in rows}
    products: list[ProductFacts] = []
    unknown: list[str] = []
    for value in wanted:
        pid = parsed[value]
        row = by_id.get(pid) if pid is not None else None
        if row is None:
            unknown.append(value)
            continue
        ready = bool(row.ready)
        buyable = can_buy(seller_payout_ready=ready, seller_is_owner=row.seller_is_owner)
        visible = row.status == ListingStatus.PUBLISHED and row.is_active  # Product.is_visible
        products.append(
            ProductFacts.model_construct(
                product_id=str(row.id), seller_id=row.seller_id, kind=row.kind, title=row.title, slug=row.slug,
                category_id=row.category_id, price_cents=row.price_cents, currency=row.currency,
                is_free=row.is_free, status=row.status, is_active=row.is_active, visible=visible,
                seller_payout_ready=ready, seller_is_owner=row.seller_is_owner, can_buy=buyable,
                purchasable=visible and buyable, requires_shipping=row.kind == CatalogType.MODEL,
                is_digital=row.kind == CatalogType.FILE,
            )
        )
    return LookupResponse.model_construct(products=products, unknown_ids=unknown)


async def product_assets(session: AsyncSession, product_id: uuid.UUID) -> ProductAssets:
    product = await session.get(Product, product_id)
    if product is None:
        raise NotFound(f"Product {product_id} does not exist.")
    rows = await assets.for_product(session, product_id)
    return ProductAssets(product_id=product.id, kind=product.kind, assets=[InternalAsset.model_validate(a) for a in rows])


async def asset_file(session: AsyncSession, storage: MediaStorage, asset_id: uuid.UUID) -> tuple[DigitalAsset, str]:
    asset = await assets.get(session, asset_id)
    if asset is None or not storage.exists("assets", asset.storage_key):
        raise NotFound(f"Digital file {asset_id} does not exist.")
    return asset, str(storage.path_for("assets", asset.storage_key))

"""The internal API: current product facts for orders, and digital files for entitled downloads."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.assets import repository as assets
from catalog.buyability import can_buy
from catalog.internal import repository
from catalog.internal.schemas import InternalAsset, LookupResponse, ProductAssets, ProductFacts
from catalog.listings.schemas import ListingState
from catalog.models import CatalogType, DigitalAsset, Product
from catalog.storage import MediaStorage
from homecraft_shared.errors import NotFound


def _parse(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def lookup(session: AsyncSession, product_ids: list[str]) -> LookupResponse:
    wanted = list(dict.fromkeys(product_ids))
    parsed = {value: _parse(value) for value in wanted}
    found = await repository.products_with_readiness(session, {pid for pid in parsed.values() if pid is not None})
    by_id = {product.id: (product, ready) for product, ready in found}
    products: list[ProductFacts] = []
    unknown: list[str] = []
    for value in wanted:
        pid = parsed[value]
        if pid is None or pid not in by_id:
            unknown.append(value)
            continue
        product, ready = by_id[pid]
        buyable = can_buy(seller_payout_ready=ready, seller_is_owner=product.seller_is_owner)
        products.append(
            ProductFacts(
                product_id=str(product.id),
                seller_id=product.seller_id,
                **ListingState.state_of(product),
                seller_payout_ready=ready,
                seller_is_owner=product.seller_is_owner,
                can_buy=buyable,
                purchasable=product.is_visible and buyable,
                requires_shipping=product.kind == CatalogType.MODEL,
                is_digital=product.kind == CatalogType.FILE,
            )
        )
    return LookupResponse(products=products, unknown_ids=unknown)


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

"""Bodies of the internal API the orders service calls."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from catalog.assets.schemas import AssetOut
from catalog.listings.schemas import ListingState
from catalog.models import CatalogType

MAX_LOOKUP = 200


class LookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_ids: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=MAX_LOOKUP)


class ProductFacts(ListingState):
    """What orders snapshots at placement (O2) and re-checks at checkout (K2, O5), current at this instant."""

    product_id: str
    seller_id: str
    seller_payout_ready: bool
    seller_is_owner: bool
    can_buy: bool = Field(description="C10: the seller is payout-ready or an owner.")
    purchasable: bool = Field(description="visible and can_buy.")
    requires_shipping: bool = Field(description="MODEL (physical print).")
    is_digital: bool = Field(description="FILE (digital download).")


class LookupResponse(BaseModel):
    products: list[ProductFacts] = Field(description="In the order asked, each id once.")
    unknown_ids: list[str] = Field(description="Ids that are not products of this catalog (including malformed ids).")


class InternalAsset(AssetOut):
    product_id: uuid.UUID


class ProductAssets(BaseModel):
    product_id: uuid.UUID
    kind: CatalogType
    assets: list[InternalAsset]

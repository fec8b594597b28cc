"""Events the catalog service produces."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from homecraft_shared.messaging.contracts import EventData, event_contract

ProductKind = Literal["MODEL", "FILE"]


class ProductSnapshot(EventData):
    product_id: str
    seller_id: str
    kind: ProductKind
    category_id: str
    title: str
    slug: str
    price_cents: int = Field(ge=0)
    is_free: bool
    currency: str = "usd"


@event_contract("product.published", 1, producer="catalog",
                description="A listing became visible to buyers (first publish or republish).")
class ProductPublishedV1(ProductSnapshot):
    published_at: dt.datetime


@event_contract("product.updated", 1, producer="catalog",
                description="A published listing's buyer-visible fields changed.")
class ProductUpdatedV1(ProductSnapshot):
    is_active: bool
    updated_at: dt.datetime


@event_contract("product.unlisted", 1, producer="catalog",
                description="A listing stopped being visible to buyers.")
class ProductUnlistedV1(EventData):
    product_id: str
    seller_id: str
    reason: Literal["unpublished", "deactivated", "deleted"]
    unlisted_at: dt.datetime

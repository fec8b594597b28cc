"""What orders asks the catalog, synchronously (architecture: a price at placement must be current)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homecraft_shared.errors import Problem
from homecraft_shared.http_client import ServiceClient, ServiceUnavailable
from homecraft_shared.identity import ServiceSigner


class CatalogUnavailable(Problem):
    status = 503
    title = "Catalog unavailable"


@dataclass(frozen=True)
class ProductFacts:
    product_id: str
    seller_id: str
    kind: str
    title: str
    price_cents: int
    visible: bool
    can_buy: bool
    seller_payout_ready: bool
    seller_is_owner: bool

    @property
    def is_file(self) -> bool:
        return self.kind == "FILE"


@dataclass(frozen=True)
class Lookup:
    products: dict[str, ProductFacts]
    unknown_ids: list[str]


@dataclass(frozen=True)
class Asset:
    asset_id: str
    product_id: str
    filename: str


async def lookup(client: ServiceClient, product_ids: list[str], signer: ServiceSigner | None) -> Lookup:
    """One call for every product (POST /internal/products/lookup, idempotent: retried on 5xx), as the
    orders service (the catalog's internal API needs a service identity, not the buyer's token)."""
    headers = signer.authorization() if signer is not None else {}
    try:
        # The lean JSON POST (no httpx models): this call is on every placement's path (decision 0204).
        response = await client.post_json(
            "/internal/products/lookup", {"product_ids": product_ids}, headers=headers, idempotent=True
        )
    except ServiceUnavailable as exc:
        raise CatalogUnavailable("The catalog could not be reached to price your order; nothing was placed. "
                                 "Try again in a moment.") from exc
    if response.status_code != 200:
        raise CatalogUnavailable(f"The catalog answered {response.status_code} to the price lookup; nothing was placed.")
    body: dict[str, Any] = response.json()
    products = {
        p["product_id"]: ProductFacts(
            product_id=p["product_id"], seller_id=str(p["seller_id"]), kind=p["kind"], title=p["title"],
            price_cents=int(p["price_cents"]), visible=bool(p["visible"]), can_buy=bool(p["can_buy"]),
            seller_payout_ready=bool(p["seller_payout_ready"]), seller_is_owner=bool(p["seller_is_owner"]),
        )
        for p in body["products"]
    }
    return Lookup(products=products, unknown_ids=list(body["unknown_ids"]))


async def product_assets(client: ServiceClient, product_id: str, service_token: str) -> list[Asset]:
    """A FILE product's digital files (GET /internal/products/{id}/assets, as the orders service)."""
    try:
        response = await client.get(f"/internal/products/{product_id}/assets",
                                    headers={"Authorization": f"Bearer {service_token}"})
    except ServiceUnavailable as exc:
        raise CatalogUnavailable("The catalog could not be reached to list the downloads.") from exc
    if response.status_code == 404:
        return []
    if response.status_code != 200:
        raise CatalogUnavailable(f"The catalog answered {response.status_code} listing the downloads.")
    return [Asset(asset_id=str(a["id"]), product_id=product_id, filename=a["original_filename"])
            for a in response.json()["assets"]]

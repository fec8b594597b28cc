"""The internal API, for other services (the orders service); the gateway never routes ``/internal/*``.

- ``POST /internal/products/lookup``: current price, seller, kind, visibility and buyability of many
  products in one call (order placement O2, checkout re-checks K2/O5). No identity needed: orders
  calls it for guests too, and it tells nothing a product page does not.
- ``GET /internal/products/{id}/assets`` and ``GET /internal/assets/{id}/content``: a FILE product's
  digital files and their bytes, for downloads that orders has already checked entitlement for (O6).
  They need an identity token whose roles include ``service`` (or an owner/staff token).
- ``GET /internal/downloads/{asset_id}?grant=...``: the same bytes for the gateway, with no identity:
  the grant is a short-lived token the orders service signed for this one asset after checking the
  buyer's entitlement (O6, decision 0201); the catalog checks its signature (orders' trusted key),
  audience, expiry and asset.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from catalog.internal import service
from catalog.internal.schemas import LookupRequest, LookupResponse, ProductAssets
from catalog.models import AssetFormat
from catalog.web import Storage
from homecraft_shared.db import InlineReads
from homecraft_shared.dependencies import DbSession, ServiceIdentity, runtime_of
from homecraft_shared.errors import Forbidden
from homecraft_shared.identity import DOWNLOAD_GRANT_AUDIENCE, request_verifier
from homecraft_shared.openapi import problems

router = APIRouter(prefix="/internal", tags=["internal"], responses=problems(403))

ASSET_MEDIA_TYPES = {
    AssetFormat.STL: "model/stl",
    AssetFormat.THREE_MF: "model/3mf",
    AssetFormat.OBJ: "model/obj",
    AssetFormat.ZIP: "application/zip",
}



@router.post("/products/lookup", response_model=LookupResponse,
             summary="Current facts of many products in one call (for orders; role service or owner)")
async def lookup_products(body: LookupRequest, request: Request, _: ServiceIdentity) -> Response:
    # One statement on the kept inline-read connection (no session, no unit of work, no pool checkout per
    # call, decision 0206), then serialized once, as built: the facts are the database's typed values (no
    # second validation pass). Decisions 0204, 0206. Nothing is cached: every call reads the database (O2).
    found = await service.lookup(runtime_of(request).resources.get(InlineReads), body.product_ids)
    return Response(found.model_dump_json(), media_type="application/json")


@router.get("/products/{product_id}/assets", summary="A product's digital files (role service or owner)", responses=problems(404))
async def product_assets(product_id: uuid.UUID, session: DbSession, _: ServiceIdentity) -> ProductAssets:
    return await service.product_assets(session, product_id)


@router.get(
    "/assets/{asset_id}/content",
    summary="A digital file's bytes (role service or owner; orders checks entitlement first)",
    responses=problems(404),
    response_class=FileResponse,
)
async def asset_content(asset_id: uuid.UUID, session: DbSession, storage: Storage, _: ServiceIdentity) -> FileResponse:
    return await _file(session, storage, asset_id)


@router.get("/downloads/{asset_id}", summary="A digital file's bytes for a download grant signed by orders (O6)",
            response_class=FileResponse, responses=problems(401, 404))
async def granted_download(asset_id: uuid.UUID, request: Request, session: DbSession, storage: Storage,
                           grant: Annotated[str, Query(min_length=20, max_length=4096)]) -> FileResponse:
    claims = request_verifier(request).verify_grant(grant, service="orders", audience=DOWNLOAD_GRANT_AUDIENCE)
    if claims.get("asset") != str(asset_id):
        raise Forbidden("This download grant is for another file.")
    return await _file(session, storage, asset_id)


async def _file(session: DbSession, storage: Storage, asset_id: uuid.UUID) -> FileResponse:
    asset, path = await service.asset_file(session, storage, asset_id)
    return FileResponse(
        path,
        media_type=ASSET_MEDIA_TYPES[asset.file_format],
        filename=asset.original_filename,
        headers={"Cache-Control": "private, no-store", "X-Content-SHA256": asset.sha256, "X-Content-Type-Options": "nosniff"},
    )

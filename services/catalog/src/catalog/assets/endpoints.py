"""Digital asset endpoints for the listing's payout-ready seller or an owner (C3, C4).

Upload and delete only: the files are never served here. Downloads go through the orders service,
which checks entitlement and fetches the bytes from ``GET /internal/assets/{asset_id}/content``.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, File, Response, UploadFile, status

from catalog.assets import service
from catalog.assets.schemas import AssetOut
from catalog.uploads import Uploading, UploadLimitRoute, upload_limit
from catalog.web import Storage
from homecraft_shared.dependencies import CurrentIdentity, DbSession
from homecraft_shared.openapi import problems

router = APIRouter(tags=["listing files"], route_class=UploadLimitRoute, responses=problems(403, 404, 409))


@router.post(
    "/listings/{product_id}/assets",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a digital file to a 3D Files listing (STL, 3MF, OBJ or ZIP; size limit CATALOG_MAX_ASSET_BYTES)",
    responses=problems(413, 415),
)
@upload_limit("max_asset_bytes")
async def upload_asset(product_id: uuid.UUID, uploading: Uploading, file: UploadFile = File(...)) -> AssetOut:
    return AssetOut.model_validate(await service.upload_asset(uploading, product_id, file))


@router.delete("/listings/{product_id}/assets/{asset_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a digital file")
async def delete_asset(
    product_id: uuid.UUID, asset_id: uuid.UUID, session: DbSession, identity: CurrentIdentity, storage: Storage
) -> Response:
    await service.delete_asset(session, storage, identity, product_id, asset_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

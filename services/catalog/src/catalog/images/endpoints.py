"""Image endpoints: upload, edit (alt text, primary), reorder, delete — the listing's payout-ready
seller or an owner (C3, C4) — and the public image bytes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile, status
from fastapi.responses import FileResponse

from catalog.images import service
from catalog.images.schemas import ImageOrder, ImageUpdate, SellerImageOut
from catalog.listings.schemas import ListingOut
from catalog.uploads import Uploading, UploadLimitRoute, upload_limit
from catalog.web import Storage
from homecraft_shared.dependencies import CurrentIdentity, DbSession
from homecraft_shared.inputs import IdParam, Line
from homecraft_shared.openapi import problems

router = APIRouter(tags=["listing images"], route_class=UploadLimitRoute, responses=problems(403, 404, 409))

# Keys are random and never reused, so an image's bytes never change: cache for a year.
IMAGE_CACHE_CONTROL = "public, max-age=31536000, immutable"


@router.post(
    "/listings/{product_id}/images",
    status_code=status.HTTP_201_CREATED,
    summary="Upload an image (PNG, JPEG, WebP or GIF, checked by content; size limit CATALOG_MAX_IMAGE_BYTES)",
    responses=problems(413, 415),
)
@upload_limit("max_image_bytes")
async def upload_image(
    product_id: uuid.UUID,
    uploading: Uploading,
    file: UploadFile = File(...),
    alt_text: Annotated[Line, Form(max_length=160)] = "",
    is_primary: bool = Form(False),
) -> SellerImageOut:
    image = await service.upload_image(uploading, product_id, file, alt_text=alt_text.strip(), is_primary=is_primary)
    return SellerImageOut.of(image)


@router.patch("/listings/{product_id}/images/{image_id}", summary="Change an image's alt text or make it the primary image")
async def update_image(
    product_id: uuid.UUID, image_id: IdParam, body: ImageUpdate, session: DbSession, identity: CurrentIdentity
) -> SellerImageOut:
    return SellerImageOut.of(await service.update_image(session, identity, product_id, image_id, body))


@router.put("/listings/{product_id}/images/order", summary="Reorder a listing's images")
async def reorder_images(product_id: uuid.UUID, body: ImageOrder, session: DbSession, identity: CurrentIdentity) -> ListingOut:
    return ListingOut.of(await service.reorder_images(session, identity, product_id, body))


@router.delete(
    "/listings/{product_id}/images/{image_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an image (the next one by sort order becomes primary)",
)
async def delete_image(
    product_id: uuid.UUID, image_id: IdParam, session: DbSession, identity: CurrentIdentity, storage: Storage
) -> Response:
    await service.delete_image(session, storage, identity, product_id, image_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/media/images/{storage_key}", summary="An image's bytes (public; cacheable forever)", response_class=FileResponse)
async def image_bytes(storage_key: str, session: DbSession, storage: Storage) -> FileResponse:
    image, path = await service.public_image(session, storage, storage_key)
    return FileResponse(
        path,
        media_type=image.content_type,
        headers={"Cache-Control": IMAGE_CACHE_CONTROL, "X-Content-Type-Options": "nosniff"},
        content_disposition_type="inline",
    )

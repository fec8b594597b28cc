"""Product images (C3): many per listing, exactly one primary once there is any.

The first image becomes primary; making an image primary unsets the others; deleting the primary
promotes the next by sort order. Images are decoded and re-encoded (catalog.content), never judged by file name.
"""

from __future__ import annotations

import uuid

from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.images import repository
from catalog.images.domain import MAX_ALT_TEXT, make_primary, next_sort_order, ordered
from catalog.images.schemas import ImageOrder, ImageUpdate
from catalog.listings.policy import listing_for_change
from catalog.models import ListingStatus, Product, ProductImage
from catalog.settings import CatalogSettings
from catalog.storage import KEY_PATTERN, MediaStorage, normalize_image
from catalog.uploads import ListingUpload
from homecraft_shared.errors import NotFound, ValidationFailed, invalid_field
from homecraft_shared.identity import Identity


def _check_room(product: Product, settings: CatalogSettings) -> None:
    if len(product.images) >= settings.max_images_per_product:
        raise ValidationFailed(f"A listing can have at most {settings.max_images_per_product} images; delete one first.")


def _image_of(product: Product, image_id: int) -> ProductImage:
    image = next((image for image in product.images if image.id == image_id), None)
    if image is None:
        raise NotFound(f"Image {image_id} is not an image of this listing.")
    return image


async def upload_image(
    uploading: ListingUpload, product_id: uuid.UUID, upload: UploadFile, *, alt_text: str, is_primary: bool
) -> ProductImage:
    settings = uploading.settings

    def check_listing(product: Product) -> None:
        _check_room(product, settings)
        if len(alt_text) > MAX_ALT_TEXT:
            raise ValidationFailed(f"The alt text can be at most {MAX_ALT_TEXT} characters.")

    kept = await uploading.keep(
        product_id, upload, area="images", max_bytes=settings.max_image_bytes, what="image",
        check_listing=check_listing, check_content=normalize_image,  # decoded and re-encoded, or refused
    )
    product = kept.product
    first = not product.images
    image = ProductImage(
        storage_key=kept.key,
        content_type=kept.checked,
        size_bytes=kept.received.size,
        alt_text=alt_text,
        is_primary=False,
        sort_order=next_sort_order(product.images),
    )
    product.images.append(image)
    if is_primary or first:
        make_primary(product.images, image)
    await uploading.session.flush()
    return image


async def update_image(
    session: AsyncSession, identity: Identity, product_id: uuid.UUID, image_id: int, data: ImageUpdate
) -> ProductImage:
    product = await listing_for_change(session, identity, product_id)
    image = _image_of(product, image_id)
    if data.alt_text is not None:
        image.alt_text = data.alt_text
    if data.is_primary:
        make_primary(product.images, image)
    await session.flush()
    return image


async def reorder_images(session: AsyncSession, identity: Identity, product_id: uuid.UUID, data: ImageOrder) -> Product:
    product = await listing_for_change(session, identity, product_id)
    current = {image.id for image in product.images}
    if len(data.image_ids) != len(set(data.image_ids)) or set(data.image_ids) != current:
        raise invalid_field(
            "image_ids",
            "must be a permutation of the listing's image ids",
            detail=f"List every image of this listing exactly once: its images are {sorted(current)}.",
        )
    by_id = {image.id: image for image in product.images}
    for position, image_id in enumerate(data.image_ids):
        by_id[image_id].sort_order = position
    await session.flush()
    return product


async def delete_image(
    session: AsyncSession, storage: MediaStorage, identity: Identity, product_id: uuid.UUID, image_id: int
) -> None:
    product = await listing_for_change(session, identity, product_id)
    image = _image_of(product, image_id)
    if len(product.images) == 1 and product.status == ListingStatus.PUBLISHED:
        raise ValidationFailed(
            "A published listing needs at least one image: upload another one first, or unpublish the listing."
        )
    product.images.remove(image)  # delete-orphan: the row goes at flush
    if image.is_primary:
        remaining = ordered(product.images)
        if remaining:
            make_primary(product.images, remaining[0])
    storage.delete_after_commit(session, "images", image.storage_key)
    await session.flush()


async def public_image(session: AsyncSession, storage: MediaStorage, storage_key: str) -> tuple[ProductImage, str]:
    """An image by its key with the path of its file (404 when either is missing)."""
    image = await repository.by_storage_key(session, storage_key) if KEY_PATTERN.fullmatch(storage_key) else None
    if image is None or not storage.exists("images", storage_key):
        raise NotFound("No such image.")
    return image, str(storage.path_for("images", storage_key))

"""Digital asset files (C3): only on 3D Files listings; STL, 3MF, OBJ or ZIP, checked by extension and
content; streamed to disk with their sha256. Never served publicly (see catalog.internal)."""

from __future__ import annotations

import re
import uuid
from pathlib import PurePosixPath, PureWindowsPath

from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.listings.policy import listing_for_change
from catalog.models import AssetFormat, CatalogType, DigitalAsset, ListingStatus, Product
from catalog.settings import CatalogSettings
from catalog.storage import MediaStorage, Received, asset_format_for, check_asset_content
from catalog.uploads import ListingUpload
from homecraft_shared.errors import NotFound, ValidationFailed
from homecraft_shared.identity import Identity

_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"\\/]")


def display_name(filename: str | None) -> str:
    """The uploaded file's base name, for display and download names only (never a storage path)."""
    name = PureWindowsPath(PurePosixPath(filename or "").name).name
    name = _UNSAFE.sub("_", name).strip() or "file"
    return name[-255:]


def _check_accepts_files(product: Product, settings: CatalogSettings) -> None:
    if product.kind != CatalogType.FILE:
        raise ValidationFailed(
            "Digital files can only be attached to 3D Files listings; this listing is a 3D Models (physical print) listing."
        )
    if len(product.assets) >= settings.max_assets_per_product:
        raise ValidationFailed(f"A listing can have at most {settings.max_assets_per_product} digital files; delete one first.")


async def upload_asset(uploading: ListingUpload, product_id: uuid.UUID, upload: UploadFile) -> DigitalAsset:
    settings = uploading.settings

    def check_listing(product: Product) -> None:
        _check_accepts_files(product, settings)
        asset_format_for(upload.filename or "")  # 415 before a byte is stored

    def check_content(received: Received) -> AssetFormat:
        file_format = asset_format_for(upload.filename or "")
        check_asset_content(received.temp_path, file_format, received.size)
        return file_format

    kept = await uploading.keep(
        product_id, upload, area="assets", max_bytes=settings.max_asset_bytes, what="file",
        check_listing=check_listing, check_content=check_content,
    )
    asset = DigitalAsset(
        id=uuid.uuid4(),
        original_filename=display_name(upload.filename),
        file_format=kept.checked,
        storage_key=kept.key,
        size_bytes=kept.received.size,
        sha256=kept.received.sha256,
    )
    kept.product.assets.append(asset)
    await uploading.session.flush()
    return asset


async def delete_asset(
    session: AsyncSession, storage: MediaStorage, identity: Identity, product_id: uuid.UUID, asset_id: uuid.UUID
) -> None:
    product = await listing_for_change(session, identity, product_id)
    asset = next((a for a in product.assets if a.id == asset_id), None)
    if asset is None:
        raise NotFound(f"File {asset_id} is not a file of this listing.")
    if len(product.assets) == 1 and product.status == ListingStatus.PUBLISHED:
        raise ValidationFailed(
            "A published 3D Files listing needs at least one digital file: upload another one first, or unpublish the listing."
        )
    product.assets.remove(asset)
    storage.delete_after_commit(session, "assets", asset.storage_key)
    await session.flush()

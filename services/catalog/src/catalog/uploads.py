"""Uploads to a listing: one flow for images and digital files, and refusing an oversized upload
before its body is read.

``ListingUpload.keep`` (the ``Uploading`` dependency): check the listing without a lock, stream the
file to a temporary file and check its content in a thread, then lock the listing, check it again
and keep the file, so no lock is held during file I/O (C3, C4).

FastAPI parses a multipart body (spooling files to disk) before the endpoint and its dependencies
run, so the size check in ``MediaStorage.receive`` alone would let a client push gigabytes first.
Routes of an ``UploadLimitRoute`` router whose endpoint is marked with ``@upload_limit("setting")``
answer 413 at once when the declared Content-Length exceeds that setting (plus room for the form's
other fields); ``receive`` still enforces the exact limit on what actually arrives (chunked bodies).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Request, Response, UploadFile
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.listings.policy import listing_for_change, relock
from catalog.models import Product
from catalog.settings import CatalogSettings
from catalog.storage import Area, MediaStorage, PayloadTooLarge, Received, human_size
from catalog.web import Settings, Storage
from homecraft_shared.dependencies import CurrentIdentity, DbSession, runtime_of
from homecraft_shared.identity import Identity

FORM_OVERHEAD_BYTES = 64 * 1024
_ATTRIBUTE = "__catalog_upload_limit__"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
Checked = TypeVar("Checked")


@dataclass(frozen=True)
class Kept(Generic[Checked]):
    product: Product  # locked until the transaction ends
    received: Received
    key: str
    checked: Checked  # what the content check returned


@dataclass(frozen=True)
class ListingUpload:
    """What an upload to a listing needs: the request's transaction, the caller, storage, limits."""

    session: AsyncSession
    identity: Identity
    storage: MediaStorage
    settings: CatalogSettings

    async def keep(
        self,
        product_id: uuid.UUID,
        upload: UploadFile,
        *,
        area: Area,
        max_bytes: int,
        what: str,
        check_listing: Callable[[Product], None],
        check_content: Callable[[Received], Checked],
    ) -> Kept[Checked]:
        product = await listing_for_change(self.session, self.identity, product_id, lock=False)
        check_listing(product)
        async with self.storage.receive(
            upload, max_bytes=max_bytes, chunk_bytes=self.settings.upload_chunk_bytes, what=what
        ) as received:
            checked = await asyncio.to_thread(check_content, received)
            product = await relock(self.session, product)
            check_listing(product)
            key = await self.storage.keep(self.session, received, area)
        return Kept(product, received, key, checked)


def listing_upload(session: DbSession, identity: CurrentIdentity, storage: Storage, settings: Settings) -> ListingUpload:
    return ListingUpload(session, identity, storage, settings)


Uploading = Annotated[ListingUpload, Depends(listing_upload)]


def upload_limit(setting: str) -> Callable[[Endpoint], Endpoint]:
    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _ATTRIBUTE, setting)
        return endpoint

    return mark


class UploadLimitRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        setting = getattr(self.endpoint, _ATTRIBUTE, None)
        if setting is None:
            return handler

        async def guarded(request: Request) -> Response:
            limit = int(getattr(runtime_of(request).settings, setting))
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit + FORM_OVERHEAD_BYTES:
                raise PayloadTooLarge(f"The upload is too large: the limit is {human_size(limit)}.")
            return await handler(request)

        return guarded

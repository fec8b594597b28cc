"""FastAPI dependencies of the catalog's write side: settings and media storage."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from catalog.settings import CatalogSettings
from catalog.storage import MediaStorage


def get_settings(request: Request) -> CatalogSettings:
    return request.app.state.runtime.settings


def get_storage(request: Request) -> MediaStorage:
    return MediaStorage(get_settings(request).media_root)


Settings = Annotated[CatalogSettings, Depends(get_settings)]
Storage = Annotated[MediaStorage, Depends(get_storage)]

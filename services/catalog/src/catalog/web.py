"""FastAPI dependencies of the catalog's write side: its typed settings and its media storage."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from catalog.settings import CatalogSettings
from catalog.storage import MediaStorage
from homecraft_shared.dependencies import resource, settings_of

Settings = Annotated[CatalogSettings, Depends(settings_of(CatalogSettings))]
Storage = Annotated[MediaStorage, Depends(resource(MediaStorage))]

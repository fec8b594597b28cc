from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from homecraft_shared.settings import ServiceSettings

MB = 1024 * 1024


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore")

    service_name: str = "catalog"
    database_url: str = "sqlite+aiosqlite:///./var/data/catalog.db"

    # Listing media (write side): images and digital asset files live on disk under random keys.
    media_root: Path = Path("./var/data/catalog-media")
    max_image_bytes: int = Field(default=10 * MB, gt=0)
    max_asset_bytes: int = Field(default=100 * MB, gt=0)
    max_images_per_product: int = Field(default=20, gt=0)
    max_assets_per_product: int = Field(default=20, gt=0)
    upload_chunk_bytes: int = Field(default=1 * MB, gt=0)

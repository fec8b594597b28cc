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

    # Read side: lists, searches, home and category pages are read from the search projection's
    # snapshot with everything computed over it (docs/decisions/0111): no time-based cache. (The former
    # ``read_cache_seconds`` is ignored, like any unknown setting.)

    # Search projection (catalog.search, docs/decisions/0111): each process's own index, kept on disk
    # in a slot of its own under ``search_index_dir`` (a local disk; default: ``catalog-search`` beside
    # the media root), resumed at start-up and caught up from the change log, rebuilt from the
    # database when it cannot be; then following the change log every ``search_poll_seconds``.
    search_poll_seconds: float = Field(default=0.2, gt=0, le=1.0)
    search_index_dir: Path | None = None

    @property
    def search_index_root(self) -> Path:
        return self.search_index_dir or self.media_root.parent / "catalog-search"

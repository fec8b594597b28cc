"""The catalog service's app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.engine import make_url

from catalog import models  # noqa: F401  (registers the tables)
from catalog.assets.endpoints import router as assets_router
from catalog.browse.endpoints import router as browse_router
from catalog.categories.endpoints import router as categories_router
from catalog.handlers import handlers
from catalog.images.endpoints import router as images_router
from catalog.internal.endpoints import router as internal_router
from catalog.listings.endpoints import router as listings_router
from catalog.search.projection import SearchProjection
from catalog.settings import CatalogSettings
from catalog.storage import MediaStorage
from homecraft_shared.app import create_service_app
from homecraft_shared.db import InlineReads
from homecraft_shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"

# The write side: the internal API for orders, categories, listings and their media. The internal API
# comes first: routes are matched in order, and its price lookup is on every order placement's path
# (decision 0206).
WRITE_SIDE_ROUTERS = (internal_router, categories_router, listings_router, images_router, assets_router)


def create_runtime(settings: CatalogSettings | None = None) -> ServiceRuntime:
    settings = settings or CatalogSettings()
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS, handlers=handlers, on_start=[start_search])
    runtime.resources.add(MediaStorage(settings.media_root))
    # The internal lookup's reads (every order placement makes one) on a connection kept for the process.
    reads = InlineReads(runtime.engine)
    runtime.resources.add(reads, close=reads.aclose)
    # Per process too: the search projection (catalog.search), resumed or built when the service starts.
    search = SearchProjection(
        index_root=settings.search_index_root, poll_seconds=settings.search_poll_seconds,
        database=make_url(settings.database_url).render_as_string(hide_password=True),
    )
    runtime.resources.add(search, close=search.stop)
    return runtime


async def start_search(runtime: ServiceRuntime) -> None:
    """Build the search index from the database, then follow the change log (a supervised loop)."""
    search = runtime.resources.get(SearchProjection)
    await search.start(runtime.sessionmaker)
    runtime.spawn(search.follow(), "search-projection")


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    return create_service_app(
        create_runtime(settings),
        title="Home Craft 3D catalog",
        description="Categories, products, images, 3D files, listing workflow, browse, search, home.",
        routers=[
            *WRITE_SIDE_ROUTERS,
            browse_router,
        ],
    )

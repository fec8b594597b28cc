"""The catalog service's app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from catalog import models  # noqa: F401  (registers the tables)
from catalog.handlers import handlers
from catalog.settings import CatalogSettings
from homecraft_shared.app import create_service_app
from homecraft_shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_runtime(settings: CatalogSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or CatalogSettings(), migrations=MIGRATIONS, handlers=handlers)


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    return create_service_app(
        create_runtime(settings),
        title="Home Craft 3D catalog",
        description="Categories, products, images, 3D files, listing workflow, browse, search, home.",
    )

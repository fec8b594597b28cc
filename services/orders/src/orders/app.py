"""The orders service's app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from homecraft_shared.app import create_service_app
from homecraft_shared.runtime import ServiceRuntime
from orders import models  # noqa: F401  (registers the tables)
from orders.handlers import handlers
from orders.settings import OrdersSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_runtime(settings: OrdersSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or OrdersSettings(), migrations=MIGRATIONS, handlers=handlers)


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    return create_service_app(
        create_runtime(settings),
        title="Home Craft 3D orders",
        description="Orders, lines and money snapshots, timeline, guest tokens, download entitlements, site configuration.",
    )

"""The gateway's app factory: the storefront pages, composed from the services."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from gateway import models  # noqa: F401  (registers the tables)
from gateway.clients import open_clients
from gateway.handlers import handlers
from gateway.settings import GatewaySettings
from gateway.storefront.endpoints import router as storefront_router
from homecraft_shared.app import create_service_app
from homecraft_shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_runtime(settings: GatewaySettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(
        settings or GatewaySettings(),
        migrations=MIGRATIONS,
        handlers=handlers,
        on_start=[open_clients],
    )


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    return create_service_app(
        create_runtime(settings),
        title="Home Craft 3D gateway",
        description="The storefront: pages, sessions, sign-in, accounts and the cart; composes pages from the services.",
        routers=[storefront_router],
    )

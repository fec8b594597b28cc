"""The orders service's app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from homecraft_shared.app import create_service_app
from homecraft_shared.http_client import ServiceClient
from homecraft_shared.outgoing_mail import MailWorker
from homecraft_shared.runtime import ServiceRuntime
from orders import models  # noqa: F401  (registers the tables)
from orders.downloads.endpoints import router as downloads_router
from orders.handlers import HandlerContext, bind, handlers
from orders.internal.endpoints import router as internal_router
from orders.placing.endpoints import router as placing_router
from orders.reconciliation.endpoints import router as reconciliation_router
from orders.settings import OrdersSettings
from orders.siteconfig.endpoints import router as siteconfig_router
from orders.siteconfig.service import SiteConfigCache
from orders.views.endpoints import router as views_router
from orders.web import PlacingParts

MIGRATIONS = Path(__file__).parent / "migrations"


async def _start(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, OrdersSettings)
    catalog = ServiceClient(settings.catalog_url, timeout=settings.catalog_timeout_seconds)
    runtime.resources.add(catalog, close=catalog.aclose)
    config_cache = runtime.resources.add(SiteConfigCache(settings.site_config_cache_seconds, max_entries=4))
    # The runtime's group commit: its own two connections (the placements waiting for it hold theirs
    # from the runtime's pool).
    runtime.resources.add(PlacingParts(runtime.engine, runtime.sessionmaker, catalog, config_cache,
                                       runtime.service_signer, runtime.group))
    bind(HandlerContext(settings=settings, catalog=catalog, signer=runtime.service_signer))
    runtime.spawn(MailWorker(runtime.sessionmaker, settings.smtp()).run(), "mail-worker")


def create_runtime(settings: OrdersSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or OrdersSettings(), migrations=MIGRATIONS, handlers=handlers,
                          on_start=[_start])


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    return create_service_app(
        create_runtime(settings),
        title="Home Craft 3D orders",
        description="Orders, lines and money snapshots, timeline, guest tokens, download entitlements, site configuration.",
        routers=[placing_router, views_router, downloads_router, siteconfig_router, reconciliation_router, internal_router],
    )

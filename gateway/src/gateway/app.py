"""The gateway's app factory: the storefront pages, composed from the services."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from gateway import models  # noqa: F401  (registers the tables)
from gateway.accounts.endpoints import open_limits
from gateway.accounts.endpoints import router as accounts_router
from gateway.accounts.profile import router as profile_router
from gateway.clients import open_clients
from gateway.engagement import open_recorder
from gateway.handlers import handlers
from gateway.internal.endpoints import router as internal_router
from gateway.pages import env
from gateway.sessions import CsrfRefused
from gateway.settings import GatewaySettings
from gateway.storefront.aftercare import router as aftercare_router
from gateway.storefront.endpoints import router as storefront_router
from homecraft_shared.app import create_service_app
from homecraft_shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"
STATIC = Path(__file__).parent / "static"


def create_runtime(settings: GatewaySettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(
        settings or GatewaySettings(),
        migrations=MIGRATIONS,
        handlers=handlers,
        on_start=[open_clients, open_recorder, open_limits],
    )


async def _csrf_refused(request: Request, exc: Exception) -> HTMLResponse:
    reason = f" ({exc})" if str(exc) else ""
    body = env.get_template("error.html").render(
        user=None, cart_count=0, csrf_token="", flashes=[], query="", title="Form expired",
        message="This form was refused: it did not carry this session's security token"
                f"{reason}. Go back, reload the page and try again.")
    return HTMLResponse(body, status_code=403)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    app = create_service_app(
        create_runtime(settings),
        title="Home Craft 3D gateway",
        description="The storefront: pages, sessions, sign-in, accounts and the cart; composes pages from the services.",
        routers=[accounts_router, profile_router, storefront_router, aftercare_router, internal_router],
    )
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app

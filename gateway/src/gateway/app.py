"""The gateway's app factory: the storefront pages, composed from the services."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from gateway import models  # noqa: F401  (registers the tables)
from gateway.accounts.endpoints import open_limits
from gateway.accounts.endpoints import router as accounts_router
from gateway.accounts.profile import router as profile_router
from gateway.clients import open_clients
from gateway.composition import open_shared_page_data
from gateway.engagement import open_recorder
from gateway.handlers import handlers
from gateway.internal.endpoints import router as internal_router
from gateway.pagecache import PageCache, PageCacheMiddleware, SessionStates
from gateway.pages import env
from gateway.sessions import CsrfRefused, sweep_expired_sessions
from gateway.settings import GatewaySettings
from gateway.storefront.aftercare import router as aftercare_router
from gateway.storefront.endpoints import router as storefront_router
from homecraft_shared.app import create_service_app
from homecraft_shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"
STATIC = Path(__file__).parent / "static"


async def start_session_sweep(runtime: ServiceRuntime) -> None:
    assert isinstance(runtime.settings, GatewaySettings)
    runtime.spawn(sweep_expired_sessions(runtime.sessionmaker, runtime.settings.session_sweep_seconds),
                  "session-sweep")


def create_runtime(settings: GatewaySettings | None = None) -> ServiceRuntime:
    settings = settings or GatewaySettings()
    runtime = ServiceRuntime(
        settings,
        migrations=MIGRATIONS,
        handlers=handlers,
        on_start=[open_clients, open_shared_page_data, open_recorder, open_limits, start_session_sweep],
    )
    runtime.resources.add(PageCache(settings.page_cache_seconds))
    states = SessionStates(runtime.engine)
    runtime.resources.add(states, close=states.aclose)
    return runtime


def _bare_page(template: str, status: int, **data: object) -> HTMLResponse:
    """A page answered from an exception handler: no session, no service call."""
    body = env.get_template(template).render(user=None, cart_count=0, csrf_token="", flashes=[], query="",
                                             nav=None, **data)
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def _csrf_refused(request: Request, exc: Exception) -> HTMLResponse:
    reason = f" ({exc})" if str(exc) else ""
    return _bare_page("error.html", 403, title="Form expired",
                      message="This form was refused: it did not carry this session's security token"
                              f"{reason}. Go back, reload the page and try again.")


async def _not_found(request: Request, exc: Exception) -> HTMLResponse:
    """An address the storefront does not have: the not-found page (people read it, not programs)."""
    return _bare_page("not_found.html", 404)


async def _invalid_address(request: Request, exc: Exception) -> HTMLResponse:
    """A malformed id in the path is a page that does not exist (404); a bad query value (a page
    number of 0) says which one and how to fix it (400)."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("loc", ("",))[0] == "path" for e in errors):
        return _bare_page("not_found.html", 404)
    fields = "; ".join(f"{e['loc'][-1]}: {e.get('msg', 'invalid')}" for e in errors if e.get("loc"))
    return _bare_page("error.html", 400, title="That address is not valid",
                      message=f"This address has a value the shop cannot use ({fields}). Check it, or start again "
                              "from the home page.")


AnyHandler = Callable[[Request, Any], Response | Awaitable[Response]]


def _for_pages(page: AnyHandler, api: AnyHandler) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handler(request: Request, exc: Exception) -> Response:
        answer = (api if request.url.path.startswith(JSON_PREFIXES) else page)(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    return handler


JSON_PREFIXES = ("/internal/", "/healthz", "/readyz", "/openapi.json", "/docs")


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    app = create_service_app(
        create_runtime(settings),
        title="Home Craft 3D gateway",
        description="The storefront: pages, sessions, sign-in, accounts and the cart; composes pages from the services.",
        routers=[accounts_router, profile_router, storefront_router, aftercare_router, internal_router],
    )
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    # Pages answer pages; the JSON API under /internal keeps the shared problem+json answers.
    app.add_exception_handler(404, _for_pages(_not_found, app.exception_handlers[StarletteHTTPException]))
    app.add_exception_handler(RequestValidationError,
                              _for_pages(_invalid_address, app.exception_handlers[RequestValidationError]))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Outside everything, FastAPI's own middleware included: kept anonymous pages are answered before
    # the request pipeline (decision 0702).
    build = app.build_middleware_stack
    runtime = app.state.runtime

    def build_middleware_stack() -> ASGIApp:
        return PageCacheMiddleware(build(), runtime)

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]
    return app

"""The app factory every service uses: lifespan, middleware, problem errors, health and readiness."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from homecraft_shared.errors import install_error_handlers
from homecraft_shared.observability import CorrelationMiddleware, configure_logging
from homecraft_shared.runtime import ServiceRuntime

health_router = APIRouter(tags=["health"])


@health_router.get("/healthz", summary="Liveness: the process answers")
async def healthz(request: Request) -> dict[str, str]:
    return {"status": "ok", "service": request.app.state.runtime.name}


@health_router.get("/readyz", summary="Readiness: database and NATS reachable")
async def readyz(request: Request) -> JSONResponse:
    runtime: ServiceRuntime = request.app.state.runtime
    checks = await runtime.readiness()
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "service": runtime.name, "checks": checks},
        status_code=200 if ready else 503,
    )


def create_service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    version: str = "0.1.0",
) -> FastAPI:
    settings = runtime.settings
    configure_logging(runtime.name, settings.log_level, settings.log_json)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    app.state.runtime = runtime
    app.add_middleware(CorrelationMiddleware)
    install_error_handlers(app)
    app.include_router(health_router)
    for router in routers:
        app.include_router(router)
    return app

"""The app factory every service uses: lifespan, middleware, problem errors, health and readiness."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select

from homecraft_shared.db import utcnow
from homecraft_shared.dependencies import runtime_of
from homecraft_shared.errors import install_error_handlers
from homecraft_shared.messaging.tables import DeadLetter, OutboxEvent
from homecraft_shared.observability import CorrelationMiddleware, configure_logging, render_counters
from homecraft_shared.openapi import install_openapi
from homecraft_shared.runtime import ServiceRuntime

health_router = APIRouter(tags=["health"])


@health_router.get("/healthz", summary="Liveness: the process answers")
async def healthz(request: Request) -> dict[str, str]:
    return {"status": "ok", "service": runtime_of(request).name}


@health_router.get(
    "/readyz",
    summary="Readiness: database and NATS reachable",
    responses={503: {"description": "Not ready: the checks say which part is not ok"}},
)
async def readyz(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    checks = await runtime.readiness()
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "service": runtime.name, "checks": checks},
        status_code=200 if ready else 503,
    )


@health_router.get("/metrics", response_class=PlainTextResponse, summary="Operator metrics (Prometheus text)")
async def metrics(request: Request) -> str:
    """Event-flow gauges an operator alerts on: an outbox that does not drain, dead letters waiting; and
    the process's counters (slow group-commit batches, event-loop lag: decision 0309)."""
    runtime = runtime_of(request)
    async with runtime.sessionmaker() as session:
        unpublished = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))
        )
        oldest = await session.scalar(select(func.min(OutboxEvent.created_at)).where(OutboxEvent.published_at.is_(None)))
        failing = await session.scalar(
            select(func.count()).select_from(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None), OutboxEvent.last_error.is_not(None))
        )
        dead = await session.scalar(
            select(func.count()).select_from(DeadLetter).where(DeadLetter.replayed_at.is_(None))
        )
    age = (utcnow() - oldest).total_seconds() if oldest else 0.0
    labels = f'service="{runtime.name}"'
    return (
        "# HELP homecraft_outbox_unpublished Events committed but not yet acked by JetStream.\n"
        "# TYPE homecraft_outbox_unpublished gauge\n"
        f"homecraft_outbox_unpublished{{{labels}}} {unpublished or 0}\n"
        "# HELP homecraft_outbox_oldest_unpublished_seconds Age of the oldest unpublished event.\n"
        "# TYPE homecraft_outbox_oldest_unpublished_seconds gauge\n"
        f"homecraft_outbox_oldest_unpublished_seconds{{{labels}}} {age:.3f}\n"
        "# HELP homecraft_outbox_failing Unpublished events whose last publish failed (e.g. JetStream refuses them).\n"
        "# TYPE homecraft_outbox_failing gauge\n"
        f"homecraft_outbox_failing{{{labels}}} {failing or 0}\n"
        "# HELP homecraft_dead_letters Events that exhausted their attempts and await a replay.\n"
        "# TYPE homecraft_dead_letters gauge\n"
        f"homecraft_dead_letters{{{labels}}} {dead or 0}\n"
        + render_counters(labels)
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

    # FastAPI's own OpenTelemetry instrumentation is off: our observability is JSON logs with correlation ids and
    # /metrics, and left on, every request asks OpenTelemetry's global providers whether it is on (decision 0325).
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.runtime = runtime
    install_error_handlers(app)  # its 500 middleware must sit inside the correlation middleware
    app.add_middleware(CorrelationMiddleware)
    install_openapi(app)
    app.include_router(health_router)
    for router in routers:
        app.include_router(router)
    return app

"""The engagement service's app factory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import FastAPI

from engagement import models  # noqa: F401  (registers the tables)
from engagement.analytics.endpoints import router as analytics_router
from engagement.handlers import handlers
from engagement.ingestion.buffer import IngestionBuffer
from engagement.ingestion.endpoints import router as ingestion_router
from engagement.ingestion.housekeeping import run_pruner
from engagement.qa.endpoints import router as qa_router
from engagement.reviews.endpoints import router as reviews_router
from engagement.settings import EngagementSettings
from engagement.trending import service as trending
from engagement.trending.endpoints import router as trending_router
from homecraft_shared.app import create_service_app
from homecraft_shared.ratelimit import RateLimiter
from homecraft_shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


async def _start_loops(runtime: ServiceRuntime) -> None:
    settings: EngagementSettings = runtime.settings  # type: ignore[assignment]
    buffer = IngestionBuffer(
        runtime.sessionmaker,
        session_life=dt.timedelta(hours=settings.visitor_session_hours),
        max_pending=settings.ingest_max_pending,
        max_batch=settings.ingest_max_batch,
        flush_seconds=settings.ingest_flush_seconds,
    )
    runtime.resources.add(buffer)
    runtime.spawn(buffer.run(), "ingestion-buffer")
    runtime.spawn(
        trending.run_loop(runtime.sessionmaker, settings.trending_interval_seconds, settings.trending_max_per_event),
        "trending-refresh",
    )
    runtime.spawn(
        run_pruner(runtime.sessionmaker, dt.timedelta(days=settings.raw_event_retention_days),
                   settings.retention_interval_seconds),
        "engagement-pruner",
    )


async def _flush_ingestion(runtime: ServiceRuntime) -> None:
    try:
        buffer = runtime.resources.get(IngestionBuffer)
    except LookupError:
        return  # never started
    await buffer.flush()


def create_runtime(settings: EngagementSettings | None = None) -> ServiceRuntime:
    settings = settings or EngagementSettings()
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS, handlers=handlers,
                             on_start=[_start_loops], on_stop=[_flush_ingestion])
    # Q&A posting limits per user (threads, replies, reports): docs/decisions/0504.
    runtime.resources.add(RateLimiter(settings.qa_post_rate_limits, storage_uri=settings.rate_limit_storage,
                                      what="Q&A posts"))
    return runtime


def create_app(settings: EngagementSettings | None = None) -> FastAPI:
    return create_service_app(
        create_runtime(settings),
        title="Home Craft 3D engagement",
        description="Engagement events, trending scores, reviews, seller ratings, Q&A and reports.",
        routers=[ingestion_router, trending_router, reviews_router, qa_router, analytics_router],
    )

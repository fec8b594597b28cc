"""The engagement service's app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from engagement import models  # noqa: F401  (registers the tables)
from engagement.handlers import handlers
from engagement.settings import EngagementSettings
from homecraft_shared.app import create_service_app
from homecraft_shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_runtime(settings: EngagementSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or EngagementSettings(), migrations=MIGRATIONS, handlers=handlers)


def create_app(settings: EngagementSettings | None = None) -> FastAPI:
    return create_service_app(
        create_runtime(settings),
        title="Home Craft 3D engagement",
        description="Engagement events, trending scores, reviews, seller ratings, Q&A and reports.",
    )

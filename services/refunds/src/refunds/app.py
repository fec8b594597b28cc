"""The refunds service's app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from homecraft_shared.app import create_service_app
from homecraft_shared.runtime import ServiceRuntime
from refunds import models  # noqa: F401  (registers the tables)
from refunds.handlers import handlers
from refunds.settings import RefundsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_runtime(settings: RefundsSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or RefundsSettings(), migrations=MIGRATIONS, handlers=handlers)


def create_app(settings: RefundsSettings | None = None) -> FastAPI:
    return create_service_app(
        create_runtime(settings),
        title="Home Craft 3D refunds",
        description="Refund requests, allocation snapshots, lifecycle and queues.",
    )

"""The payments service's app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from homecraft_shared.app import create_service_app
from homecraft_shared.runtime import ServiceRuntime
from payments import models  # noqa: F401  (registers the tables)
from payments.handlers import handlers
from payments.settings import PaymentsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_runtime(settings: PaymentsSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or PaymentsSettings(), migrations=MIGRATIONS, handlers=handlers)


def create_app(settings: PaymentsSettings | None = None) -> FastAPI:
    return create_service_app(
        create_runtime(settings),
        title="Home Craft 3D payments",
        description="Stripe Connect, checkout, webhooks, transfers, refunds, disputes and the seller ledger.",
    )

"""The payments service's app factory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import FastAPI

from homecraft_shared.app import create_service_app
from homecraft_shared.http_client import ServiceClient
from homecraft_shared.runtime import ServiceRuntime
from payments import models  # noqa: F401  (registers the tables)
from payments.adjustments.endpoints import router as adjustments_router
from payments.checkout.endpoints import router as checkout_router
from payments.connect.endpoints import router as connect_router
from payments.deps import Deps, attach
from payments.handlers import handlers
from payments.ledger.endpoints import router as ledger_router
from payments.payouts import transfers
from payments.payouts.endpoints import router as payouts_router
from payments.reconciliation import job as reconciliation_job
from payments.reconciliation.endpoints import router as reconciliation_router
from payments.refunds.endpoints import router as refunds_router
from payments.settings import PaymentsSettings
from payments.stripe_gateway import StripeGateway
from payments.webhooks.endpoints import intake_router as webhook_intake_router
from payments.webhooks.endpoints import router as webhooks_router
from payments.webhooks.processing import run_sweeper
from payments.webhooks.service import LostFacts, WebhookIntake

MIGRATIONS = Path(__file__).parent / "migrations"

ROUTERS = (webhook_intake_router, webhooks_router, connect_router, checkout_router, ledger_router, payouts_router, refunds_router,
           reconciliation_router, adjustments_router)


def create_runtime(settings: PaymentsSettings | None = None) -> ServiceRuntime:
    settings = settings or PaymentsSettings()
    deps = Deps(settings=settings, stripe=StripeGateway(settings),
                orders=ServiceClient(settings.orders_url, timeout=settings.orders_timeout_seconds))

    async def close_clients(_: ServiceRuntime) -> None:
        await deps.orders.aclose()
        await deps.stripe.aclose()

    async def start_sweeper(running: ServiceRuntime) -> None:
        # Webhooks are stored through the runtime's group commit (decision 0307).
        running.resources.add(WebhookIntake(running.group, deps.stripe.webhook_secret,
                                            deps.stripe.connect_webhook_secret, deps.stripe.tolerance_seconds))
        running.spawn(run_sweeper(running.sessionmaker, settings.waiting_sweep_seconds), "waiting-sweeper")
        lost_facts = LostFacts(handlers.consumer_name, dt.timedelta(seconds=settings.lost_fact_after_seconds))
        running.spawn(lost_facts.run(running.sessionmaker), "lost-fact-sweeper")
        running.spawn(transfers.run_maker(running.sessionmaker, settings.transfer_poll_seconds,
                                          settings.transfers_at_once), "transfer-maker")
        if settings.reconciliation_scheduled:
            running.spawn(reconciliation_job.run_loop(running.sessionmaker, deps), "reconciliation")

    runtime = ServiceRuntime(settings, migrations=MIGRATIONS, handlers=handlers, on_start=[start_sweeper],
                             on_stop=[close_clients])
    attach(runtime.sessionmaker, deps)
    runtime.state["deps"] = deps
    return runtime


def create_app(settings: PaymentsSettings | None = None) -> FastAPI:
    return create_service_app(
        create_runtime(settings),
        title="Home Craft 3D payments",
        description="Stripe Connect, checkout, webhooks, transfers, refunds, disputes and the seller ledger.",
        routers=ROUTERS,
    )

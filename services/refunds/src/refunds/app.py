"""The refunds service's app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from homecraft_shared.app import create_service_app
from homecraft_shared.http_client import ServiceClient
from homecraft_shared.outgoing_mail import HttpContactDirectory, MailWorker
from homecraft_shared.ratelimit import RateLimiter
from homecraft_shared.runtime import ServiceRuntime
from refunds import models  # noqa: F401  (registers the tables)
from refunds.clients import PeerServices
from refunds.escalation import service as escalation
from refunds.handlers import handlers
from refunds.ratelimits import RequestRateLimits
from refunds.requests.endpoints import router as requests_router
from refunds.settings import RefundsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


async def _start_loops(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, RefundsSettings)
    # Registered users' addresses are resolved when each email is sent, from the gateway (decision 0602).
    contacts = HttpContactDirectory(runtime.resources.get(PeerServices).gateway, runtime.service_signer)
    runtime.spawn(MailWorker(runtime.sessionmaker, settings.smtp(), contacts).run(), "mail-worker")
    runtime.spawn(escalation.run_loop(runtime.sessionmaker, settings), "escalation")


async def _close_peers(runtime: ServiceRuntime) -> None:
    await runtime.resources.get(PeerServices).aclose()


def create_runtime(settings: RefundsSettings | None = None) -> ServiceRuntime:
    settings = settings or RefundsSettings()
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS, handlers=handlers, on_start=[_start_loops],
                             on_stop=[_close_peers])
    runtime.resources.add(PeerServices(
        orders=ServiceClient(settings.orders_url, timeout=settings.call_timeout_seconds),
        payments=ServiceClient(settings.payments_url, timeout=settings.call_timeout_seconds),
        gateway=ServiceClient(settings.gateway_url, timeout=settings.call_timeout_seconds),
        signer=runtime.service_signer,
    ))
    runtime.resources.add(RequestRateLimits(
        per_buyer=RateLimiter(settings.request_rate_limits_per_buyer, storage_uri=settings.rate_limit_storage,
                              what="refund requests from you"),
        per_order=RateLimiter(settings.request_rate_limits_per_order, storage_uri=settings.rate_limit_storage,
                              what="refund requests on this order"),
    ))
    return runtime


def create_app(settings: RefundsSettings | None = None) -> FastAPI:
    return create_service_app(
        create_runtime(settings),
        title="Home Craft 3D refunds",
        description="Refund requests, allocation snapshots, lifecycle, escalation and queues.",
        routers=[requests_router],
    )

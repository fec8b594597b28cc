"""The stand-in's app factory: the ``/v1`` API, the hosted pages, the controls (when enabled),
health endpoints, and the webhook worker started and stopped with the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from stripe_standin import api, controls, pages
from stripe_standin.engine import Standin
from stripe_standin.store import Store
from stripe_standin.webhooks import CONNECT, PLATFORM, Chaos, Deliverer, Endpoint, RetryPolicy, WebhookDelivery

DEFAULT_API_KEY = "sk_test_standin_offline"
DEFAULT_PLATFORM_SECRET = "whsec_standin_platform_offline"
DEFAULT_CONNECT_SECRET = "whsec_standin_connect_offline"


@dataclass
class StandinConfig:
    api_key: str | None = DEFAULT_API_KEY  # None: any sk_test_ key is accepted
    database: str | None = None  # a SQLite file; None keeps everything in memory
    public_url: str | None = None  # base of hosted-page URLs; None: the address the caller used
    platform_webhook_url: str | None = None
    platform_webhook_secret: str = DEFAULT_PLATFORM_SECRET
    connect_webhook_url: str | None = None
    connect_webhook_secret: str = DEFAULT_CONNECT_SECRET
    controls: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    chaos: Chaos = field(default_factory=Chaos)
    webhook_delivery: WebhookDelivery = field(default_factory=WebhookDelivery)
    default_currency: str = "usd"


def create_app(config: StandinConfig | None = None) -> FastAPI:
    config = config or StandinConfig()
    store = Store(config.database)
    deliverer = Deliverer(
        store,
        {
            PLATFORM: Endpoint(PLATFORM, config.platform_webhook_url, config.platform_webhook_secret),
            CONNECT: Endpoint(CONNECT, config.connect_webhook_url, config.connect_webhook_secret),
        },
        config.retry,
        config.chaos,
        config.webhook_delivery,
    )
    engine = Standin(store, deliverer, config.default_currency)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await deliverer.start()
        try:
            yield
        finally:
            await deliverer.stop()
            store.close()

    app = FastAPI(title="Stripe stand-in (offline)", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine
    app.state.config = config

    @app.get("/healthz")
    @app.get("/readyz")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "service": "stripe-standin"})

    if config.controls:
        app.include_router(controls.router(engine))
    app.include_router(pages.router(engine))
    app.include_router(api.router(api.Api(engine, config.api_key, config.public_url)))
    return app

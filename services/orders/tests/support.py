"""Real parts for the orders tests: a seeded catalog process over HTTP (with its own nats-server),
a real SMTP server (the shared one, homecraft_shared.testing.mail) and the orders app itself."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.testing import bearer, serve_app
from homecraft_shared.testing.infra import NatsServer, service_process
from homecraft_shared.testing.mail import Mailbox as Mailbox  # re-exported for this suite's modules
from homecraft_shared.testing.mail import smtp_server as smtp_server
from orders.app import create_app
from orders.models import Order
from orders.settings import OrdersSettings


@dataclass
class CatalogProcess:
    url: str
    products: list[dict[str, Any]]

    def pick(self, *, kind: str, ready: bool = True, free: bool = False) -> dict[str, Any]:
        for p in self.products:
            if p["kind"] == kind and p["can_buy"] == ready and p["is_free"] == free:
                return p
        raise LookupError(f"no seeded product kind={kind} ready={ready} free={free}")


@contextlib.contextmanager
def catalog_process(folder: Path, gateway_public: str, orders_public: str) -> Iterator[CatalogProcess]:
    """The seeded catalog as a real process that trusts orders' service key (it answers the lookup)."""
    nats = NatsServer(folder / "nats")
    nats.start()
    database_url = f"sqlite+aiosqlite:///{folder / 'catalog.db'}"
    trusted = {"CATALOG_TRUSTED_SERVICE_KEYS": json.dumps({"orders": orders_public})}
    try:
        seed_env = {**os.environ, "CATALOG_DATABASE_URL": database_url, "CATALOG_NATS_URL": nats.url,
                    "CATALOG_IDENTITY_PUBLIC_KEY": gateway_public, "CATALOG_MEDIA_ROOT": str(folder / "media"), **trusted}
        subprocess.run([sys.executable, "-m", "catalog", "seed"], env=seed_env, check=True, capture_output=True, timeout=120)
        with service_process("catalog", database_url, nats.url, gateway_public, folder, env=trusted) as url:
            products = httpx.get(f"{url}/browse", params={"page_size": 48}, timeout=10).json()["items"]
            yield CatalogProcess(url=url, products=products)
    finally:
        nats.stop()


@dataclass
class Keys:
    gateway_private: str
    gateway_public: str
    orders_private: str
    orders_public: str

    def user(self, user_id: str, *roles: str) -> dict[str, str]:
        return bearer(self.gateway_private, user_id, *roles)


@dataclass
class Orders:
    client: httpx.AsyncClient
    app: FastAPI
    keys: Keys
    catalog: CatalogProcess

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    async def count(self, model: Any = Order) -> int:
        async with self.runtime.sessionmaker() as session:
            return await session.scalar(select(func.count()).select_from(model)) or 0

    async def outbox(self, subject: str | None = None) -> list[dict[str, Any]]:
        async with self.runtime.sessionmaker() as session:
            rows = await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))
            events = [json.loads(row.payload) for row in rows]
        return [e for e in events if subject is None or f"{e['type']}.v{e['version']}" == subject]

    async def place(self, lines: list[tuple[str, int]], *, user: str | None = None, roles: tuple[str, ...] = (),
                    guest_email: str | None = None, key: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {"lines": [{"product_id": p, "quantity": q} for p, q in lines]}
        if guest_email is not None:
            body["guest_email"] = guest_email
        headers = {"Idempotency-Key": key or os.urandom(8).hex()}
        if user is not None:
            headers.update(self.keys.user(user, *roles))
        return await self.client.post("/orders", json=body, headers=headers)


def orders_settings(database_url: str, nats_url: str, keys: Keys, catalog: CatalogProcess, smtp_port: int,
                    **overrides: Any) -> OrdersSettings:
    values: dict[str, Any] = dict(
        database_url=database_url, nats_url=nats_url, catalog_url=catalog.url,
        identity_public_key=keys.gateway_public, service_private_key=keys.orders_private,
        trusted_service_keys={"orders": keys.orders_public}, smtp_port=smtp_port, mail_poll_seconds=0.1,
        mail_backoff_seconds=(0.2, 0.5), site_config_cache_seconds=0, relay_poll_seconds=0.1,
        public_base_url="http://storefront.test", log_level="WARNING",
    )
    return OrdersSettings(**{**values, **overrides})


@contextlib.asynccontextmanager
async def running_orders(settings: OrdersSettings, keys: Keys, catalog: CatalogProcess) -> AsyncIterator[Orders]:
    app = create_app(settings)
    async with serve_app(app) as client:
        yield Orders(client=client, app=app, keys=keys, catalog=catalog)

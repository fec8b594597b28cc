"""One test harness for every service: the real app (migrations, NATS, relay, consumers) over ASGI,
identity tokens per role, events delivered through the real consumer path, the outbox and row counts.

A service's tests subclass ``ServiceHarness`` for their own API shortcuts and build it with
``running_service`` in one fixture (see services/catalog/tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.messaging.consumer import apply_event
from homecraft_shared.messaging.contracts import EventData
from homecraft_shared.messaging.outbox import envelope_for
from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.runtime import ServiceRuntime
from homecraft_shared.testing import bearer, serve_app

H = TypeVar("H", bound="ServiceHarness")


@dataclass
class ServiceHarness:
    client: httpx.AsyncClient
    app: FastAPI
    private_pem: str

    @property
    def runtime(self) -> ServiceRuntime:
        runtime = self.app.state.runtime
        assert isinstance(runtime, ServiceRuntime)
        return runtime

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self.runtime.sessionmaker

    # --- identities (tokens signed as the gateway would) ---
    def as_user(self, user_id: str, *roles: str) -> dict[str, str]:
        return bearer(self.private_pem, user_id, *roles)

    def seller(self, user_id: str = "seller-1") -> dict[str, str]:
        return self.as_user(user_id, "seller")

    def owner(self, user_id: str = "owner-1") -> dict[str, str]:
        return self.as_user(user_id, "owner")

    def consumer(self, user_id: str = "buyer-1") -> dict[str, str]:
        return self.as_user(user_id)

    def service(self, name: str = "orders") -> dict[str, str]:
        return self.as_user(name, "service")

    # --- HTTP ---
    async def get(self, path: str, **params: Any) -> Any:
        """GET that must answer 200; its JSON body."""
        response = await self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    # --- database ---
    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session committed when the block ends (for arranging rows and reading them back)."""
        async with self.sessionmaker() as session:
            yield session
            await session.commit()

    async def count(self, model: type[Any]) -> int:
        async with self.sessionmaker() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def counts(self, *models: type[Any]) -> dict[str, int]:
        """Rows per table, for "nothing was written" assertions."""
        return {model.__name__: await self.count(model) for model in models}

    async def outbox(self) -> list[OutboxEvent]:
        async with self.sessionmaker() as session:
            return list((await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))).all())

    # --- events ---
    async def deliver(self, data: EventData, *, event_id: uuid.UUID | None = None, subject_id: str = "test") -> bool:
        """Apply an event as the service's consumer would (handler and inbox row, one transaction);
        False when this event id was already applied."""
        handlers = self.runtime.handlers
        assert handlers is not None, f"{self.runtime.name} consumes no events"
        envelope = envelope_for(data, subject_id=subject_id, event_id=event_id)
        async with self.sessionmaker() as session:
            applied = await apply_event(session, handlers, envelope)
            await session.commit()
        return applied


@contextlib.asynccontextmanager
async def running_service(app: FastAPI, private_pem: str, harness: type[H]) -> AsyncIterator[H]:
    """Run ``app`` with its real lifespan and hand the tests a ``harness`` around it."""
    async with serve_app(app) as client:
        yield harness(client=client, app=app, private_pem=private_pem)

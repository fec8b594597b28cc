"""The helpers every service's feature code uses: field errors, integrity races as 409, the typed
settings and resource dependencies, and the service-role guard of internal endpoints."""

from __future__ import annotations

import gc
import uuid
import warnings
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.app import create_service_app
from homecraft_shared.db import flush_or_conflict, utcnow
from homecraft_shared.dependencies import ServiceIdentity, resource, settings_of
from homecraft_shared.errors import Conflict, FieldErrors, ValidationFailed, invalid_field
from homecraft_shared.messaging.tables import InboxEvent
from homecraft_shared.runtime import ServiceRuntime
from homecraft_shared.settings import ServiceSettings
from homecraft_shared.testing import bearer, serve_app

MIGRATIONS = Path(__file__).resolve().parents[2] / "services/orders/src/orders/migrations"


def test_field_errors_raise_every_collected_problem_as_one_422() -> None:
    errors = FieldErrors()
    errors.raise_if_any()  # nothing collected: no error
    errors.add("price_cents", "Price must be positive.")
    errors.add("title", "Add a title.")
    with pytest.raises(ValidationFailed) as raised:
        errors.raise_if_any(prefix="Cannot save: ")
    assert raised.value.status == 422
    assert raised.value.detail == "Cannot save: Price must be positive. Add a title."
    assert raised.value.errors == [
        {"field": "price_cents", "message": "Price must be positive."},
        {"field": "title", "message": "Add a title."},
    ]


def test_invalid_field_names_the_field_and_repeats_the_message_unless_told() -> None:
    assert invalid_field("type", "Choose a type.").detail == "Choose a type."
    problem = invalid_field("ids", "must be a permutation", detail="List every id once.")
    assert (problem.detail, problem.errors) == ("List every id once.", [{"field": "ids", "message": "must be a permutation"}])


async def test_flush_or_conflict_turns_a_unique_violation_into_a_409(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    event_id = uuid.uuid4()

    def row() -> InboxEvent:
        return InboxEvent(consumer="demo", event_id=event_id, event_type="x", processed_at=utcnow())

    async with sessionmaker() as session:
        session.add(row())
        await flush_or_conflict(session, "taken")  # no violation: nothing raised
        session.add(row())
        with pytest.raises(Conflict, match=r"^someone else took it$"):
            await flush_or_conflict(session, "someone else took it")


class DemoSettings(ServiceSettings):
    flavour: str = "plain"


class Counter:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


demo = APIRouter()


@demo.get("/flavour")
async def flavour(settings: Annotated[DemoSettings, Depends(settings_of(DemoSettings))]) -> str:
    return settings.flavour


@demo.get("/counter")
async def counter(found: Annotated[Counter, Depends(resource(Counter))]) -> bool:
    return found.closed


@demo.get("/internal/ping")
async def internal_ping(caller: ServiceIdentity) -> str:
    return caller.user_id


async def test_typed_settings_resources_and_service_role(
    database_url: str, nats_url: str, identity_keys: tuple[str, str]
) -> None:
    private_pem, public_pem = identity_keys
    settings = DemoSettings(service_name="demo", database_url=database_url, nats_url=nats_url,
                            identity_public_key=public_pem, flavour="salted")
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS)
    held = Counter()
    runtime.resources.add(held, close=held.close)
    async with serve_app(create_service_app(runtime, title="demo", description="", routers=[demo])) as client:
        assert (await client.get("/flavour")).json() == "salted"
        assert (await client.get("/counter")).json() is False
        assert (await client.get("/internal/ping")).status_code == 401
        assert (await client.get("/internal/ping", headers=bearer(private_pem, "buyer-1"))).status_code == 403
        orders = await client.get("/internal/ping", headers=bearer(private_pem, "orders", "service"))
        assert orders.json() == "orders"
        owner = await client.get("/internal/ping", headers=bearer(private_pem, "owner-1", "owner"))
        assert owner.json() == "owner-1"
    assert held.closed, "resources given a close are closed when the runtime stops"
    with pytest.raises(LookupError, match="no DemoSettings among"):
        runtime.resources.get(DemoSettings)


async def test_a_loop_spawned_and_stopped_before_it_ran_leaves_no_never_awaited_coroutine(
    database_url: str, nats_url: str, identity_keys: tuple[str, str]
) -> None:
    _, public_pem = identity_keys
    runtime = ServiceRuntime(DemoSettings(service_name="demo", database_url=database_url, nats_url=nats_url,
                                          identity_public_key=public_pem), migrations=MIGRATIONS)
    ran: list[str] = []

    async def loop() -> None:
        ran.append("loop")

    runtime.spawn(loop(), "never-scheduled")  # stopped before the event loop gives it a step
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await runtime.stop()
        gc.collect()
    assert ran == []
    assert not [w for w in caught if "never awaited" in str(w.message)], [str(w.message) for w in caught]

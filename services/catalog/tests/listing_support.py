"""Helpers for the write-side tests (categories, listings, media, workflow, projections, internal API):
a running catalog with a real database and NATS, identity tokens, payout readiness through the real
projection, row counts for "nothing was written" assertions, and small valid/invalid sample files."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import itertools
import struct
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.app import create_app
from catalog.handlers import handlers
from catalog.models import Category, DigitalAsset, Product, ProductImage
from catalog.settings import CatalogSettings
from homecraft_shared.db import utcnow
from homecraft_shared.messaging.consumer import apply_event
from homecraft_shared.messaging.contracts import CONTRACTS, EventData
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.testing import bearer, serve_app

OWNER = "owner-1"
_names = itertools.count(1)


@dataclass
class Writer:
    client: httpx.AsyncClient
    app: FastAPI
    sessionmaker: async_sessionmaker[AsyncSession]
    private_pem: str
    media_root: Path

    # --- identities ---
    def seller(self, user_id: str = "seller-1") -> dict[str, str]:
        return bearer(self.private_pem, user_id, "seller")

    def owner(self, user_id: str = OWNER) -> dict[str, str]:
        return bearer(self.private_pem, user_id, "owner")

    def consumer(self, user_id: str = "buyer-1") -> dict[str, str]:
        return bearer(self.private_pem, user_id)

    def service(self, name: str = "orders") -> dict[str, str]:
        return bearer(self.private_pem, name, "service")

    # --- database ---
    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session
            await session.commit()

    async def count(self, model: type[Any]) -> int:
        async with self.sessionmaker() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def counts(self) -> dict[str, int]:
        """Rows of every table a write could touch, for "nothing was written" assertions."""
        return {
            model.__name__: await self.count(model)
            for model in (Category, Product, ProductImage, DigitalAsset, OutboxEvent)
        }

    def stored_files(self) -> list[Path]:
        return sorted(p for p in self.media_root.rglob("*") if p.is_file())

    async def outbox(self) -> list[OutboxEvent]:
        async with self.sessionmaker() as session:
            return list((await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))).all())

    async def product(self, product_id: str) -> Product:
        async with self.sessionmaker() as session:
            product = await session.get(Product, uuid.UUID(product_id))
            assert product is not None
            return product

    # --- events through the real handlers ---
    async def deliver(self, data: EventData, *, event_id: uuid.UUID | None = None) -> bool:
        """Apply an event as the consumer would (handler + inbox row, one transaction)."""
        contract = CONTRACTS.for_model(type(data))
        envelope = EventEnvelope(
            id=event_id or uuid.uuid4(),
            type=contract.type,
            version=contract.version,
            source=contract.producer,
            occurred_at=utcnow(),
            correlation_id=str(uuid.uuid4()),
            subject_id="test",
            data=data.model_dump(mode="json"),
        )
        async with self.sessionmaker() as session:
            applied = await apply_event(session, handlers, envelope)
            await session.commit()
        return applied

    async def make_ready(self, seller_id: str = "seller-1", ready: bool = True, at: dt.datetime | None = None) -> None:
        from homecraft_shared.events.payments import SellerPayoutReadinessChangedV1

        await self.deliver(
            SellerPayoutReadinessChangedV1(seller_id=seller_id, ready=ready, changed_at=at or utcnow())
        )

    # --- API shortcuts ---
    async def category(self, type_: str = "FILE", *, parent_id: int | None = None, name: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name or f"Category {next(_names)}"}
        if parent_id is None:
            body["type"] = type_
        else:
            body["parent_id"] = parent_id
        response = await self.client.post("/categories", json=body, headers=self.owner())
        assert response.status_code == 201, response.text
        return response.json()

    async def draft(
        self, kind: str = "FILE", *, seller: str = "seller-1", category_id: int | None = None, **fields: Any
    ) -> dict[str, Any]:
        if category_id is None:
            category_id = (await self.category(kind))["id"]
        body = {"kind": kind, "title": fields.pop("title", "Benchy"), "category_id": category_id, "price_cents": 500, **fields}
        response = await self.client.post("/listings", json=body, headers=self.seller(seller))
        assert response.status_code == 201, response.text
        return response.json()

    async def upload_image(
        self, product_id: str, content: bytes | None = None, *, seller: str = "seller-1", name: str = "photo.png", **form: Any
    ) -> httpx.Response:
        return await self.client.post(
            f"/listings/{product_id}/images",
            files={"file": (name, content if content is not None else png(), "application/octet-stream")},
            data={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in form.items()},
            headers=self.seller(seller),
        )

    async def upload_asset(
        self, product_id: str, content: bytes | None = None, *, name: str = "model.stl", seller: str = "seller-1"
    ) -> httpx.Response:
        return await self.client.post(
            f"/listings/{product_id}/assets",
            files={"file": (name, content if content is not None else binary_stl(), "application/octet-stream")},
            headers=self.seller(seller),
        )

    async def publishable(self, kind: str = "FILE", *, seller: str = "seller-1", **fields: Any) -> dict[str, Any]:
        """A complete draft: price, one image and (FILE) one digital file."""
        listing = await self.draft(kind, seller=seller, **fields)
        assert (await self.upload_image(listing["id"], seller=seller)).status_code == 201
        if kind == "FILE":
            assert (await self.upload_asset(listing["id"], seller=seller)).status_code == 201
        return listing


@contextlib.asynccontextmanager
async def running_writer(
    database_url: str, nats_url: str, identity_keys: tuple[str, str], tmp_path: Path, **settings: Any
) -> AsyncIterator[Writer]:
    private_pem, public_pem = identity_keys
    media_root = tmp_path / "media"
    app = create_app(
        CatalogSettings(
            database_url=database_url,
            nats_url=nats_url,
            identity_public_key=public_pem,
            media_root=media_root,
            relay_poll_seconds=0.05,
            **settings,
        )
    )
    async with serve_app(app) as client:
        writer = Writer(client, app, app.state.runtime.sessionmaker, private_pem, media_root)
        yield writer
        await _relay_idle(writer)


async def _relay_idle(writer: Writer, patience: float = 5.0) -> None:
    """Let the outbox relay publish what the test recorded before the app stops.

    Works around a shutdown race in homecraft_shared's OutboxRelay on Python 3.11: when a commit wakes
    the relay and the lifespan cancels it before it ran, ``asyncio.wait_for`` returns the wake-up and
    swallows the cancellation, so the relay keeps looping and ``ServiceRuntime.stop`` never returns.
    """
    deadline = asyncio.get_running_loop().time() + patience
    while asyncio.get_running_loop().time() < deadline:
        if all(row.published_at is not None for row in await writer.outbox()):
            await asyncio.sleep(0.05)  # the relay is back waiting for the next wake-up
            return
        await asyncio.sleep(0.05)


# --- sample files ---------------------------------------------------------------------------------

def png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def jpeg() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


def gif() -> bytes:
    return b"GIF89a" + b"\x00" * 64


def webp() -> bytes:
    return b"RIFF" + struct.pack("<I", 72) + b"WEBPVP8 " + b"\x00" * 64


def binary_stl(triangles: int = 2) -> bytes:
    return b"\x00" * 80 + struct.pack("<I", triangles) + b"\x00" * (50 * triangles)


def ascii_stl() -> bytes:
    return b"solid cube\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n  endloop\n endfacet\nendsolid cube\n"


def obj() -> bytes:
    return b"# a triangle\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def three_mf() -> bytes:
    return zip_bytes({"[Content_Types].xml": b"<Types/>", "3D/3dmodel.model": b"<model/>"})

"""The catalog's test harness: the shared ``ServiceHarness`` (tokens per role, events through the
real consumer path, the outbox, row counts) plus the catalog's API shortcuts and sample files."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import itertools
import struct
import uuid
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.app import create_app
from catalog.models import Category, DigitalAsset, Product, ProductImage
from catalog.search.projection import SearchProjection
from catalog.settings import CatalogSettings
from homecraft_shared.db import utcnow
from homecraft_shared.events.payments import SellerPayoutReadinessChangedV1
from homecraft_shared.messaging.contracts import EventData
from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.testing.harness import ServiceHarness, running_service

OWNER = "owner-1"
# Rows of every table a write could touch, for "nothing was written" assertions.
WRITE_TABLES: tuple[type[Any], ...] = (Category, Product, ProductImage, DigitalAsset, OutboxEvent)
_names = itertools.count(1)


class CatalogHarness(ServiceHarness):
    """Reads right after a write see it: once a test's session or event is committed, the app's
    search projection (catalog.search) reads the change log at once instead of within its poll."""

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with super().session() as session:
            yield session
        await self.search.refresh()

    async def deliver(self, data: EventData, *, event_id: uuid.UUID | None = None, subject_id: str = "test") -> bool:
        applied = await super().deliver(data, event_id=event_id, subject_id=subject_id)
        await self.search.refresh()
        return applied

    @property
    def search(self) -> SearchProjection:
        return self.runtime.resources.get(SearchProjection)

    @property
    def media_root(self) -> Path:
        settings = self.runtime.settings
        assert isinstance(settings, CatalogSettings)
        return Path(settings.media_root)

    def stored_files(self) -> list[Path]:
        return sorted(p for p in self.media_root.rglob("*") if p.is_file())

    async def counts(self, *models: type[Any]) -> dict[str, int]:
        return await super().counts(*(models or WRITE_TABLES))

    async def product(self, product_id: str) -> Product:
        async with self.sessionmaker() as session:
            product = await session.get(Product, uuid.UUID(product_id))
            assert product is not None
            return product

    async def make_ready(self, seller_id: str = "seller-1", ready: bool = True, at: dt.datetime | None = None) -> None:
        """Payout readiness through the real projection (the event payments publishes)."""
        await self.deliver(SellerPayoutReadinessChangedV1(seller_id=seller_id, ready=ready, changed_at=at or utcnow()))

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
async def running_catalog(
    database_url: str, nats_url: str, identity_keys: tuple[str, str], tmp_path: Path, **settings: Any
) -> AsyncIterator[CatalogHarness]:
    """The catalog app with a real database and NATS."""
    private_pem, public_pem = identity_keys
    app = create_app(
        CatalogSettings(
            database_url=database_url,
            nats_url=nats_url,
            identity_public_key=public_pem,
            media_root=tmp_path / "media",
            relay_poll_seconds=0.05,
            **settings,
        )
    )
    async with running_service(app, private_pem, CatalogHarness) as catalog:
        yield catalog


# --- sample files ---------------------------------------------------------------------------------

def _picture(fmt: str, mode: str = "RGB", **options: Any) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (4, 3), "orange").save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png() -> bytes:
    return _picture("PNG")


def jpeg() -> bytes:
    return _picture("JPEG")


def gif() -> bytes:
    return _picture("GIF", "P")


def webp() -> bytes:
    return _picture("WEBP", lossless=True)


TRIANGLE = ((0.0, 0.0, 0.0), (10.0, 0.0, 0.0), (0.0, 10.0, 0.0))


def binary_stl(triangles: int = 2) -> bytes:
    facet = struct.pack("<3f", 0, 0, 1) + b"".join(struct.pack("<3f", *v) for v in TRIANGLE) + b"\x00\x00"
    return b"\x00" * 80 + struct.pack("<I", triangles) + facet * triangles


def ascii_stl() -> bytes:
    vertices = "".join(f"   vertex {x} {y} {z}\n" for x, y, z in TRIANGLE)
    return f"solid cube\n facet normal 0 0 1\n  outer loop\n{vertices}  endloop\n endfacet\nendsolid cube\n".encode()


def obj() -> bytes:
    return b"# a triangle\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"


THREE_MF_MODEL = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<model unit="millimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">'
    b'<resources><object id="1" type="model"><mesh><vertices>'
    b'<vertex x="0" y="0" z="0"/><vertex x="10" y="0" z="0"/><vertex x="0" y="10" z="0"/>'
    b'</vertices><triangles><triangle v1="0" v2="1" v3="2"/></triangles></mesh></object></resources>'
    b'<build><item objectid="1"/></build></model>'
)


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def three_mf() -> bytes:
    return zip_bytes({"[Content_Types].xml": b"<Types/>", "3D/3dmodel.model": THREE_MF_MODEL})

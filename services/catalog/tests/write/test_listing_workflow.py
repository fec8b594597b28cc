"""The listing workflow draft → published → unlisted → published, and the catalog's product events
written to the outbox in the same transaction (C2, C3, C4)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats
from support import CatalogHarness

from homecraft_shared.messaging.jetstream import stream_name


async def events(catalog: CatalogHarness) -> list[tuple[str, dict[str, Any]]]:
    return [(row.subject, json.loads(row.payload)) for row in await catalog.outbox()]


async def publish(catalog: CatalogHarness, listing_id: str, headers: dict[str, str] | None = None) -> Any:
    return await catalog.client.post(f"/listings/{listing_id}/publish", headers=headers or catalog.seller())


async def test_publishing_an_incomplete_draft_lists_every_missing_item(catalog: CatalogHarness) -> None:
    category = await catalog.category("FILE")
    body = {"kind": "FILE", "title": "Bare", "category_id": category["id"]}
    draft = (await catalog.client.post("/listings", json=body, headers=catalog.seller())).json()
    response = await publish(catalog, draft["id"])
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["price_cents", "images", "assets"]
    detail = response.json()["detail"]
    assert "Set a price" in detail and "at least one image" in detail and "at least one digital file" in detail
    assert (await catalog.product(draft["id"])).status == "draft"
    assert await catalog.outbox() == []


async def test_c2_publish_needs_an_active_category_of_the_listings_kind(catalog: CatalogHarness) -> None:
    listing = await catalog.publishable("MODEL")
    await catalog.client.patch(f"/categories/{listing['category_id']}", json={"is_active": False}, headers=catalog.owner())
    response = await publish(catalog, listing["id"])
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["category_id"]
    assert "active 3D Models category" in response.json()["detail"]


async def test_publishing_writes_exactly_one_outbox_row_with_the_snapshot(catalog: CatalogHarness) -> None:
    listing = await catalog.publishable("FILE", title="Dragon Bust", price_cents=1500)
    assert await catalog.outbox() == []  # drafts, images and files are not events
    response = await publish(catalog, listing["id"])
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "published" and response.json()["visible"] is True
    assert response.json()["missing_for_publish"] == []

    [(subject, envelope)] = await events(catalog)
    assert subject == "product.published.v1"
    assert (envelope["type"], envelope["version"], envelope["source"], envelope["subject_id"]) == (
        "product.published", 1, "catalog", listing["id"]
    )
    data = envelope["data"]
    published_at = data.pop("published_at")
    assert data == {
        "product_id": listing["id"], "seller_id": "seller-1", "kind": "FILE", "category_id": str(listing["category_id"]),
        "title": "Dragon Bust", "slug": "dragon-bust", "price_cents": 1500, "is_free": False, "currency": "usd",
    }
    assert published_at.startswith(response.json()["published_at"][:19])


async def test_the_published_event_reaches_jetstream(catalog: CatalogHarness, nats_url: str) -> None:
    listing = await catalog.publishable("MODEL")
    assert (await publish(catalog, listing["id"])).status_code == 200
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        subscription = await js.pull_subscribe("product.published.v1", stream=stream_name("catalog"))
        [message] = await subscription.fetch(1, timeout=5)
        assert json.loads(message.data)["data"]["product_id"] == listing["id"]
        [row] = await catalog.outbox()
        for _ in range(50):  # the relay marks the row once JetStream acked
            if row.published_at is not None:
                break
            await asyncio.sleep(0.05)
            [row] = await catalog.outbox()
        assert row.published_at is not None
        assert message.headers["Nats-Msg-Id"] == str(row.event_id)
    finally:
        await connection.close()


async def test_publishing_twice_conflicts_and_records_nothing_more(catalog: CatalogHarness) -> None:
    listing = await catalog.publishable("MODEL")
    await publish(catalog, listing["id"])
    again = await publish(catalog, listing["id"])
    assert again.status_code == 409
    assert len(await catalog.outbox()) == 1


async def test_editing_a_published_listing_records_product_updated(catalog: CatalogHarness) -> None:
    listing = await catalog.publishable("MODEL", price_cents=1000)
    await publish(catalog, listing["id"])
    edited = await catalog.client.patch(f"/listings/{listing['id']}", json={"price_cents": 1200, "title": "Better"},
            headers=catalog.seller())
    assert edited.status_code == 200
    subjects = [subject for subject, _ in await events(catalog)]
    assert subjects == ["product.published.v1", "product.updated.v1"]
    data = (await events(catalog))[-1][1]["data"]
    assert (data["price_cents"], data["title"], data["slug"], data["is_active"]) == (1200, "Better", listing["slug"], True)
    # A change buyers' snapshot does not carry (the long description) is no event.
    await catalog.client.patch(f"/listings/{listing['id']}", json={"description": "Longer text"}, headers=catalog.seller())
    # Nor is an edit that changes nothing.
    await catalog.client.patch(f"/listings/{listing['id']}", json={"price_cents": 1200}, headers=catalog.seller())
    assert len(await catalog.outbox()) == 2


async def test_edits_of_drafts_record_no_events(catalog: CatalogHarness) -> None:
    listing = await catalog.publishable("MODEL")
    await catalog.client.patch(f"/listings/{listing['id']}", json={"price_cents": 999}, headers=catalog.seller())
    assert await catalog.outbox() == []


async def test_unpublish_and_republish(catalog: CatalogHarness) -> None:
    listing = await catalog.publishable("FILE")
    await publish(catalog, listing["id"])
    down = await catalog.client.post(f"/listings/{listing['id']}/unpublish", headers=catalog.seller())
    assert down.status_code == 200 and down.json()["status"] == "unlisted" and down.json()["visible"] is False
    again = await catalog.client.post(f"/listings/{listing['id']}/unpublish", headers=catalog.seller())
    assert again.status_code == 409
    up = await publish(catalog, listing["id"])
    assert up.status_code == 200 and up.json()["status"] == "published"
    recorded = await events(catalog)
    assert [subject for subject, _ in recorded] == ["product.published.v1", "product.unlisted.v1", "product.published.v1"]
    unlisted = recorded[1][1]["data"]
    assert (unlisted["product_id"], unlisted["seller_id"], unlisted["reason"]) == (listing["id"], "seller-1", "unpublished")


async def test_unpublishing_a_draft_conflicts(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("MODEL")
    response = await catalog.client.post(f"/listings/{listing['id']}/unpublish", headers=catalog.seller())
    assert response.status_code == 409 and "draft" in response.json()["detail"]


async def test_owner_deactivating_and_reactivating_a_published_listing(catalog: CatalogHarness) -> None:
    listing = await catalog.publishable("MODEL")
    await publish(catalog, listing["id"])
    off = await catalog.client.patch(f"/listings/{listing['id']}", json={"is_active": False}, headers=catalog.owner())
    assert off.status_code == 200 and off.json()["visible"] is False and off.json()["status"] == "published"
    on = await catalog.client.patch(f"/listings/{listing['id']}", json={"is_active": True}, headers=catalog.owner())
    assert on.json()["visible"] is True
    recorded = await events(catalog)
    assert [subject for subject, _ in recorded] == ["product.published.v1", "product.unlisted.v1", "product.published.v1"]
    assert recorded[1][1]["data"]["reason"] == "deactivated"


async def test_c4_unready_seller_cannot_publish_but_can_take_a_listing_down(catalog: CatalogHarness) -> None:
    first = await catalog.publishable("MODEL", title="One")
    second = await catalog.publishable("MODEL", title="Two")
    await publish(catalog, first["id"])
    await catalog.make_ready("seller-1", ready=False)
    refused = await publish(catalog, second["id"])
    assert refused.status_code == 403 and "payout onboarding" in refused.json()["detail"]
    down = await catalog.client.post(f"/listings/{first['id']}/unpublish", headers=catalog.seller())
    assert down.status_code == 200
    assert [subject for subject, _ in await events(catalog)] == ["product.published.v1", "product.unlisted.v1"]


async def test_c4_another_seller_cannot_publish_or_unpublish(catalog: CatalogHarness) -> None:
    listing = await catalog.publishable("MODEL")
    await catalog.make_ready("seller-2")
    assert (await publish(catalog, listing["id"], catalog.seller("seller-2"))).status_code == 403
    await publish(catalog, listing["id"])
    assert (await catalog.client.post(f"/listings/{listing['id']}/unpublish", headers=catalog.seller("seller-2"))).status_code == 403
    assert len(await catalog.outbox()) == 1


async def test_c3_a_published_listing_keeps_its_last_image_and_file(catalog: CatalogHarness) -> None:
    listing = await catalog.publishable("FILE")
    await publish(catalog, listing["id"])
    view = (await catalog.client.get(f"/listings/{listing['id']}", headers=catalog.seller())).json()
    [image], [asset] = view["images"], view["assets"]
    no_image = await catalog.client.delete(f"/listings/{listing['id']}/images/{image['id']}", headers=catalog.seller())
    assert no_image.status_code == 422 and "unpublish" in no_image.json()["detail"]
    no_file = await catalog.client.delete(f"/listings/{listing['id']}/assets/{asset['id']}", headers=catalog.seller())
    assert no_file.status_code == 422
    kind = await catalog.client.patch(f"/listings/{listing['id']}", json={"kind": "MODEL"}, headers=catalog.seller())
    assert kind.status_code == 422 and "draft" in kind.json()["detail"]
    zero = await catalog.client.patch(f"/listings/{listing['id']}", json={"price_cents": 0}, headers=catalog.seller())
    assert zero.status_code == 422
    assert len(await catalog.outbox()) == 1

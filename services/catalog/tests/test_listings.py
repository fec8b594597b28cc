"""C2 (kind/category match, price rule, slugs, flags), C3 (specs vs license), C4 (payout-ready sellers
only; owners bypass; own listings visible regardless) on the listing endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from listing_support import Writer, running_writer

from catalog.models import Product


@pytest.fixture
async def w(database_url: str, nats_url: str, identity_keys: tuple[str, str], tmp_path: Path) -> AsyncIterator[Writer]:
    async with running_writer(database_url, nats_url, identity_keys, tmp_path) as writer:
        await writer.make_ready("seller-1")
        yield writer


async def create(w: Writer, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return await w.client.post("/listings", json=body, headers=headers or w.seller())


async def test_c2_create_draft_for_a_ready_seller(w: Writer) -> None:
    category = await w.category("MODEL", name="Planters")
    response = await create(w, {
        "kind": "MODEL", "title": "Self-Watering Planter", "category_id": category["id"], "price_cents": 1299,
        "short_description": "Keeps herbs alive", "material": "PETG", "color": "green", "width_mm": 120,
    })
    assert response.status_code == 201, response.text
    listing = response.json()
    assert listing["status"] == "draft" and listing["visible"] is False
    assert listing["seller_id"] == "seller-1" and listing["seller_is_owner"] is False
    assert listing["slug"] == "self-watering-planter" and listing["price_cents"] == 1299 and listing["currency"] == "usd"
    assert (listing["material"], listing["width_mm"], listing["height_mm"]) == ("PETG", 120, None)
    assert [m["field"] for m in listing["missing_for_publish"]] == ["images"]
    assert (await w.client.get(f"/listings/{listing['id']}", headers=w.seller())).json()["id"] == listing["id"]


async def test_c2_category_of_the_wrong_type_is_refused_and_writes_nothing(w: Writer) -> None:
    models = await w.category("MODEL")
    files = await w.category("FILE")
    before = await w.counts()
    wrong_file = await create(w, {"kind": "FILE", "title": "STL pack", "category_id": models["id"], "price_cents": 300})
    assert wrong_file.status_code == 422
    assert wrong_file.json()["detail"] == "File products must use a 3D Files category."
    wrong_model = await create(w, {"kind": "MODEL", "title": "Vase", "category_id": files["id"], "price_cents": 300})
    assert wrong_model.status_code == 422
    assert wrong_model.json()["detail"] == "Model products must use a 3D Models category."
    missing = await create(w, {"kind": "MODEL", "title": "Vase", "category_id": 9999, "price_cents": 300})
    assert missing.status_code == 422 and "does not exist" in missing.json()["detail"]
    assert await w.counts() == before


async def test_c2_inactive_category_is_refused(w: Writer) -> None:
    category = await w.category("FILE")
    await w.client.patch(f"/categories/{category['id']}", json={"is_active": False}, headers=w.owner())
    response = await create(w, {"kind": "FILE", "title": "x", "category_id": category["id"], "price_cents": 100})
    assert response.status_code == 422 and "inactive" in response.json()["detail"]


@pytest.mark.parametrize("price", [0, -1, -500])
async def test_c2_zero_or_negative_price_on_a_paid_product_is_refused(w: Writer, price: int) -> None:
    category = await w.category("FILE")
    before = await w.counts()
    response = await create(w, {"kind": "FILE", "title": "Paid thing", "category_id": category["id"], "price_cents": price})
    assert response.status_code == 422
    assert response.json()["detail"] == "Price must be greater than $0.00 unless the item is marked free."
    assert response.json()["errors"] == [{"field": "price_cents", "message": response.json()["detail"]}]
    assert await w.counts() == before


async def test_c2_free_items_are_forced_to_zero(w: Writer) -> None:
    category = await w.category("FILE")
    response = await create(w, {"kind": "FILE", "title": "Freebie", "category_id": category["id"], "is_free": True, "price_cents": 999})
    assert response.status_code == 201
    assert (response.json()["is_free"], response.json()["price_cents"]) == (True, 0)
    # Turning "free" off without a price is refused; with one, fine.
    listing_id = response.json()["id"]
    off = await w.client.patch(f"/listings/{listing_id}", json={"is_free": False}, headers=w.seller())
    assert off.status_code == 422 and "greater than $0.00" in off.json()["detail"]
    priced = await w.client.patch(f"/listings/{listing_id}", json={"is_free": False, "price_cents": 250}, headers=w.seller())
    assert priced.status_code == 200 and priced.json()["price_cents"] == 250


async def test_c2_a_draft_may_leave_the_price_out_until_publishing(w: Writer) -> None:
    category = await w.category("FILE")
    response = await create(w, {"kind": "FILE", "title": "Unpriced", "category_id": category["id"]})
    assert response.status_code == 201
    assert response.json()["price_cents"] == 0
    assert "price_cents" in [m["field"] for m in response.json()["missing_for_publish"]]


async def test_c2_slug_from_title_unique_per_seller(w: Writer) -> None:
    category = await w.category("FILE")
    await w.make_ready("seller-2")
    slugs = []
    for _ in range(3):
        created = await create(w, {"kind": "FILE", "title": "Gear Box!", "category_id": category["id"], "price_cents": 100})
        slugs.append(created.json()["slug"])
    assert slugs == ["gear-box", "gear-box-2", "gear-box-3"]
    other = await create(w, {"kind": "FILE", "title": "Gear Box", "category_id": category["id"], "price_cents": 100}, w.seller("seller-2"))
    assert other.json()["slug"] == "gear-box"
    odd = await create(w, {"kind": "FILE", "title": "Ünïcödé — ★", "category_id": category["id"], "price_cents": 100})
    assert odd.json()["slug"] == "unicode"
    symbols = await create(w, {"kind": "FILE", "title": "★★★", "category_id": category["id"], "price_cents": 100})
    assert symbols.json()["slug"] == "listing"


async def test_c3_physical_specs_only_on_models_and_license_only_on_files(w: Writer) -> None:
    files = await w.category("FILE")
    models = await w.category("MODEL")
    before = await w.counts()
    specs_on_file = await create(w, {"kind": "FILE", "title": "x", "category_id": files["id"], "price_cents": 100, "material": "PLA"})
    assert specs_on_file.status_code == 422 and "apply only to 3D Models" in specs_on_file.json()["detail"]
    dims_on_file = await create(w, {"kind": "FILE", "title": "x", "category_id": files["id"], "price_cents": 100, "depth_mm": 4})
    assert dims_on_file.status_code == 422
    license_on_model = await create(
        w, {"kind": "MODEL", "title": "x", "category_id": models["id"], "price_cents": 100, "license_text": "CC-BY"}
    )
    assert license_on_model.status_code == 422 and "License text applies only to 3D Files" in license_on_model.json()["detail"]
    assert await w.counts() == before
    ok = await create(w, {"kind": "FILE", "title": "x", "category_id": files["id"], "price_cents": 100, "license_text": "CC-BY 4.0"})
    assert ok.status_code == 201 and ok.json()["license_text"] == "CC-BY 4.0"


async def test_c4_unready_seller_cannot_create_a_listing_and_nothing_is_written(w: Writer) -> None:
    category = await w.category("FILE")
    before = await w.counts()
    never = await create(w, {"kind": "FILE", "title": "x", "category_id": category["id"], "price_cents": 100}, w.seller("seller-9"))
    assert never.status_code == 403
    assert "payout onboarding" in never.json()["detail"]
    await w.make_ready("seller-8", ready=False)
    not_ready = await create(w, {"kind": "FILE", "title": "x", "category_id": category["id"], "price_cents": 100}, w.seller("seller-8"))
    assert not_ready.status_code == 403
    assert await w.counts() == before


async def test_c4_unready_seller_cannot_edit_but_can_list_their_own(w: Writer) -> None:
    listing = await w.draft("FILE")
    await w.make_ready("seller-1", ready=False)
    edit = await w.client.patch(f"/listings/{listing['id']}", json={"title": "New"}, headers=w.seller())
    assert edit.status_code == 403 and "payout onboarding" in edit.json()["detail"]
    assert (await w.product(listing["id"])).title == "Benchy"
    mine = await w.client.get("/sellers/me/products", headers=w.seller())
    assert mine.status_code == 200 and [item["id"] for item in mine.json()["items"]] == [listing["id"]]
    assert (await w.client.get(f"/listings/{listing['id']}", headers=w.seller())).status_code == 200


async def test_c4_owner_bypasses_payout_readiness(w: Writer) -> None:
    category = await w.category("FILE")
    response = await create(w, {"kind": "FILE", "title": "House item", "category_id": category["id"], "price_cents": 100}, w.owner())
    assert response.status_code == 201
    assert response.json()["seller_id"] == "owner-1" and response.json()["seller_is_owner"] is True


async def test_c4_only_sellers_create_listings(w: Writer) -> None:
    category = await w.category("FILE")
    response = await create(w, {"kind": "FILE", "title": "x", "category_id": category["id"], "price_cents": 100}, w.consumer())
    assert response.status_code == 403 and "Only sellers" in response.json()["detail"]
    assert (await w.client.post("/listings", json={})).status_code == 401


async def test_c4_editing_another_sellers_listing_is_forbidden_and_changes_nothing(w: Writer) -> None:
    listing = await w.draft("FILE")
    await w.make_ready("seller-2")
    before = await w.counts()
    response = await w.client.patch(f"/listings/{listing['id']}", json={"title": "Stolen"}, headers=w.seller("seller-2"))
    assert response.status_code == 403 and "another seller" in response.json()["detail"]
    assert (await w.client.get(f"/listings/{listing['id']}", headers=w.seller("seller-2"))).status_code == 403
    assert (await w.product(listing["id"])).title == "Benchy"
    assert await w.counts() == before
    missing = await w.client.patch("/listings/00000000-0000-0000-0000-000000000000", json={"title": "x"}, headers=w.seller())
    assert missing.status_code == 404


async def test_c2_owner_may_edit_any_listing_and_set_flags_sellers_may_not(w: Writer) -> None:
    listing = await w.draft("FILE")
    flags = await w.client.patch(f"/listings/{listing['id']}", json={"is_featured": True}, headers=w.seller())
    assert flags.status_code == 403 and "is_featured" in flags.json()["detail"]
    created_with_flag = await w.client.post(
        "/listings", json={"kind": "FILE", "title": "x", "category_id": listing["category_id"], "price_cents": 5, "is_trending": True},
        headers=w.seller(),
    )
    assert created_with_flag.status_code == 403
    by_owner = await w.client.patch(
        f"/listings/{listing['id']}", json={"is_featured": True, "is_trending": True, "title": "Benchy Deluxe"}, headers=w.owner()
    )
    assert by_owner.status_code == 200, by_owner.text
    body = by_owner.json()
    assert (body["is_featured"], body["is_trending"], body["title"], body["slug"]) == (True, True, "Benchy Deluxe", "benchy")
    # An owner editing keeps the listing the seller's, not an owner's listing (C10).
    assert body["seller_id"] == "seller-1" and body["seller_is_owner"] is False


async def test_c2_edit_validates_the_final_state(w: Writer) -> None:
    listing = await w.draft("FILE")
    models = await w.category("MODEL")
    moved = await w.client.patch(f"/listings/{listing['id']}", json={"category_id": models["id"]}, headers=w.seller())
    assert moved.status_code == 422 and moved.json()["detail"] == "File products must use a 3D Files category."
    switched = await w.client.patch(f"/listings/{listing['id']}", json={"kind": "MODEL", "category_id": models["id"]}, headers=w.seller())
    assert switched.status_code == 200 and switched.json()["kind"] == "MODEL"
    nulled = await w.client.patch(f"/listings/{listing['id']}", json={"title": None}, headers=w.seller())
    assert nulled.status_code == 422
    unknown = await w.client.patch(f"/listings/{listing['id']}", json={"colour": "red"}, headers=w.seller())
    assert unknown.status_code == 422
    assert (await w.product(listing["id"])).kind == "MODEL"


async def test_c3_kind_change_with_files_attached_is_refused(w: Writer) -> None:
    listing = await w.draft("FILE")
    assert (await w.upload_asset(listing["id"])).status_code == 201
    models = await w.category("MODEL")
    response = await w.client.patch(f"/listings/{listing['id']}", json={"kind": "MODEL", "category_id": models["id"]}, headers=w.seller())
    assert response.status_code == 422 and "digital files" in response.json()["detail"]


async def test_my_products_are_paginated_newest_first_with_drafts(w: Writer) -> None:
    ids = [(await w.draft("FILE", title=f"Item {n}"))["id"] for n in range(5)]
    page1 = (await w.client.get("/sellers/me/products", params={"page_size": 2}, headers=w.seller())).json()
    page3 = (await w.client.get("/sellers/me/products", params={"page_size": 2, "page": 3}, headers=w.seller())).json()
    assert page1["total"] == 5 and len(page1["items"]) == 2 and len(page3["items"]) == 1
    seen = {item["id"] for item in page1["items"]} | {item["id"] for item in page3["items"]}
    assert seen <= set(ids)
    assert all(item["status"] == "draft" for item in page1["items"])
    assert (await w.client.get("/sellers/me/products", headers=w.seller("seller-2"))).json()["total"] == 0
    assert (await w.client.get("/sellers/me/products", params={"all": True}, headers=w.seller())).status_code == 403
    assert (await w.client.get("/sellers/me/products", params={"all": True}, headers=w.owner())).json()["total"] == 5
    drafts = (await w.client.get("/sellers/me/products", params={"status": "published"}, headers=w.seller())).json()
    assert drafts["total"] == 0
    assert await w.count(Product) == 5

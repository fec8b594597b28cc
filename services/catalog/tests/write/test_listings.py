"""C2 (kind/category match, price rule, slugs, flags), C3 (specs vs license), C4 (payout-ready sellers
only; owners bypass; own listings visible regardless) on the listing endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from support import CatalogHarness

from catalog.models import Product


async def create(catalog: CatalogHarness, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return await catalog.client.post("/listings", json=body, headers=headers or catalog.seller())


async def test_c2_create_draft_for_a_ready_seller(catalog: CatalogHarness) -> None:
    category = await catalog.category("MODEL", name="Planters")
    response = await create(catalog, {
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
    assert (await catalog.client.get(f"/listings/{listing['id']}", headers=catalog.seller())).json()["id"] == listing["id"]


async def test_c2_category_of_the_wrong_type_is_refused_and_writes_nothing(catalog: CatalogHarness) -> None:
    models = await catalog.category("MODEL")
    files = await catalog.category("FILE")
    before = await catalog.counts()
    wrong_file = await create(catalog, {"kind": "FILE", "title": "STL pack", "category_id": models["id"], "price_cents": 300})
    assert wrong_file.status_code == 422
    assert wrong_file.json()["detail"] == "File products must use a 3D Files category."
    wrong_model = await create(catalog, {"kind": "MODEL", "title": "Vase", "category_id": files["id"], "price_cents": 300})
    assert wrong_model.status_code == 422
    assert wrong_model.json()["detail"] == "Model products must use a 3D Models category."
    missing = await create(catalog, {"kind": "MODEL", "title": "Vase", "category_id": 9999, "price_cents": 300})
    assert missing.status_code == 422 and "does not exist" in missing.json()["detail"]
    assert await catalog.counts() == before


async def test_c2_inactive_category_is_refused(catalog: CatalogHarness) -> None:
    category = await catalog.category("FILE")
    await catalog.client.patch(f"/categories/{category['id']}", json={"is_active": False}, headers=catalog.owner())
    response = await create(catalog, {"kind": "FILE", "title": "x", "category_id": category["id"], "price_cents": 100})
    assert response.status_code == 422 and "inactive" in response.json()["detail"]


@pytest.mark.parametrize("price", [0, -1, -500])
async def test_c2_zero_or_negative_price_on_a_paid_product_is_refused(catalog: CatalogHarness, price: int) -> None:
    category = await catalog.category("FILE")
    before = await catalog.counts()
    response = await create(catalog, {"kind": "FILE", "title": "Paid thing", "category_id": category["id"], "price_cents": price})
    assert response.status_code == 422
    assert response.json()["detail"] == "Price must be greater than $0.00 unless the item is marked free."
    assert response.json()["errors"] == [{"field": "price_cents", "message": response.json()["detail"]}]
    assert await catalog.counts() == before


async def test_c2_free_items_are_forced_to_zero(catalog: CatalogHarness) -> None:
    category = await catalog.category("FILE")
    response = await create(catalog, {"kind": "FILE", "title": "Freebie", "category_id": category["id"], "is_free": True,
            "price_cents": 999})
    assert response.status_code == 201
    assert (response.json()["is_free"], response.json()["price_cents"]) == (True, 0)
    # Turning "free" off without a price is refused; with one, fine.
    listing_id = response.json()["id"]
    off = await catalog.client.patch(f"/listings/{listing_id}", json={"is_free": False}, headers=catalog.seller())
    assert off.status_code == 422 and "greater than $0.00" in off.json()["detail"]
    priced = await catalog.client.patch(f"/listings/{listing_id}", json={"is_free": False, "price_cents": 250}, headers=catalog.seller())
    assert priced.status_code == 200 and priced.json()["price_cents"] == 250


async def test_c2_a_draft_may_leave_the_price_out_until_publishing(catalog: CatalogHarness) -> None:
    category = await catalog.category("FILE")
    response = await create(catalog, {"kind": "FILE", "title": "Unpriced", "category_id": category["id"]})
    assert response.status_code == 201
    assert response.json()["price_cents"] == 0
    assert "price_cents" in [m["field"] for m in response.json()["missing_for_publish"]]


async def test_c2_slug_from_title_unique_per_seller(catalog: CatalogHarness) -> None:
    category = await catalog.category("FILE")
    await catalog.make_ready("seller-2")
    slugs = []
    for _ in range(3):
        created = await create(catalog, {"kind": "FILE", "title": "Gear Box!", "category_id": category["id"], "price_cents": 100})
        slugs.append(created.json()["slug"])
    assert slugs == ["gear-box", "gear-box-2", "gear-box-3"]
    other = await create(catalog, {"kind": "FILE", "title": "Gear Box", "category_id": category["id"], "price_cents": 100},
            catalog.seller("seller-2"))
    assert other.json()["slug"] == "gear-box"
    odd = await create(catalog, {"kind": "FILE", "title": "Ünïcödé — ★", "category_id": category["id"], "price_cents": 100})
    assert odd.json()["slug"] == "unicode"
    symbols = await create(catalog, {"kind": "FILE", "title": "★★★", "category_id": category["id"], "price_cents": 100})
    assert symbols.json()["slug"] == "listing"


async def test_c3_physical_specs_only_on_models_and_license_only_on_files(catalog: CatalogHarness) -> None:
    files = await catalog.category("FILE")
    models = await catalog.category("MODEL")
    before = await catalog.counts()
    specs_on_file = await create(catalog, {"kind": "FILE", "title": "x", "category_id": files["id"], "price_cents": 100, "material": "PLA"})
    assert specs_on_file.status_code == 422 and "apply only to 3D Models" in specs_on_file.json()["detail"]
    dims_on_file = await create(catalog, {"kind": "FILE", "title": "x", "category_id": files["id"], "price_cents": 100, "depth_mm": 4})
    assert dims_on_file.status_code == 422
    license_on_model = await create(
        catalog, {"kind": "MODEL", "title": "x", "category_id": models["id"], "price_cents": 100, "license_text": "CC-BY"}
    )
    assert license_on_model.status_code == 422 and "License text applies only to 3D Files" in license_on_model.json()["detail"]
    assert await catalog.counts() == before
    ok = await create(catalog, {"kind": "FILE", "title": "x", "category_id": files["id"], "price_cents": 100, "license_text": "CC-BY 4.0"})
    assert ok.status_code == 201 and ok.json()["license_text"] == "CC-BY 4.0"


async def test_c4_unready_seller_cannot_create_a_listing_and_nothing_is_written(catalog: CatalogHarness) -> None:
    category = await catalog.category("FILE")
    before = await catalog.counts()
    never = await create(catalog, {"kind": "FILE", "title": "x", "category_id": category["id"], "price_cents": 100},
            catalog.seller("seller-9"))
    assert never.status_code == 403
    assert "payout onboarding" in never.json()["detail"]
    await catalog.make_ready("seller-8", ready=False)
    not_ready = await create(catalog, {"kind": "FILE", "title": "x", "category_id": category["id"], "price_cents": 100},
            catalog.seller("seller-8"))
    assert not_ready.status_code == 403
    assert await catalog.counts() == before


async def test_c4_unready_seller_cannot_edit_but_can_list_their_own(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE")
    await catalog.make_ready("seller-1", ready=False)
    edit = await catalog.client.patch(f"/listings/{listing['id']}", json={"title": "New"}, headers=catalog.seller())
    assert edit.status_code == 403 and "payout onboarding" in edit.json()["detail"]
    assert (await catalog.product(listing["id"])).title == "Benchy"
    mine = await catalog.client.get("/sellers/me/products", headers=catalog.seller())
    assert mine.status_code == 200 and [item["id"] for item in mine.json()["items"]] == [listing["id"]]
    assert (await catalog.client.get(f"/listings/{listing['id']}", headers=catalog.seller())).status_code == 200


async def test_c4_owner_bypasses_payout_readiness(catalog: CatalogHarness) -> None:
    category = await catalog.category("FILE")
    response = await create(catalog, {"kind": "FILE", "title": "House item", "category_id": category["id"], "price_cents": 100},
            catalog.owner())
    assert response.status_code == 201
    assert response.json()["seller_id"] == "owner-1" and response.json()["seller_is_owner"] is True


async def test_c4_only_sellers_create_listings(catalog: CatalogHarness) -> None:
    category = await catalog.category("FILE")
    response = await create(catalog, {"kind": "FILE", "title": "x", "category_id": category["id"], "price_cents": 100}, catalog.consumer())
    assert response.status_code == 403 and "Only sellers" in response.json()["detail"]
    assert (await catalog.client.post("/listings", json={})).status_code == 401


async def test_c4_editing_another_sellers_listing_is_forbidden_and_changes_nothing(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE")
    await catalog.make_ready("seller-2")
    before = await catalog.counts()
    response = await catalog.client.patch(f"/listings/{listing['id']}", json={"title": "Stolen"}, headers=catalog.seller("seller-2"))
    assert response.status_code == 403 and "another seller" in response.json()["detail"]
    # A read of someone else's listing does not confirm it exists (issue 7 finding 6).
    assert (await catalog.client.get(f"/listings/{listing['id']}", headers=catalog.seller("seller-2"))).status_code == 404
    assert (await catalog.product(listing["id"])).title == "Benchy"
    assert await catalog.counts() == before
    missing = await catalog.client.patch("/listings/00000000-0000-0000-0000-000000000000", json={"title": "x"}, headers=catalog.seller())
    assert missing.status_code == 404


async def test_c2_owner_may_edit_any_listing_and_set_flags_sellers_may_not(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE")
    flags = await catalog.client.patch(f"/listings/{listing['id']}", json={"is_featured": True}, headers=catalog.seller())
    assert flags.status_code == 403 and "is_featured" in flags.json()["detail"]
    created_with_flag = await catalog.client.post(
        "/listings", json={"kind": "FILE", "title": "x", "category_id": listing["category_id"], "price_cents": 5, "is_trending": True},
        headers=catalog.seller(),
    )
    assert created_with_flag.status_code == 403
    by_owner = await catalog.client.patch(
        f"/listings/{listing['id']}", json={"is_featured": True, "is_trending": True, "title": "Benchy Deluxe"}, headers=catalog.owner()
    )
    assert by_owner.status_code == 200, by_owner.text
    body = by_owner.json()
    assert (body["is_featured"], body["is_trending"], body["title"], body["slug"]) == (True, True, "Benchy Deluxe", "benchy")
    # An owner editing keeps the listing the seller's, not an owner's listing (C10).
    assert body["seller_id"] == "seller-1" and body["seller_is_owner"] is False


async def test_c2_edit_validates_the_final_state(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE")
    models = await catalog.category("MODEL")
    moved = await catalog.client.patch(f"/listings/{listing['id']}", json={"category_id": models["id"]}, headers=catalog.seller())
    assert moved.status_code == 422 and moved.json()["detail"] == "File products must use a 3D Files category."
    switched = await catalog.client.patch(f"/listings/{listing['id']}", json={"kind": "MODEL", "category_id": models["id"]},
            headers=catalog.seller())
    assert switched.status_code == 200 and switched.json()["kind"] == "MODEL"
    nulled = await catalog.client.patch(f"/listings/{listing['id']}", json={"title": None}, headers=catalog.seller())
    assert nulled.status_code == 422
    unknown = await catalog.client.patch(f"/listings/{listing['id']}", json={"colour": "red"}, headers=catalog.seller())
    assert unknown.status_code == 422
    assert (await catalog.product(listing["id"])).kind == "MODEL"


async def test_c3_kind_change_with_files_attached_is_refused(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE")
    assert (await catalog.upload_asset(listing["id"])).status_code == 201
    models = await catalog.category("MODEL")
    response = await catalog.client.patch(f"/listings/{listing['id']}", json={"kind": "MODEL", "category_id": models["id"]},
            headers=catalog.seller())
    assert response.status_code == 422 and "digital files" in response.json()["detail"]


async def test_my_products_are_paginated_newest_first_with_drafts(catalog: CatalogHarness) -> None:
    ids = [(await catalog.draft("FILE", title=f"Item {n}"))["id"] for n in range(5)]
    page1 = (await catalog.client.get("/sellers/me/products", params={"page_size": 2}, headers=catalog.seller())).json()
    page3 = (await catalog.client.get("/sellers/me/products", params={"page_size": 2, "page": 3}, headers=catalog.seller())).json()
    assert page1["total"] == 5 and len(page1["items"]) == 2 and len(page3["items"]) == 1
    seen = {item["id"] for item in page1["items"]} | {item["id"] for item in page3["items"]}
    assert seen <= set(ids)
    assert all(item["status"] == "draft" for item in page1["items"])
    assert (await catalog.client.get("/sellers/me/products", headers=catalog.seller("seller-2"))).json()["total"] == 0
    assert (await catalog.client.get("/sellers/me/products", params={"all": True}, headers=catalog.seller())).status_code == 403
    assert (await catalog.client.get("/sellers/me/products", params={"all": True}, headers=catalog.owner())).json()["total"] == 5
    drafts = (await catalog.client.get("/sellers/me/products", params={"status": "published"}, headers=catalog.seller())).json()
    assert drafts["total"] == 0
    assert await catalog.count(Product) == 5

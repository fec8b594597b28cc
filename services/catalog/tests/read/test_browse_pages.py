"""Category pages (C8) and product pages (C9, with C7's badge and C10's can_buy)."""

from __future__ import annotations

import uuid

from rows import category, image, payout, product, seller_rating, titles
from support import CatalogHarness

from catalog.models import AssetFormat, CatalogType, DigitalAsset, ListingStatus

# --- C8 ----------------------------------------------------------------------------------------


async def test_c8_category_page_lists_its_products_and_its_active_childrens_with_chips(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        root = category(s, "Miniatures")
        other = category(s, "Household")
        await s.flush()
        fantasy = category(s, "Fantasy", parent=root, sort_order=2)
        scifi = category(s, "Sci-Fi", parent=root, sort_order=1)
        retired = category(s, "Retired", parent=root, active=False)
        await s.flush()
        product(s, root, "In root", age_days=3)
        product(s, fantasy, "Dragon", age_days=1)
        product(s, fantasy, "Elf", age_days=2)
        product(s, fantasy, "Draft orc", status=ListingStatus.DRAFT)
        product(s, scifi, "Mech", age_days=4)
        product(s, retired, "In retired child")
        product(s, other, "Teapot")
    page = await catalog.get(f"/browse/categories/{root.id}")
    assert page["category"] == {"id": root.id, "name": "Miniatures", "slug": "miniatures", "type": "FILE"}
    assert page["parent"] is None
    assert titles(page) == ["Dragon", "Elf", "In root", "Mech"]  # newest first
    assert page["total"] == 4
    assert page["children"] == [  # active children only, in sort order, with their visible product counts
        {"id": scifi.id, "name": "Sci-Fi", "slug": "sci-fi", "type": "FILE", "product_count": 1},
        {"id": fantasy.id, "name": "Fantasy", "slug": "fantasy", "type": "FILE", "product_count": 2},
    ]

    child = await catalog.get(f"/browse/categories/{fantasy.id}")
    assert titles(child) == ["Dragon", "Elf"]
    assert child["parent"]["id"] == root.id and child["children"] == []


async def test_c8_category_page_sorts_paginates_and_404s_for_inactive_or_unknown(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        root = category(s, "Minis")
        hidden = category(s, "Hidden", active=False)
        await s.flush()
        under_hidden = category(s, "Under hidden", parent=hidden)
        for n in range(5):
            product(s, root, f"Mini {n}", score=float(n), age_days=n)
    trending = await catalog.get(f"/browse/categories/{root.id}", sort="trending", page_size=2)
    assert titles(trending) == ["Mini 4", "Mini 3"]
    assert trending["has_next"] is True and trending["total"] == 5 and trending["sort"] == "trending"
    for missing in (hidden.id, under_hidden.id, 999_999):
        response = await catalog.client.get(f"/browse/categories/{missing}")
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await catalog.client.get(f"/browse/categories/{root.id}", params={"sort": "relevance"})).status_code == 422
    assert (await catalog.client.get("/browse/categories/abc")).status_code == 422


# --- C9 ----------------------------------------------------------------------------------------


async def test_c9_file_product_page_has_images_ratings_license_files_and_can_buy(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        root = category(s, "Files")
        await s.flush()
        sub = category(s, "Sub", parent=root)
        p = product(s, sub, "Dragon STL", ratings=(9, 2), license_text="CC-BY 4.0", short="short", description="long",
                    score=3.0, material="ignored for files")
        second = image(s, p, sort_order=0)
        primary = image(s, p, primary=True, sort_order=1)
        s.add(DigitalAsset(product=p, original_filename="dragon.stl", file_format=AssetFormat.STL,
                           storage_key=uuid.uuid4().hex, size_bytes=684, sha256="0" * 64))
        seller_rating(s, "seller-ready", 14, 3)
    page = await catalog.get(f"/browse/products/{p.id}")
    assert page["title"] == "Dragon STL" and page["kind"] == "FILE"
    assert [i["url"] for i in page["images"]] == [f"/media/images/{primary}", f"/media/images/{second}"]
    assert page["images"][0]["is_primary"] is True
    assert page["rating"] == {"avg": 4.5, "count": 2}
    assert page["seller_rating"] == {"avg": 4.67, "count": 3}
    assert page["license_text"] == "CC-BY 4.0"
    assert page["physical_specs"] is None
    assert [(a["original_filename"], a["file_format"], a["size_bytes"]) for a in page["assets"]] == [("dragon.stl", "STL", 684)]
    assert "storage_key" not in page["assets"][0]
    assert page["category"]["id"] == sub.id and page["parent_category"]["id"] == root.id
    assert page["can_buy"] is True
    assert page["trending_badge"] is True  # in the top 12 with a positive score


async def test_c9_model_product_page_has_physical_specs_and_no_license(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        models = category(s, "Models", CatalogType.MODEL)
        p = product(s, models, "Vase", material="PLA", color="Red", width_mm=10, height_mm=20, depth_mm=30,
                    license_text="should not show", seller="seller-nobody")
    page = await catalog.get(f"/browse/products/{p.id}")
    assert page["physical_specs"] == {"material": "PLA", "color": "Red", "width_mm": 10, "height_mm": 20, "depth_mm": 30}
    assert page["license_text"] is None and page["assets"] == []
    assert page["rating"] == {"avg": None, "count": 0}
    assert page["seller_rating"] == {"avg": None, "count": 0}
    assert page["can_buy"] is False  # C10: unknown seller, not an owner
    assert page["trending_badge"] is False


async def test_c10_product_page_can_buy_for_owner_seller_even_when_not_payout_ready(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        payout(s, "owner-1", False)
        p = product(s, category(s, "Files"), "Owner's", seller="owner-1", seller_is_owner=True)
    assert (await catalog.get(f"/browse/products/{p.id}"))["can_buy"] is True


async def test_c9_more_like_this_same_kind_same_category_else_same_kind(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files", CatalogType.FILE)
        other_files = category(s, "Other files", CatalogType.FILE)
        models = category(s, "Models", CatalogType.MODEL)
        lonely_models = category(s, "Lonely models", CatalogType.MODEL)
        me = product(s, files, "Me")
        for n in range(10):
            product(s, files, f"Sibling {n}", age_days=n)
        product(s, other_files, "Cousin")
        product(s, files, "Hidden sibling", active=False)
        product(s, models, "Model A", age_days=1)
        product(s, models, "Model B", age_days=2)
        lonely = product(s, lonely_models, "Lonely")
    page = await catalog.get(f"/browse/products/{me.id}")
    assert titles(page, "more_like_this") == [f"Sibling {n}" for n in range(8)]  # 8, same category, newest first
    fallback = await catalog.get(f"/browse/products/{lonely.id}")
    assert titles(fallback, "more_like_this") == ["Model A", "Model B"]  # none in its category: same kind
    assert all(card["kind"] == "MODEL" for card in fallback["more_like_this"])


async def test_c9_unlisted_or_unknown_products_are_404(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        draft = product(s, files, "Draft", status=ListingStatus.DRAFT)
        inactive = product(s, files, "Inactive", active=False)
    for product_id in (draft.id, inactive.id, uuid.uuid4()):
        response = await catalog.client.get(f"/browse/products/{product_id}")
        assert response.status_code == 404
    assert (await catalog.client.get("/browse/products/not-a-uuid")).status_code == 422

"""Home (C6): four buckets of 8 — featured, new, trending (manual first, then the computed fill by
score excluding manual ones), misc (the newest not already shown) — and the C7 badge rule shared
with browse."""

from __future__ import annotations

from rows import StatementCounter, category, image, payout, product, titles
from support import CatalogHarness

from catalog.models import ListingStatus


async def test_c6_empty_catalog_has_four_empty_buckets(catalog: CatalogHarness) -> None:
    assert await catalog.get("/home") == {"featured": [], "new": [], "trending": [], "misc": []}


async def test_c6_buckets_featured_new_trending_misc(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        # 10 featured, oldest first in creation: the bucket holds the newest 8.
        for n in range(10):
            product(s, files, f"Featured {n}", featured=True, age_days=100 - n)
        # 3 manual trending (no score), and 7 scored ones competing for the 5 computed places.
        for n in range(3):
            product(s, files, f"Manual {n}", trending=True, age_days=90 - n)
        for score in range(1, 8):
            product(s, files, f"Score {score}", score=float(score), age_days=80)
        product(s, files, "Manual and scored", trending=True, score=50.0, age_days=70)
        # 12 plain products, the newest ones in the catalog.
        for n in range(12):
            product(s, files, f"Plain {n}", age_days=12 - n)
        product(s, files, "Draft featured", featured=True, status=ListingStatus.DRAFT)
    home = await catalog.get("/home")

    assert titles(home, "featured") == [f"Featured {n}" for n in range(9, 1, -1)]
    assert titles(home, "new") == [f"Plain {n}" for n in range(11, 3, -1)]
    # Manual ones first (newest first), then the computed fill by score, never repeating a manual one.
    assert titles(home, "trending") == ["Manual and scored", "Manual 2", "Manual 1", "Manual 0",
                                        "Score 7", "Score 6", "Score 5", "Score 4"]
    shown = set(titles(home, "featured")) | set(titles(home, "new")) | set(titles(home, "trending"))
    misc = titles(home, "misc")
    assert len(misc) == 8 and not shown & set(misc)
    # misc is the newest of what is left: the remaining plain ones, then the scored ones, ...
    assert misc[:4] == ["Plain 3", "Plain 2", "Plain 1", "Plain 0"]
    assert set(misc[4:7]) == {"Score 1", "Score 2", "Score 3"}
    assert misc[7] == "Featured 1"
    assert all(len(home[bucket]) <= 8 for bucket in home)
    assert "Draft featured" not in {card["title"] for bucket in home.values() for card in bucket}


async def test_c6_computed_trending_fill_needs_a_positive_score(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        product(s, files, "Scored", score=0.5)
        product(s, files, "Unscored one")
        product(s, files, "Unscored two")
    home = await catalog.get("/home")
    assert titles(home, "trending") == ["Scored"]
    assert set(titles(home, "misc")) == set()  # all three are in "new" already
    assert titles(home, "new") == ["Unscored two", "Unscored one", "Scored"]


async def test_c7_home_and_browse_badge_the_same_products(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        for n in range(14):
            product(s, files, f"Scored {n}", score=float(n + 1), featured=n % 3 == 0)
        product(s, files, "Manual", trending=True)
        product(s, files, "Quiet", featured=True)
    home = await catalog.get("/home")
    browse = await catalog.get("/browse", page_size=60)
    browse_badges = {card["title"]: card["trending_badge"] for card in browse["items"]}
    home_badges = {card["title"]: card["trending_badge"] for bucket in home.values() for card in bucket}
    assert home_badges and all(browse_badges[title] == badge for title, badge in home_badges.items())
    # Exactly the manual one and the top 12 scores (3..14) are badged; "Scored 0" and "Scored 1" are not.
    assert {t for t, b in browse_badges.items() if b} == {"Manual"} | {f"Scored {n}" for n in range(2, 14)}


async def test_c6_c10_home_cards_carry_can_buy_and_images_at_a_fixed_query_cost(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        payout(s, "seller-late", False)
        ready = product(s, files, "Ready", featured=True)
        product(s, files, "Not ready", seller="seller-late", featured=True)
        key = image(s, ready, primary=True)
    with StatementCounter(catalog) as few:
        home = await catalog.get("/home")
    cards = {card["title"]: card for card in home["featured"]}
    assert cards["Ready"]["can_buy"] is True and cards["Not ready"]["can_buy"] is False
    assert cards["Ready"]["image_url"] == f"/media/images/{key}"

    async with catalog.session() as s:
        for n in range(40):
            p = product(s, files, f"More {n}", seller=f"seller-{n}", featured=n % 2 == 0, score=float(n % 5),
                        trending=n % 7 == 0)
            image(s, p)
    with StatementCounter(catalog) as many:
        await catalog.get("/home")
    assert many.count == few.count

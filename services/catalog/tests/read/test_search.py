"""Search (C5): a real full-text index (FTS5 + bm25 on SQLite, tsvector + ts_rank on PostgreSQL), kept
in sync with products by the migration's triggers, ranked, and safe against query syntax."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from rows import category, product, titles
from support import CatalogHarness

from catalog.models import CatalogType, Product


async def test_c5_search_ranks_a_title_match_above_description_matches(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        product(s, files, "Castle gate", description="A gate; the dragon on the banner is small.", age_days=0)
        product(s, files, "Knight", short="Fights a dragon", age_days=1)
        product(s, files, "Dragon", description="Wings and a tail.", age_days=5)  # oldest, yet first
        product(s, files, "Teapot", description="Nothing to see here.")
    body = await catalog.get("/browse", q="dragon")
    assert body["sort"] == "relevance"
    assert titles(body) == ["Dragon", "Knight", "Castle gate"]
    assert body["total"] == 3


async def test_c5_search_covers_title_short_and_long_description_with_stemming_and_prefix(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        product(s, files, "Flower pot")
        product(s, files, "Lamp", short="A lamp for reading")
        product(s, files, "Shelf", description="Holds books and flowering plants")
    assert sorted(titles(await catalog.get("/browse", q="flowers"))) == ["Flower pot", "Shelf"]  # stemmed
    assert titles(await catalog.get("/browse", q="reading")) == ["Lamp"]
    assert titles(await catalog.get("/browse", q="boo")) == ["Shelf"]  # the last term is a prefix
    assert titles(await catalog.get("/browse", q="lamp reading")) == ["Lamp"]  # every term required
    assert titles(await catalog.get("/browse", q="lamp books")) == []


@pytest.mark.parametrize(
    ("q", "matches"),
    [
        ('"', False), ("'", False), ('dragon"', True), ("AND", False), ("NOT", False), ("NEAR(dragon", False),
        ("*", False), ("dragon*", True), ("title:dragon", False), ("-dragon", True), ("^dragon", True),
        ("dragon & | !", True), ("(((", False), ("{title}: x", False), (":*", False), ("\\", False), ("%_", False),
        ("dragon;DROP TABLE products", False),
        ("OR dragon", None),  # "or" is a stop word to PostgreSQL's english configuration, a word to FTS5
    ],
)
async def test_c5_queries_with_full_text_syntax_never_fail(catalog: CatalogHarness, q: str, matches: bool | None) -> None:
    async with catalog.session() as s:
        product(s, category(s, "Files"), "Dragon")
        product(s, category(s, "More files"), "Title page")
    response = await catalog.client.get("/browse", params={"q": q})
    assert response.status_code == 200, response.text
    found = titles(response.json())
    assert set(found) <= {"Dragon", "Title page"}
    if matches is not None:
        assert ("Dragon" in found) is matches, (q, found)


async def test_c5_a_query_without_letters_or_digits_matches_nothing(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        product(s, category(s, "Files"), "Anything")
    body = await catalog.get("/browse", q="!!! ***")
    assert body["items"] == [] and body["total"] == 0
    assert (await catalog.get("/browse", q="   "))["total"] == 1  # blank is no search at all


async def test_c5_search_combines_with_kind_sort_and_visibility(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files", CatalogType.FILE)
        models = category(s, "Models", CatalogType.MODEL)
        product(s, files, "Vase file", age_days=3, score=1.0)
        product(s, files, "Spiral vase file", age_days=1, score=9.0)
        product(s, models, "Printed vase", age_days=2)
        product(s, files, "Hidden vase", active=False)
    assert titles(await catalog.get("/browse/files", q="vase", sort="new")) == ["Spiral vase file", "Vase file"]
    assert titles(await catalog.get("/browse/files", q="vase", sort="trending")) == ["Spiral vase file", "Vase file"]
    assert titles(await catalog.get("/browse/models", q="vase")) == ["Printed vase"]
    paged = await catalog.get("/browse", q="vase", sort="new", page_size=2)
    assert paged["total"] == 3 and paged["has_next"] is True and len(paged["items"]) == 2


async def test_c5_the_index_follows_inserts_updates_and_deletes(catalog: CatalogHarness) -> None:
    """The triggers of migration 0010 keep the index in step with every change to products."""
    async with catalog.session() as s:
        files = category(s, "Files")
        renamed = product(s, files, "Old name", short="original words")
        doomed = product(s, files, "Temporary gizmo")
    assert titles(await catalog.get("/browse", q="old")) == ["Old name"]
    assert titles(await catalog.get("/browse", q="gizmo")) == ["Temporary gizmo"]

    async with catalog.session() as s:
        await s.execute(
            sa.update(Product).where(Product.id == renamed.id).values(title="Brand new name", short_description="fresh")
        )
        await s.execute(sa.update(Product).where(Product.id == doomed.id).values(trending_score=5.0))  # no text change
    assert titles(await catalog.get("/browse", q="brand")) == ["Brand new name"]
    assert titles(await catalog.get("/browse", q="fresh")) == ["Brand new name"]
    assert (await catalog.get("/browse", q="original"))["total"] == 0
    assert (await catalog.get("/browse", q="old name"))["total"] == 0
    assert titles(await catalog.get("/browse", q="gizmo")) == ["Temporary gizmo"]

    async with catalog.session() as s:
        await s.execute(sa.delete(Product).where(Product.id == doomed.id))
    assert (await catalog.get("/browse", q="gizmo"))["total"] == 0


async def test_c5_search_index_rebuild_restores_results(catalog: CatalogHarness) -> None:
    from catalog.search.changes import request_rebuild

    async with catalog.session() as s:
        product(s, category(s, "Files"), "Rebuildable widget")
    before = catalog.search.index
    async with catalog.session() as s:  # what `python -m catalog reindex` does
        await request_rebuild(s)
    assert catalog.search.index is not before
    assert titles(await catalog.get("/browse", q="widget")) == ["Rebuildable widget"]


async def test_c5_relevance_puts_every_title_match_before_description_only_matches(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        # A short text saying "dragon" over and over: bm25 alone could rank it above a title hit.
        product(s, files, "Lamp", short="dragon dragon dragon dragon", description="dragon dragon", age_days=0)
        product(s, files, "Dragon", description=" ".join(["filler words about other things"] * 40), age_days=9)
    assert titles(await catalog.get("/browse", q="dragon")) == ["Dragon", "Lamp"]


async def test_c5_relevance_pages_run_across_the_title_tier_into_the_rest(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        for n in range(3):
            product(s, files, f"Owl statue {n}", age_days=n)
        for n in range(4):
            product(s, files, f"Statue {n}", description="an owl sits on it", age_days=n)
        product(s, files, "Unrelated")
    seen: list[str] = []
    for page in (1, 2, 3, 4):
        body = await catalog.get("/browse", q="owl", page=page, page_size=2)
        assert body["total"] == 7 and body["total_exact"] is True
        assert body["has_next"] is (page < 4)
        seen += titles(body)
    assert seen == ["Owl statue 0", "Owl statue 1", "Owl statue 2", "Statue 0", "Statue 1", "Statue 2", "Statue 3"]
    assert (await catalog.get("/browse", q="owl", page=5, page_size=2))["items"] == []


async def test_c5_a_search_total_is_counted_up_to_a_cap_and_paging_still_works(
    catalog: CatalogHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from catalog.browse import domain

    monkeypatch.setattr(domain, "SEARCH_COUNT_CAP", 3)
    async with catalog.session() as s:
        files = category(s, "Files")
        for n in range(5):
            product(s, files, f"Gear {n}", age_days=n)
    first = await catalog.get("/browse", q="gear", page_size=2)
    assert (first["total"], first["total_exact"], first["has_next"]) == (3, False, True)
    last = await catalog.get("/browse", q="gear", page=3, page_size=2)
    assert titles(last) == ["Gear 4"] and last["has_next"] is False
    few = await catalog.get("/browse", q="gear 1")
    assert (few["total"], few["total_exact"]) == (1, True)
    browse = await catalog.get("/browse")  # lists without a query are always counted exactly
    assert (browse["total"], browse["total_exact"]) == (5, True)


async def test_c5_beyond_the_cap_title_matches_make_the_total_inexact_without_counting_the_rest(
    catalog: CatalogHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from catalog.browse import domain

    monkeypatch.setattr(domain, "SEARCH_COUNT_CAP", 3)
    async with catalog.session() as s:
        files = category(s, "Files")
        for n in range(4):
            product(s, files, f"Gear {n}", age_days=n)
        for n in range(2):
            product(s, files, f"Wheel {n}", description="a gear inside", age_days=n)
        for n in range(3):
            product(s, files, f"Pulley {n}", age_days=n)
        product(s, files, "Crank", description="turns a pulley")
    # 4 title matches > cap 3: the rest is not counted, the total reads the cap, not exact (0111)
    first = await catalog.get("/browse", q="gear", page_size=2)
    assert (first["total"], first["total_exact"], first["has_next"]) == (3, False, True)
    assert titles(first) == ["Gear 0", "Gear 1"]
    # paging on past the title matches still ranks the rest after them
    third = await catalog.get("/browse", q="gear", page=3, page_size=2)
    assert titles(third) == ["Wheel 0", "Wheel 1"] and third["has_next"] is False
    # exactly the cap in titles: the rest is counted, so one more match makes it inexact
    pulley = await catalog.get("/browse", q="pulley", page_size=2)
    assert (pulley["total"], pulley["total_exact"], pulley["has_next"]) == (3, False, True)
    crank = await catalog.get("/browse", q="pulley", page=2, page_size=2)
    assert titles(crank) == ["Pulley 2", "Crank"] and crank["has_next"] is False


async def test_c5_search_index_migration_downgrades_and_upgrades_again(database_url: str) -> None:
    import asyncio

    from alembic import command

    from catalog.app import MIGRATIONS
    from homecraft_shared.migrations import alembic_config, upgrade_to_head

    config = alembic_config(MIGRATIONS, database_url)
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS, database_url)
    await asyncio.to_thread(command.downgrade, config, "0010-1")
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS, database_url)

"""The search projection (docs/decisions/0111): each process's own Tantivy index, built from the
database at start-up, kept current from the change log the migration's triggers write (a product
published or edited through the API is findable within 1 s), rebuilt on request, and surviving a
restart: kept on disk per process and caught up from the change log, rebuilt from the database when
the saved one cannot be used. Plus what a shop's search needs (C5): typo
tolerance, refinements, sorts inside the engine, snippets and facet counts."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rows import category, payout, product, titles
from sqlalchemy.ext.asyncio import AsyncSession
from support import CatalogHarness, running_catalog

from catalog.__main__ import reindex_command
from catalog.models import CatalogType, Category, Product, SearchChange
from catalog.search.changes import ChangeCursor, prune
from catalog.search.projection import SearchProjection
from catalog.search.query import plan_words
from homecraft_shared.db import create_engine, create_sessionmaker, utcnow
from homecraft_shared.events.engagement import ReviewPostedV1
from homecraft_shared.events.payments import SellerPayoutReadinessChangedV1
from homecraft_shared.testing.harness import ServiceHarness

FRESHNESS_SECONDS = 1.0


async def within(seconds: float, check: Callable[[], Awaitable[bool]]) -> float:
    """Poll ``check`` until it holds; fail after ``seconds``. Returns how long it took."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not true within {seconds} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def projection(app: Any) -> SearchProjection:
    return app.state.runtime.resources.get(SearchProjection)


# --- freshness through the write API --------------------------------------------------------------


async def found(w: CatalogHarness, q: str) -> list[str]:
    response = await w.client.get("/browse", params={"q": q})
    assert response.status_code == 200, response.text
    return titles(response.json())


async def test_c5_a_published_or_edited_product_is_findable_within_a_second(catalog: CatalogHarness) -> None:
    w = catalog
    await w.make_ready("seller-1")  # (its own refresh is harmless: nothing to find yet)
    listing = await w.publishable("FILE", title="Zanzibar lantern")
    assert await found(w, "zanzibar") == []  # a draft is not listed
    assert (await w.client.post(f"/listings/{listing['id']}/publish", headers=w.seller())).status_code == 200

    async def published() -> bool:
        return await found(w, "zanzibar") == ["Zanzibar lantern"]

    await within(FRESHNESS_SECONDS, published)

    edited = await w.client.patch(f"/listings/{listing['id']}", json={"title": "Quokka lantern"}, headers=w.seller())
    assert edited.status_code == 200

    async def renamed() -> bool:
        return await found(w, "quokka") == ["Quokka lantern"] and await found(w, "zanzibar") == []

    await within(FRESHNESS_SECONDS, renamed)

    assert (await w.client.post(f"/listings/{listing['id']}/unpublish", headers=w.seller())).status_code == 200

    async def unlisted() -> bool:
        return await found(w, "quokka") == []

    await within(FRESHNESS_SECONDS, unlisted)


async def test_c10_payout_readiness_reaches_the_can_buy_refinement_within_a_second(catalog: CatalogHarness) -> None:
    w = catalog
    await w.make_ready("seller-1")
    listing = await w.publishable("FILE", title="Wombat whistle")
    assert (await w.client.post(f"/listings/{listing['id']}/publish", headers=w.seller())).status_code == 200

    async def buyable(expected: list[str]) -> bool:
        response = await w.client.get("/browse", params={"q": "wombat", "can_buy": "true"})
        return titles(response.json()) == expected

    # Published and buyable (the freshness of publishing is the test above; here only a precondition).
    await within(5 * FRESHNESS_SECONDS, lambda: buyable(["Wombat whistle"]))
    # The projection of payments' event (a trigger logs the seller's products), applied without the
    # harness's immediate refresh: the background loop must find it.
    await ServiceHarness.deliver(w, SellerPayoutReadinessChangedV1(seller_id="seller-1", ready=False, changed_at=utcnow()))
    await within(FRESHNESS_SECONDS, lambda: buyable([]))


# --- restart, rebuild ----------------------------------------------------------------------------


async def _write_while_down(database_url: str, write: Callable[[AsyncSession], Awaitable[None]]) -> None:
    """A change committed while no catalog process runs (its change-log row is written by the triggers)."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as s:
            await write(s)
            await s.commit()
    finally:
        await engine.dispose()


async def test_the_index_survives_a_restart_and_catches_up_with_changes_made_while_down(
    database_url: str, nats_url: str, identity_keys: tuple[str, str], tmp_path: Path
) -> None:
    async with running_catalog(database_url, nats_url, identity_keys, tmp_path) as first:
        async with first.session() as s:
            payout(s, "seller-ready", True)
            files = category(s, "Files")
            product(s, files, "Persistent pelican", short="survives restarts")
            edited = product(s, files, "Wandering walrus")
        assert titles(await first.get("/browse", q="pelican")) == ["Persistent pelican"]
        search = projection(first.app)
        assert not search.resumed  # nothing saved yet: built from the products table
        directory = search.index.directory
        files_id, edited_id = files.id, edited.id
    assert directory.exists()  # kept on disk for the next start

    async def while_down(s: AsyncSession) -> None:
        product(s, await s.get_one(Category, files_id), "Late lynx")
        await s.execute(sa.update(Product).where(Product.id == edited_id).values(title="Renamed rhino"))

    await _write_while_down(database_url, while_down)

    async with running_catalog(database_url, nats_url, identity_keys, tmp_path) as second:
        search = projection(second.app)
        # Resumed from disk, not rebuilt: same index directory, caught up from the change log.
        assert search.resumed and search.index.directory == directory
        assert titles(await second.get("/browse", q="pelican")) == ["Persistent pelican"]
        assert titles(await second.get("/browse", q="lynx")) == ["Late lynx"]
        assert titles(await second.get("/browse", q="rhino")) == ["Renamed rhino"]
        assert titles(await second.get("/browse", q="walrus")) == []


async def test_an_index_built_before_anything_was_logged_is_resumed(
    database_url: str, nats_url: str, identity_keys: tuple[str, str], tmp_path: Path
) -> None:
    """A catalog loaded in bulk with its change log emptied (bench/catalog_browse.py does): the first
    start builds at log number 0, and the next one resumes that index while the log stays empty."""
    async with running_catalog(database_url, nats_url, identity_keys, tmp_path) as first, first.session() as s:
        payout(s, "seller-ready", True)
        product(s, category(s, "Files"), "Bulk bison")

    async def empty_the_log(s: AsyncSession) -> None:
        await s.execute(sa.delete(SearchChange))

    await _write_while_down(database_url, empty_the_log)
    tmp_second = tmp_path / "second"
    async with running_catalog(database_url, nats_url, identity_keys, tmp_second) as built:
        assert not projection(built.app).resumed  # another index root: nothing saved there yet
        directory = projection(built.app).index.directory
    async with running_catalog(database_url, nats_url, identity_keys, tmp_second) as again:
        search = projection(again.app)
        assert search.resumed and search.index.directory == directory
        assert titles(await again.get("/browse", q="bison")) == ["Bulk bison"]


def _other_schema_version(slot: Path, _index: Path) -> None:
    state = json.loads((slot / "state.json").read_text())
    (slot / "state.json").write_text(json.dumps({**state, "schema_version": state["schema_version"] + 1}))


def _corrupt_index(_slot: Path, index: Path) -> None:
    (index / "meta.json").write_text("{not json")


def _index_missing(_slot: Path, index: Path) -> None:
    shutil.rmtree(index)


def _state_unreadable(slot: Path, _index: Path) -> None:
    (slot / "state.json").write_text("")


@pytest.mark.parametrize("damage", [_other_schema_version, _corrupt_index, _index_missing, _state_unreadable])
async def test_the_index_is_rebuilt_from_the_database_when_the_saved_one_cannot_be_used(
    database_url: str, nats_url: str, identity_keys: tuple[str, str], tmp_path: Path,
    damage: Callable[[Path, Path], None],
) -> None:
    async with running_catalog(database_url, nats_url, identity_keys, tmp_path) as first:
        async with first.session() as s:
            payout(s, "seller-ready", True)
            product(s, category(s, "Files"), "Persistent pelican")
        index = projection(first.app).index.directory
    damage(index.parent, index)

    async with running_catalog(database_url, nats_url, identity_keys, tmp_path) as second:
        search = projection(second.app)
        assert not search.resumed and search.index.directory != index
        assert titles(await second.get("/browse", q="pelican")) == ["Persistent pelican"]
        assert [p.name for p in index.parent.glob("index-*")] == [search.index.directory.name]  # old one removed


async def test_a_saved_index_the_pruned_change_log_no_longer_reaches_is_rebuilt(
    database_url: str, nats_url: str, identity_keys: tuple[str, str], tmp_path: Path
) -> None:
    async with running_catalog(database_url, nats_url, identity_keys, tmp_path) as first:
        async with first.session() as s:
            payout(s, "seller-ready", True)
            files = category(s, "Files")
            product(s, files, "Persistent pelican")
        files_id = files.id

    async def while_down(s: AsyncSession) -> None:
        product(s, await s.get_one(Category, files_id), "Late lynx")
        product(s, await s.get_one(Category, files_id), "Later lemur")
        await s.flush()
        # An hour passes: pruning removes every row but the newest, the lynx's among them.
        assert await prune(s, utcnow() + dt.timedelta(hours=2)) > 0
        assert await s.scalar(sa.select(sa.func.count()).select_from(SearchChange)) == 1

    await _write_while_down(database_url, while_down)

    async with running_catalog(database_url, nats_url, identity_keys, tmp_path) as second:
        assert not projection(second.app).resumed
        assert titles(await second.get("/browse", q="lynx")) == ["Late lynx"]


async def test_two_running_instances_never_share_an_index_directory(
    database_url: str, nats_url: str, identity_keys: tuple[str, str], tmp_path: Path
) -> None:
    async with (
        running_catalog(database_url, nats_url, identity_keys, tmp_path) as first,
        running_catalog(database_url, nats_url, identity_keys, tmp_path) as second,
    ):
        a, b = projection(first.app).index.directory, projection(second.app).index.directory
        assert a.parent != b.parent  # each its own slot (locked while it runs), under the same root
        assert a.parent.parent == b.parent.parent


async def test_reindex_makes_every_running_process_rebuild_from_the_products_table(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
    # A product whose change-log row is lost (as if written while the triggers were missing): the
    # running index cannot know about it until it is rebuilt from the products table.
    async with catalog.sessionmaker() as s:
        lost = product(s, files, "Forgotten falcon")
        await s.flush()
        await s.execute(sa.delete(SearchChange).where(SearchChange.product_id == lost.id))
        await s.commit()
    search = projection(catalog.app)
    await search.refresh()
    assert titles(await catalog.get("/browse", q="falcon")) == []
    before = search.index

    await reindex_command(catalog.runtime, argparse.Namespace())

    async def rebuilt() -> bool:
        return titles(await catalog.get("/browse", q="falcon")) == ["Forgotten falcon"]

    await within(5.0, rebuilt)
    assert search.index is not before


async def test_the_change_cursor_waits_for_numbers_committed_out_of_order(catalog: CatalogHarness) -> None:
    """PostgreSQL hands out sequence numbers before commit: a lower one can commit after a higher one."""
    async with catalog.session() as s:
        start = int(await s.scalar(sa.select(sa.func.coalesce(sa.func.max(SearchChange.seq), 0))) or 0)
    clock = [0.0]
    cursor = ChangeCursor(start, clock=lambda: clock[0])
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = sa.func.current_timestamp()
    async with catalog.sessionmaker() as s:
        await s.execute(sa.insert(SearchChange).values(seq=start + 1, product_id=a, changed_at=now))
        await s.execute(sa.insert(SearchChange).values(seq=start + 3, product_id=c, changed_at=now))
        await s.commit()
        assert (await cursor.read(s)).product_ids == {a, c}
        assert set(cursor.gaps) == {start + 2}
        await s.execute(sa.insert(SearchChange).values(seq=start + 2, product_id=b, changed_at=now))
        await s.commit()
        assert (await cursor.read(s)).product_ids == {b}  # the late one is not lost
        assert cursor.gaps == {} and cursor.seq == start + 3
        await s.execute(sa.insert(SearchChange).values(seq=start + 5, product_id=a, changed_at=now))
        await s.commit()
        await cursor.read(s)
        clock[0] += 60  # a number that never commits (a rolled-back transaction) is given up
        await cursor.read(s)
        assert cursor.gaps == {}


# --- what a shop's search needs (C5) ----------------------------------------------------------------


def test_c5_typo_tolerance_is_for_longer_words_and_the_prefix_for_the_last_one() -> None:
    short, long_, last = plan_words(["lamp", "dragons", "hel"])
    assert short.fuzzy == () and short.prefix is None
    assert dict(long_.fuzzy) == {"dragons": 1, "dragon": 1} and long_.prefix is None
    assert last.prefix == "hel" and last.fuzzy == ()
    assert dict(plan_words(["steampunks"])[0].fuzzy)["steampunks"] == 2


async def test_c5_search_tolerates_typos_in_longer_words_only(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        product(s, files, "Dragon lamp")
        product(s, files, "Steampunk robot")
    assert titles(await catalog.get("/browse", q="dragn")) == ["Dragon lamp"]  # one typo, 5 letters
    assert titles(await catalog.get("/browse", q="stempunk robot")) == ["Steampunk robot"]
    assert titles(await catalog.get("/browse", q="lamb dragon")) == []  # 4 letters: exact (or prefix) only
    exact = await catalog.get("/browse", q="dragon")
    assert titles(exact) == ["Dragon lamp"]


async def test_c5_words_found_as_typed_anywhere_are_not_typos_with_or_without_a_refinement(
    catalog: CatalogHarness,
) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        models = category(s, "Models", CatalogType.MODEL)
        product(s, files, "Dragon lamp")
        product(s, models, "Dragn figure")  # a word as typed, in the other catalog only
    # Unfiltered, the page's own total decides (0111): "dragn" is found as typed, so it is no typo.
    assert titles(await catalog.get("/browse", q="dragn")) == ["Dragn figure"]
    # Refined to files, it is still found as typed in the catalog (in models): no typo either.
    assert titles(await catalog.get("/browse/files", q="dragn")) == []
    assert titles(await catalog.get("/browse/models", q="dragon")) == []
    # Found nowhere as typed: one edit away either way, filtered or not.
    assert sorted(titles(await catalog.get("/browse", q="dragin"))) == ["Dragn figure", "Dragon lamp"]
    assert titles(await catalog.get("/browse/models", q="dragin")) == ["Dragn figure"]


async def test_c5_the_last_words_prefix_stands_for_its_most_frequent_words(
    catalog: CatalogHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from catalog.search import query

    monkeypatch.setattr(query, "MAX_PREFIX_EXPANSIONS", 2)  # 50 in production (decision 0111)
    async with catalog.session() as s:
        files = category(s, "Files")
        for n in range(3):
            product(s, files, f"Dragon {n}")
        for n in range(2):
            product(s, files, f"Dragonfly {n}")
        product(s, files, "Dragster")
    # "drag" is no word of the index: it stands for the two most frequent words it starts
    assert sorted(titles(await catalog.get("/browse", q="drag"))) == [
        "Dragon 0", "Dragon 1", "Dragon 2", "Dragonfly 0", "Dragonfly 1"]
    assert titles(await catalog.get("/browse", q="dragst")) == ["Dragster"]  # more letters find the rare one
    assert titles(await catalog.get("/browse", q="dragster")) == ["Dragster"]


async def test_c5_search_refinements_and_facet_counts(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        payout(s, "seller-late", False)
        files = category(s, "Files", CatalogType.FILE)
        models = category(s, "Models", CatalogType.MODEL)
        hidden = category(s, "Hidden", CatalogType.FILE, active=False)
        product(s, files, "Owl free", is_free=True, price_cents=0)
        product(s, files, "Owl cheap", price_cents=500)
        product(s, files, "Owl dear", price_cents=5000, seller="seller-late")
        product(s, models, "Owl print", price_cents=2500)
        product(s, hidden, "Owl hidden")
    assert sorted(titles(await catalog.get("/browse", q="owl", free="true"))) == ["Owl free"]
    assert sorted(titles(await catalog.get("/browse", q="owl", can_buy="false"))) == ["Owl dear"]
    assert sorted(titles(await catalog.get("/browse", q="owl", min_price=500, max_price=2500))) == [
        "Owl cheap", "Owl print"]
    assert titles(await catalog.get("/browse", q="owl", category=models.id)) == ["Owl print"]
    assert titles(await catalog.get("/browse", category=models.id)) == ["Owl print"]  # lists too

    body = await catalog.get("/browse", q="owl", facets="true", category=files.id)
    assert body["total"] == 3
    facets = body["facets"]  # counted before the category and kind refinements: the sidebar's choices
    assert facets["categories"] == [{"value": str(files.id), "count": 3}, {"value": str(models.id), "count": 1}]
    assert facets["kinds"] == [{"value": "FILE", "count": 3}, {"value": "MODEL", "count": 1}]
    assert (await catalog.get("/browse", q="owl"))["facets"] is None
    bad = await catalog.client.get("/browse", params={"min_price": -1})
    assert bad.status_code == 422


async def test_c5_snippets_highlight_the_words_with_the_text_escaped(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        product(s, files, "Shelf", description="Holds <b>books</b> & flowering plants on a wall")
        product(s, files, "Flower pot")
    cards = {c["title"]: c for c in (await catalog.get("/browse", q="flowers"))["items"]}
    assert cards["Shelf"]["snippet"] == "Holds &lt;b&gt;books&lt;/b&gt; &amp; <b>flowering</b> plants on a wall"
    assert cards["Flower pot"]["snippet"] is None  # only the title matched
    assert all(c["snippet"] is None for c in (await catalog.get("/browse"))["items"])  # lists: no snippets


async def test_c5_search_sorts_run_in_the_engine_with_the_same_ties_as_lists(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        # Same score and rating: newest first; same everything: by id, as the SQL order did.
        product(s, files, "Gear a", score=2.0, ratings=(12, 3), age_days=3)
        product(s, files, "Gear b", score=2.0, ratings=(12, 3), age_days=1)
        product(s, files, "Gear c", score=5.0, ratings=(5, 1), age_days=9)
        product(s, files, "Gear d", score=0.0, ratings=(15, 3), age_days=5)
        product(s, files, "Gear e", score=0.0, ratings=(13, 3), age_days=2)
    assert titles(await catalog.get("/browse", q="gear", sort="trending")) == [
        "Gear c", "Gear b", "Gear a", "Gear d", "Gear e"]
    assert titles(await catalog.get("/browse", q="gear", sort="top")) == ["Gear d", "Gear e", "Gear b", "Gear a"]
    assert titles(await catalog.get("/browse", q="gear", sort="new")) == [
        "Gear b", "Gear e", "Gear a", "Gear d", "Gear c"]
    for sort in ("trending", "top", "new"):  # a list (no q) orders the same way
        assert titles(await catalog.get("/browse", sort=sort)) == titles(await catalog.get("/browse", q="gear", sort=sort))
    paged = [titles(await catalog.get("/browse", q="gear", sort="trending", page=n, page_size=2)) for n in (1, 2, 3)]
    assert paged == [["Gear c", "Gear b"], ["Gear a", "Gear d"], ["Gear e"]]


async def test_c5_the_stored_average_follows_the_rating_projection(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        first = product(s, files, "Rated first", ratings=(9, 3))
        second = product(s, files, "Rated second", ratings=(12, 3))
    async with catalog.session() as s:
        averages = dict((await s.execute(sa.select(Product.title, Product.avg_rating))).all())
    assert averages == {"Rated first": 3.0, "Rated second": 4.0}  # set on insert from count and sum
    assert titles(await catalog.get("/browse", sort="top")) == ["Rated second", "Rated first"]

    assert await catalog.deliver(ReviewPostedV1(review_id="r", product_id=str(first.id), rating=5, rating_count=4,
                                                rating_sum=19, posted_at=utcnow()))
    async with catalog.session() as s:
        assert (await s.get(Product, first.id)).avg_rating == 4.75  # type: ignore[union-attr]
    assert titles(await catalog.get("/browse", sort="top")) == ["Rated first", "Rated second"]
    del second

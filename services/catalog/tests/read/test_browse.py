"""Browse (C5): visibility, kinds, sorts and their notices, pagination and bad parameters; the trending
order and badge on browse (C7); can_buy on every card without a query per card (C10)."""

from __future__ import annotations

import pytest
from rows import StatementCounter, category, image, payout, product, titles
from support import CatalogHarness

from catalog.models import CatalogType, ListingStatus


async def test_c5_only_published_active_products_in_active_categories_are_listed(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        hidden_root = category(s, "Hidden root", active=False)
        await s.flush()
        hidden_child = category(s, "Child of hidden", parent=hidden_root)
        inactive_child = category(s, "Inactive child", parent=files, active=False)
        product(s, files, "Shown")
        product(s, files, "Draft", status=ListingStatus.DRAFT)
        product(s, files, "Unlisted", status=ListingStatus.UNLISTED)
        product(s, files, "Deactivated", active=False)
        product(s, hidden_root, "In inactive category")
        product(s, hidden_child, "Under inactive root")
        product(s, inactive_child, "In inactive child")
    body = await catalog.get("/browse")
    assert titles(body) == ["Shown"]
    assert body["total"] == 1


async def test_c5_models_and_files_are_browsed_apart(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        models = category(s, "Models", CatalogType.MODEL)
        files = category(s, "Files", CatalogType.FILE)
        product(s, models, "A printed vase")
        product(s, files, "A vase file")
    assert titles(await catalog.get("/browse/models")) == ["A printed vase"]
    assert titles(await catalog.get("/browse/files")) == ["A vase file"]
    assert titles(await catalog.get("/browse", kind="MODEL")) == ["A printed vase"]
    assert sorted(titles(await catalog.get("/browse"))) == ["A printed vase", "A vase file"]
    assert (await catalog.get("/browse/models"))["kind"] == "MODEL"


async def test_c5_new_sort_is_newest_first(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        product(s, files, "Old", age_days=10)
        product(s, files, "Newest", age_days=1)
        product(s, files, "Middle", age_days=5)
    body = await catalog.get("/browse", sort="new")
    assert titles(body) == ["Newest", "Middle", "Old"]
    assert (await catalog.get("/browse"))["sort"] == "new"  # the default without a query


async def test_c5_pagination_reports_total_and_has_next(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        for n in range(7):
            product(s, files, f"Item {n}", age_days=n)
    first = await catalog.get("/browse", page=1, page_size=3)
    assert titles(first) == ["Item 0", "Item 1", "Item 2"]
    assert (first["total"], first["has_next"], first["page"], first["page_size"]) == (7, True, 1, 3)
    last = await catalog.get("/browse", page=3, page_size=3)
    assert titles(last) == ["Item 6"]
    assert last["has_next"] is False
    beyond = await catalog.get("/browse", page=9, page_size=3)
    assert beyond["items"] == [] and beyond["total"] == 7 and beyond["has_next"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": "x"}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 61}, "page_size"),
        ({"sort": "cheapest"}, "sort"),
        ({"kind": "SCULPTURE"}, "kind"),
        ({"q": "x" * 201}, "q"),
        ({"sort": "relevance"}, "sort"),  # relevance needs a query
    ],
)
async def test_c5_bad_parameters_are_a_clear_4xx_problem(catalog: CatalogHarness, params: dict[str, object], field: str) -> None:
    response = await catalog.client.get("/browse", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 422
    assert any(error["field"].endswith(field) for error in body["errors"]), body


async def test_c5_top_rated_lists_only_products_with_three_reviews_in_rating_order(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        product(s, files, "Two perfect reviews", ratings=(10, 2))  # 5.0 avg but only 2 reviews
        product(s, files, "Avg 4.5 of 4", ratings=(18, 4), age_days=3)
        product(s, files, "Avg 4.5 of 6", ratings=(27, 6), age_days=3)
        product(s, files, "Avg 4.0 newer", ratings=(12, 3), age_days=1)
        product(s, files, "Avg 4.0 older", ratings=(12, 3), age_days=2)
        product(s, files, "No reviews")
    body = await catalog.get("/browse", sort="top")
    assert titles(body) == ["Avg 4.5 of 6", "Avg 4.5 of 4", "Avg 4.0 newer", "Avg 4.0 older"]
    assert body["total"] == 4
    assert body["notice"] is None


async def test_c5_top_rated_falls_back_to_everything_with_a_notice_when_none_has_three_reviews(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        product(s, files, "Two reviews avg 4", ratings=(8, 2))
        product(s, files, "One review avg 5", ratings=(5, 1))
        product(s, files, "No reviews")
    body = await catalog.get("/browse", sort="top")
    assert titles(body) == ["One review avg 5", "Two reviews avg 4", "No reviews"]
    assert body["total"] == 3
    assert body["notice"] and "3" in body["notice"]
    # The fallback is decided within the list asked for: searching or not changes nothing here, and
    # once one product qualifies the notice goes away.
    async with catalog.session() as s:
        product(s, files, "Three reviews", ratings=(9, 3))
    again = await catalog.get("/browse", sort="top")
    assert titles(again) == ["Three reviews"] and again["notice"] is None


async def test_c7_trending_sort_orders_by_score_then_rating_then_newest(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        product(s, files, "Score 5 rated 3", score=5.0, ratings=(3, 1), age_days=1)
        product(s, files, "Score 9", score=9.0, age_days=9)
        product(s, files, "Score 5 rated 4 old", score=5.0, ratings=(4, 1), age_days=8)
        product(s, files, "Score 5 rated 4 new", score=5.0, ratings=(4, 1), age_days=2)
        product(s, files, "Score 0", age_days=0)
    body = await catalog.get("/browse", sort="trending")
    assert titles(body) == ["Score 9", "Score 5 rated 4 new", "Score 5 rated 4 old", "Score 5 rated 3", "Score 0"]
    assert body["notice"] is None


async def test_c5_trending_with_no_signal_at_all_shows_a_notice(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        product(s, files, "Quiet one")
        product(s, files, "Quiet two")
    body = await catalog.get("/browse", sort="trending")
    assert body["notice"] and "trending" in body["notice"].lower()
    assert body["total"] == 2


async def test_c5_a_manual_trending_flag_is_a_signal_even_off_the_first_page(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        product(s, files, "Flagged but old", trending=True, age_days=30)
        for n in range(3):
            product(s, files, f"Quiet {n}", age_days=n)
    # Page 1 (size 2) holds no signal itself; the flagged product further down still counts.
    body = await catalog.get("/browse", sort="trending", page_size=2)
    assert "Flagged but old" not in titles(body)
    assert body["notice"] is None


async def test_c7_badge_only_for_manual_or_top_twelve_with_positive_score(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        for n in range(13):  # scores 13..1: the top 12 get the badge, the 13th does not
            product(s, files, f"Scored {13 - n}", score=float(13 - n))
        product(s, files, "Manual flag", trending=True)
        product(s, files, "Zero signal")
    body = await catalog.get("/browse", sort="trending", page_size=60)
    badges = {card["title"]: card["trending_badge"] for card in body["items"]}
    assert all(badges[f"Scored {score}"] for score in range(2, 14))
    assert badges["Scored 1"] is False
    assert badges["Manual flag"] is True
    assert badges["Zero signal"] is False
    # The same products carry the badge whatever the sort or filter (one top-12 set per request).
    newest = await catalog.get("/browse", sort="new", page_size=60)
    assert {c["title"]: c["trending_badge"] for c in newest["items"]} == badges
    searched = await catalog.get("/browse", q="scored", page_size=60)
    assert {c["title"]: c["trending_badge"] for c in searched["items"]} == {
        t: b for t, b in badges.items() if t.startswith("Scored")
    }


async def test_c7_zero_scores_never_earn_the_badge_even_inside_the_top_twelve(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        product(s, files, "Only scorer", score=0.25)
        product(s, files, "Nothing", score=0.0)
    badges = {c["title"]: c["trending_badge"] for c in (await catalog.get("/browse", sort="trending"))["items"]}
    assert badges == {"Only scorer": True, "Nothing": False}


async def test_c10_can_buy_follows_payout_readiness_or_owner_on_every_card(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        payout(s, "seller-not-ready", False)
        product(s, files, "Ready seller", seller="seller-ready")
        product(s, files, "Not ready seller", seller="seller-not-ready")
        product(s, files, "Unknown seller", seller="seller-unknown")
        product(s, files, "Owner, not ready", seller="seller-not-ready", seller_is_owner=True)
    cards = {c["title"]: c for c in (await catalog.get("/browse"))["items"]}
    assert {title: card["can_buy"] for title, card in cards.items()} == {
        "Ready seller": True,
        "Not ready seller": False,
        "Unknown seller": False,
        "Owner, not ready": True,
    }
    assert cards["Ready seller"]["seller_id"] == "seller-ready"


async def test_c10_a_page_costs_the_same_statements_whatever_its_size(catalog: CatalogHarness) -> None:
    """No N+1: buyability and images come with the page, not per card."""
    async with catalog.session() as s:
        files = category(s, "Files")
        for n in range(5):
            payout(s, f"seller-{n}", n % 2 == 0)
        for n in range(30):
            p = product(s, files, f"Item {n}", seller=f"seller-{n % 5}", score=float(n % 4))
            image(s, p, primary=True)

    async def statements(**params: object) -> int:
        with StatementCounter(catalog) as counter:
            await catalog.get("/browse", **params)
        return counter.count

    for sort in ("new", "trending", "top"):
        assert await statements(sort=sort, page_size=2) == await statements(sort=sort, page_size=30), sort


async def test_cards_carry_the_primary_image_else_the_first_by_sort_order(catalog: CatalogHarness) -> None:
    async with catalog.session() as s:
        files = category(s, "Files")
        with_primary = product(s, files, "With primary")
        image(s, with_primary, sort_order=0)
        primary_key = image(s, with_primary, primary=True, sort_order=5)
        without_primary = product(s, files, "Without primary")
        image(s, without_primary, sort_order=3)
        first_key = image(s, without_primary, sort_order=1)
        product(s, files, "No image")
    cards = {c["title"]: c for c in (await catalog.get("/browse"))["items"]}
    assert cards["With primary"]["image_url"] == f"/media/images/{primary_key}"
    assert cards["Without primary"]["image_url"] == f"/media/images/{first_key}"
    assert cards["No image"]["image_url"] is None
    card = cards["With primary"]
    assert set(card) >= {"id", "title", "slug", "kind", "price_cents", "is_free", "image_url", "rating_avg",
                         "rating_count", "trending_badge", "can_buy", "seller_id"}


async def test_c5_c7_c8_request_independent_facts_follow_the_index_snapshot_and_warm_pages_cost_no_statement(
    catalog: CatalogHarness,
) -> None:
    """Totals, the badge set (C7) and the hidden categories (C5) are computed over the index snapshot
    (products and category tree), so they change with the next commit of the index, never later; a
    list or category page read again over the same snapshot runs no statement and answers the same
    bytes (docs/decisions/0111)."""
    async with catalog.session() as s:
        files = category(s, "Files")
        other = category(s, "Other")
        product(s, files, "First", score=1.0)
        product(s, other, "Elsewhere")
    first = await catalog.get("/browse", sort="trending")
    assert first["total"] == 2
    async with catalog.session() as s:  # (its exit lets the projection read the change log)
        product(s, files, "Second", score=2.0)
        other.is_active = False
        s.add(other)
    fresh = await catalog.get("/browse", sort="trending")
    assert titles(fresh) == ["Second", "First"]  # "Other" hidden at once (C5)
    assert fresh["total"] == 2
    assert [c["trending_badge"] for c in fresh["items"]] == [True, True]  # the badge set follows (C7)
    response = await catalog.client.get(f"/browse/categories/{other.id}")
    assert response.status_code == 404  # an inactive category has no page (C8)

    for path, params in (("/browse", {"sort": "trending"}), (f"/browse/categories/{files.id}", {"sort": "new"}),
                         ("/browse", {"q": "second"}), ("/home", {})):
        warm = await catalog.client.get(path, params=params)
        assert warm.status_code == 200
        with StatementCounter(catalog) as counter:
            again = await catalog.client.get(path, params=params)
        assert counter.count == 0, path
        assert again.content == warm.content and again.headers["content-type"] == "application/json"

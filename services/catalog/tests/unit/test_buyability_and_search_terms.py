"""Buyability (C10) and search query terms (C5), without the app or a database."""

from __future__ import annotations

from catalog.browse.search import search_terms
from catalog.buyability import can_buy
from catalog.search.query import plan_words


def test_c10_can_buy_rule() -> None:
    assert can_buy(seller_payout_ready=True, seller_is_owner=False)
    assert can_buy(seller_payout_ready=False, seller_is_owner=True)
    assert not can_buy(seller_payout_ready=False, seller_is_owner=False)


def test_c5_query_terms_keep_only_words() -> None:
    assert search_terms('  Dragon "AND" NEAR(tower*) -orc title:x ') == ["dragon", "and", "near", "tower", "orc", "title", "x"]
    assert search_terms("dragon dragon DRAGON") == ["dragon"]
    assert search_terms("***") == []
    assert search_terms(None) == []
    assert search_terms("Ünïcode café") == ["ünïcode", "café"]
    assert [word.prefix for word in plan_words(["red", "drag"])] == [None, "drag"]  # the last word is a prefix
    assert [word.prefix for word in plan_words(["a", "of"])] == [None, None]  # too short to be a prefix
    assert [word.tokens for word in plan_words(["dragons", "red"])] == [("dragon",), ("red",)]  # stemmed

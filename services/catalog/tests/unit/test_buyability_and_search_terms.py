"""Buyability (C10) and search query terms (C5), without the app or a database."""

from __future__ import annotations

from catalog.browse.search import fts5_query, search_terms, tsquery
from catalog.buyability import can_buy


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
    assert fts5_query(["red", "drag"]) == '"red" "drag"*'
    assert fts5_query(["a", "of"]) == '"a" "of"'  # too short to be a prefix
    assert tsquery(["red", "drag"]) == "red & drag:*"

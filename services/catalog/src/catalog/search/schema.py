"""The search index's fields and the documents built from product rows.

A document holds what a list needs to filter, order and show a card without the database: the
three texts (title, short and long description, analysed for search and stored for snippets), the
filters (kind, category, free, can-buy, price), the sort keys (created, trending score, average
rating, review count) and the card's own fields (slug, seller, currency, primary image).

Text analysis (``ANALYZER``): Unicode words, lower-cased, English stemming ("dragons" finds
"dragon"), words over ``MAX_TOKEN_CHARS`` dropped. Queries are analysed with the same analyzer
(``catalog.search.query``), so the terms they look up are the ones indexed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import tantivy

ANALYZER_NAME = "catalog_en"
MAX_TOKEN_CHARS = 41  # search terms are cut at 40 characters (catalog.browse.search), so no term is lost
SCHEMA_VERSION = 1

TEXT_FIELDS = ("title", "short", "description")
# bm25 field boosts, as the full-text index before it weighted its columns (title 10, short 4, long 1).
FIELD_BOOSTS = {"title": 10.0, "short": 4.0, "description": 1.0}


def analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


ANALYZER = analyzer()


def build_schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")  # deletes by term
    b.add_unsigned_field("id_hi", fast=True)  # the id as two fast u64 halves: ids and tie-breaks
    b.add_unsigned_field("id_lo", fast=True)  # without touching the document store
    for name in TEXT_FIELDS:
        b.add_text_field(name, stored=True, tokenizer_name=ANALYZER_NAME)
    b.add_text_field("kind", stored=True, fast=True, tokenizer_name="raw", index_option="basic")
    b.add_integer_field("category_id", stored=True, indexed=True, fast=True)
    b.add_integer_field("price_cents", stored=True, indexed=True, fast=True)
    b.add_boolean_field("is_free", stored=True, indexed=True, fast=True)
    b.add_boolean_field("can_buy", stored=True, indexed=True, fast=True)
    b.add_boolean_field("is_trending", stored=True, indexed=True, fast=True)
    b.add_boolean_field("is_featured", stored=True, indexed=True, fast=True)
    b.add_float_field("trending_score", stored=True, indexed=True, fast=True)
    b.add_float_field("avg_rating", stored=True, indexed=True, fast=True)
    b.add_integer_field("rating_count", stored=True, indexed=True, fast=True)
    b.add_integer_field("rating_sum", stored=True)
    b.add_integer_field("created_us", stored=True, indexed=True, fast=True)  # microseconds since the epoch
    b.add_float_field("recency", fast=True)  # see RECENCY
    for name in ("slug", "seller_id", "currency", "image_key"):
        b.add_text_field(name, stored=True, tokenizer_name="raw", index_option="basic")
    return b.build()


SCHEMA = build_schema()

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# Relevance ties newest first, inside the engine: a search's score is multiplied by
# log2(2 + recency) (``weight_by_field``), and recency grows from 0 (created before RECENCY_START)
# to RECENCY_MAX over RECENCY_SPAN. log2(2 + x) is about 1 + 0.72x, so scores move by at most
# 0.72 * RECENCY_MAX relatively (0.04%): equal scores come out newest first, and scores closer than
# that may too (below bm25's own precision for these texts).
RECENCY_START = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
RECENCY_SPAN = dt.timedelta(days=20 * 365)
RECENCY_MAX = 5e-4


def recency(created_at: dt.datetime) -> float:
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=dt.UTC)
    fraction = (created_at - RECENCY_START) / RECENCY_SPAN
    return RECENCY_MAX * min(1.0, max(0.0, fraction))


def to_micros(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


def from_micros(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value)


def id_halves(product_id: uuid.UUID) -> tuple[int, int]:
    return product_id.int >> 64, product_id.int & 0xFFFF_FFFF_FFFF_FFFF


def id_from_halves(hi: int, lo: int) -> uuid.UUID:
    return uuid.UUID(int=(hi << 64) | lo)


@dataclass(frozen=True)
class ProductDoc:
    """One visible product as the index holds it (``catalog.search.changes`` reads these rows)."""

    id: uuid.UUID
    title: str
    short_description: str
    description: str
    kind: str
    category_id: int
    seller_id: str
    slug: str
    currency: str
    price_cents: int
    is_free: bool
    can_buy: bool
    is_trending: bool
    is_featured: bool
    trending_score: float
    avg_rating: float
    rating_count: int
    rating_sum: int
    created_at: dt.datetime
    image_key: str | None

    def document(self) -> tantivy.Document:
        hi, lo = id_halves(self.id)
        fields: dict[str, Any] = {
            "id": self.id.hex, "id_hi": hi, "id_lo": lo,
            "title": self.title, "short": self.short_description, "description": self.description,
            "kind": self.kind, "category_id": self.category_id, "price_cents": self.price_cents,
            "is_free": self.is_free, "can_buy": self.can_buy, "is_trending": self.is_trending,
            "is_featured": self.is_featured, "trending_score": float(self.trending_score),
            "avg_rating": float(self.avg_rating), "rating_count": self.rating_count, "rating_sum": self.rating_sum,
            "created_us": to_micros(self.created_at), "recency": recency(self.created_at), "slug": self.slug, "seller_id": self.seller_id,
            "currency": self.currency,
        }
        if self.image_key:
            fields["image_key"] = self.image_key
        return tantivy.Document.from_dict(fields, SCHEMA)

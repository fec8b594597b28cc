"""Listing rules, free of the web framework and the database (C2, C3 and the listing workflow): the
price and kind checks, what a listing lacks to be published, the event snapshot and which event a
change causes. ``catalog.listings.service`` loads and saves; this decides.

Events (homecraft_shared.events.catalog), decided by what buyers can see (``Product.is_visible``:
published and active):
- becomes visible (publish, republish, an owner re-activating a published listing) → ``product.published``
- stops being visible (unpublish → reason "unpublished"; an owner deactivating → "deactivated")
  → ``product.unlisted``
- a published listing whose carried fields (title, slug, price, free, category, kind) changed,
  while its visibility did not → ``product.updated``
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from catalog.categories.domain import TYPE_LABELS
from catalog.models import CatalogType, Category, ListingStatus, Product
from catalog.slugs import first_free, slugify
from catalog.storage import ASSET_TYPES
from homecraft_shared.errors import FieldErrors
from homecraft_shared.events.catalog import ProductPublishedV1, ProductUnlistedV1, ProductUpdatedV1
from homecraft_shared.messaging.contracts import EventData

MAX_PRICE_CENTS = 100_000_000  # $1,000,000.00
SLUG_MAX = 180
OWNER_FLAGS = ("is_active", "is_featured", "is_trending")
PHYSICAL_SPECS = ("material", "color", "width_mm", "height_mm", "depth_mm")
CLEARABLE = ("width_mm", "height_mm", "depth_mm")  # a PATCH may set these to null
EDITABLE = (
    "kind", "title", "category_id", "short_description", "description", "price_cents", "is_free",
    "material", "color", "width_mm", "height_mm", "depth_mm", "license_text", *OWNER_FLAGS,
)
PRICE_MESSAGE = "Price must be greater than $0.00 unless the item is marked free."
UnlistedReason = Literal["unpublished", "deactivated"]


# --- C2, C3: what a listing's fields may be ---------------------------------------------------


def slug_base(title: str) -> str:
    """C2: the slug of the title, with room for a "-2", "-3", ... suffix."""
    return slugify(title, max_length=SLUG_MAX - 8, fallback="listing")


def slug_prefix(base: str) -> str:
    """What the slugs that could clash with ``base`` start with."""
    return base[: SLUG_MAX - 16]


def unique_slug(base: str, taken: set[str]) -> str:
    """C2: slugs are unique per seller."""
    return first_free(base, taken, max_length=SLUG_MAX)


def kind_mismatch_message(kind: CatalogType) -> str:
    if kind == CatalogType.FILE:
        return "File products must use a 3D Files category."
    return "Model products must use a 3D Models category."


def check_category(category: Category | None, category_id: int, errors: FieldErrors) -> None:
    if category is None:
        errors.add("category_id", f"Category {category_id} does not exist.")
    elif not category.is_active:
        errors.add("category_id", f"Category '{category.name}' is inactive; choose an active category.")


def check_category_kind(category: Category | None, kind: CatalogType, errors: FieldErrors) -> None:
    if category is not None and category.type != kind:
        errors.add("category_id", kind_mismatch_message(kind))


def check_price(state: dict[str, Any], sent: set[str], errors: FieldErrors) -> None:
    """C2: free items cost 0.00; a paid item's price is above 0 (a draft may leave it out)."""
    if state["is_free"]:
        state["price_cents"] = 0
        return
    price = state["price_cents"]
    if price is None:
        state["price_cents"] = 0  # a draft without a price yet; publishing asks for one
    elif ({"price_cents", "is_free"} & sent) and price <= 0:
        errors.add("price_cents", PRICE_MESSAGE)
    elif price > MAX_PRICE_CENTS:
        errors.add("price_cents", "Price must be at most $1,000,000.00.")


def check_kind_fields(state: Mapping[str, Any], errors: FieldErrors) -> None:
    """C3: physical specs only on 3D Models listings, license text only on 3D Files listings."""
    if state["kind"] == CatalogType.FILE:
        given = [f for f in PHYSICAL_SPECS if state[f] not in ("", None)]
        if given:
            errors.add(
                given[0],
                f"Physical specs ({', '.join(given)}) apply only to 3D Models listings; "
                "a 3D Files listing cannot have them.",
            )
    elif state["license_text"]:
        errors.add("license_text", "License text applies only to 3D Files listings; a 3D Models listing cannot have it.")


def check_kind_change(product: Product, kind: CatalogType, errors: FieldErrors) -> None:
    if kind == product.kind:
        return
    if product.status != ListingStatus.DRAFT:
        errors.add("kind", "The kind of a listing can only change while it is a draft.")
    elif kind == CatalogType.MODEL and product.assets:
        errors.add("kind", "Remove this listing's digital files before making it a 3D Models listing.")


# --- the workflow -----------------------------------------------------------------------------


def missing_for_publish(product: Product, category: Category | None) -> FieldErrors:
    """Everything that keeps the listing from being published: title, an active ``category`` of its
    kind, the price rule (C2), at least one image, and for a 3D Files listing at least one digital file."""
    missing = FieldErrors()
    if not product.title.strip():
        missing.add("title", "Add a title.")
    if category is None or not category.is_active or category.type != product.kind:
        missing.add("category_id", f"Choose an active {TYPE_LABELS[product.kind]} category.")
    if not product.is_free and product.price_cents <= 0:
        missing.add("price_cents", "Set a price above $0.00 or mark the item free.")
    if not product.images:
        missing.add("images", "Upload at least one image.")
    if product.kind == CatalogType.FILE and not product.assets:
        missing.add("assets", f"Upload at least one digital file ({ASSET_TYPES}).")
    return missing


def snapshot(product: Product) -> dict[str, Any]:
    """The product facts every catalog event carries."""
    return {
        "product_id": str(product.id),
        "seller_id": product.seller_id,
        "kind": product.kind.value,
        "category_id": str(product.category_id),
        "title": product.title,
        "slug": product.slug,
        "price_cents": product.price_cents,
        "is_free": product.is_free,
        "currency": product.currency,
    }


def published_event(product: Product, now: dt.datetime) -> ProductPublishedV1:
    return ProductPublishedV1(**snapshot(product), published_at=product.published_at or now)


@dataclass(frozen=True)
class Before:
    """What a listing was before a change, to tell which event the change causes."""

    visible: bool
    published: bool
    snapshot: dict[str, Any]

    @classmethod
    def of(cls, product: Product) -> Before:
        return cls(product.is_visible, product.status == ListingStatus.PUBLISHED, snapshot(product))


def event_for_change(product: Product, before: Before, *, unlisted_reason: UnlistedReason, now: dt.datetime) -> EventData | None:
    """The one event a change of ``product`` causes, if any (see the module docstring)."""
    if product.is_visible and not before.visible:
        return published_event(product, now)
    if before.visible and not product.is_visible:
        reason = "unpublished" if product.status != ListingStatus.PUBLISHED else unlisted_reason
        return ProductUnlistedV1(product_id=str(product.id), seller_id=product.seller_id, reason=reason, unlisted_at=now)
    current = snapshot(product)
    if before.published and product.status == ListingStatus.PUBLISHED and current != before.snapshot:
        return ProductUpdatedV1(**current, is_active=product.is_active, updated_at=now)
    return None

"""Listing rules without the app or a database (catalog.listings.domain): price and kind checks (C2,
C3), what publishing needs, and which event a change causes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from catalog.listings import domain
from catalog.models import CatalogType, Category, DigitalAsset, ListingStatus, Product, ProductImage
from homecraft_shared.errors import FieldErrors, ValidationFailed
from homecraft_shared.events.catalog import ProductPublishedV1, ProductUnlistedV1, ProductUpdatedV1

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


def category(kind: CatalogType = CatalogType.FILE, *, active: bool = True) -> Category:
    return Category(id=7, type=kind, name="Minis", slug="minis", parent_key=0, is_active=active)


def listing(kind: CatalogType = CatalogType.FILE, *, status: ListingStatus = ListingStatus.DRAFT, **fields: Any) -> Product:
    values: dict[str, Any] = {
        "id": uuid.UUID(int=1), "seller_id": "seller-1", "kind": kind, "title": "Benchy", "slug": "benchy",
        "category_id": 7, "price_cents": 500, "currency": "usd", "is_free": False, "status": status, "is_active": True,
        **fields,
    }
    return Product(**values)


def problems(errors: FieldErrors) -> list[tuple[str, str]]:
    return [(item["field"], item["message"]) for item in errors.items]


def state(**fields: Any) -> dict[str, Any]:
    return {"kind": CatalogType.FILE, "price_cents": 500, "is_free": False, "license_text": "",
            **dict.fromkeys(domain.PHYSICAL_SPECS, None), **fields}


def test_c2_free_items_cost_zero_and_paid_items_more_than_zero() -> None:
    errors = FieldErrors()
    free = state(is_free=True, price_cents=999)
    domain.check_price(free, {"is_free"}, errors)
    assert free["price_cents"] == 0 and not errors
    domain.check_price(state(price_cents=0), {"price_cents"}, errors)
    assert problems(errors) == [("price_cents", domain.PRICE_MESSAGE)]


def test_c2_a_draft_may_leave_the_price_out_but_not_exceed_the_maximum() -> None:
    errors = FieldErrors()
    draft = state(price_cents=None)
    domain.check_price(draft, set(), errors)
    assert draft["price_cents"] == 0 and not errors
    domain.check_price(state(price_cents=domain.MAX_PRICE_CENTS + 1), {"price_cents"}, errors)
    assert problems(errors) == [("price_cents", "Price must be at most $1,000,000.00.")]


def test_c3_physical_specs_only_on_models_license_only_on_files() -> None:
    errors = FieldErrors()
    domain.check_kind_fields(state(material="PLA", width_mm=10), errors)
    domain.check_kind_fields(state(kind=CatalogType.MODEL, license_text="CC-BY"), errors)
    assert [field for field, _ in problems(errors)] == ["material", "license_text"]
    assert "(material, width_mm)" in problems(errors)[0][1]


def test_c2_the_category_must_exist_be_active_and_match_the_kind() -> None:
    errors = FieldErrors()
    domain.check_category(None, 42, errors)
    domain.check_category(category(active=False), 7, errors)
    domain.check_category_kind(category(CatalogType.MODEL), CatalogType.FILE, errors)
    assert problems(errors) == [
        ("category_id", "Category 42 does not exist."),
        ("category_id", "Category 'Minis' is inactive; choose an active category."),
        ("category_id", "File products must use a 3D Files category."),
    ]


def test_the_kind_changes_only_on_drafts_and_not_to_models_with_files() -> None:
    errors = FieldErrors()
    domain.check_kind_change(listing(status=ListingStatus.PUBLISHED), CatalogType.MODEL, errors)
    with_files = listing(assets=[DigitalAsset(original_filename="a.stl")])
    domain.check_kind_change(with_files, CatalogType.MODEL, errors)
    domain.check_kind_change(listing(), CatalogType.FILE, errors)  # unchanged: fine
    assert [message.split(" ")[0] for _, message in problems(errors)] == ["The", "Remove"]


def test_publishing_needs_title_category_price_image_and_for_files_a_file() -> None:
    incomplete = listing(title=" ", price_cents=0, images=[], assets=[])
    missing = domain.missing_for_publish(incomplete, category(CatalogType.MODEL))
    assert [field for field, _ in problems(missing)] == ["title", "category_id", "price_cents", "images", "assets"]
    with pytest.raises(ValidationFailed, match=r"^cannot: Add a title\."):
        missing.raise_if_any(prefix="cannot: ")
    complete = listing(images=[ProductImage(storage_key="k")], assets=[DigitalAsset(original_filename="a.stl")])
    assert not domain.missing_for_publish(complete, category())


def test_c2_slugs_come_from_the_title_and_are_unique_per_seller() -> None:
    base = domain.slug_base("Self-Watering Planter!")
    assert base == "self-watering-planter"
    assert domain.unique_slug(base, {base, f"{base}-2"}) == f"{base}-3"
    assert domain.slug_base("!!!") == "listing"


def test_publishing_a_draft_causes_product_published_with_the_snapshot() -> None:
    product = listing()
    before = domain.Before.of(product)
    product.status = ListingStatus.PUBLISHED
    event = domain.event_for_change(product, before, unlisted_reason="unpublished", now=NOW)
    assert isinstance(event, ProductPublishedV1)
    assert (event.product_id, event.category_id, event.price_cents, event.published_at) == (str(product.id), "7", 500, NOW)


def test_deactivating_a_published_listing_causes_product_unlisted_deactivated() -> None:
    product = listing(status=ListingStatus.PUBLISHED)
    before = domain.Before.of(product)
    product.is_active = False
    event = domain.event_for_change(product, before, unlisted_reason="deactivated", now=NOW)
    assert isinstance(event, ProductUnlistedV1) and event.reason == "deactivated"


def test_changing_carried_fields_of_a_published_listing_causes_product_updated_else_nothing() -> None:
    product = listing(status=ListingStatus.PUBLISHED)
    before = domain.Before.of(product)
    product.description = "longer text"  # not carried by the events
    assert domain.event_for_change(product, before, unlisted_reason="deactivated", now=NOW) is None
    product.price_cents = 700
    event = domain.event_for_change(product, before, unlisted_reason="deactivated", now=NOW)
    assert isinstance(event, ProductUpdatedV1) and event.price_cents == 700
    draft = listing()
    draft_before = domain.Before.of(draft)
    draft.price_cents = 900
    assert domain.event_for_change(draft, draft_before, unlisted_reason="deactivated", now=NOW) is None

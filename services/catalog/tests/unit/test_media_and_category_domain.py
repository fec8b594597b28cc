"""Image order and URLs (C3, catalog.images.domain) and category trees (C1, catalog.categories.domain),
without the app or a database."""

from __future__ import annotations

import pytest

from catalog.categories.domain import category_slug, type_under
from catalog.images import domain as images
from catalog.models import CatalogType, Category, ProductImage
from homecraft_shared.errors import ValidationFailed


def image(image_id: int, sort_order: int, *, primary: bool = False) -> ProductImage:
    return ProductImage(id=image_id, storage_key=f"{image_id:032x}", sort_order=sort_order, is_primary=primary)


def test_c3_images_show_by_sort_order_then_id_with_the_primary_first_on_product_pages() -> None:
    a, b, c = image(3, 0), image(1, 1, primary=True), image(2, 1)
    assert images.ordered([c, b, a]) == [a, b, c]
    assert images.primary_first([a, b, c]) == [b, a, c]
    assert images.primary([a, b, c]) is b
    assert images.primary([c, a]) is a  # no primary yet: the first in order
    assert images.primary([]) is None
    assert images.next_sort_order([a, b, c]) == 2 and images.next_sort_order([]) == 0


def test_c3_making_an_image_primary_unsets_the_others() -> None:
    a, b = image(1, 0, primary=True), image(2, 1)
    images.make_primary([a, b], b)
    assert (a.is_primary, b.is_primary) == (False, True)


def test_images_are_served_under_media_images() -> None:
    assert images.image_url("ab" * 16) == "/media/images/" + "ab" * 16


def root(kind: CatalogType = CatalogType.FILE) -> Category:
    return Category(id=1, type=kind, name="Minis", slug="minis", parent_id=None, parent_key=0)


def test_c1_a_root_needs_a_type_and_a_subcategory_takes_its_roots() -> None:
    assert type_under(None, CatalogType.MODEL) == CatalogType.MODEL
    assert type_under(root(), None) == CatalogType.FILE
    with pytest.raises(ValidationFailed) as no_type:
        type_under(None, None)
    assert no_type.value.errors == [{"field": "type", "message": no_type.value.detail}]
    with pytest.raises(ValidationFailed, match="same type as its root"):
        type_under(root(), CatalogType.MODEL)


def test_c1_subcategories_are_one_level_deep() -> None:
    child = Category(id=2, type=CatalogType.FILE, name="Dragons", slug="dragons", parent_id=1, parent_key=1)
    with pytest.raises(ValidationFailed, match="only one level deep"):
        type_under(child, None)


def test_c1_category_slugs_come_from_names() -> None:
    assert category_slug("Tabletop & Minis") == "tabletop-minis"
    assert category_slug("???") == "category"

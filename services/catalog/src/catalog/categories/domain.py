"""Category rules (C1), free of the web framework and the database: two trees, MODEL ("3D Models")
and FILE ("3D Files"); subcategories exactly one level deep with their root's type; slugs made from
names, unique per (type, parent)."""

from __future__ import annotations

from catalog.models import CatalogType, Category
from catalog.slugs import slugify
from homecraft_shared.errors import invalid_field

TYPE_LABELS = {CatalogType.MODEL: "3D Models", CatalogType.FILE: "3D Files"}
SLUG_MAX = 140


def category_slug(name: str) -> str:
    return slugify(name, max_length=SLUG_MAX, fallback="category")


def type_under(parent: Category | None, requested: CatalogType | None) -> CatalogType:
    """The type of a new category under ``parent`` (None: a root), or a 422 naming the field at fault."""
    if parent is None:
        if requested is None:
            raise invalid_field("type", "A root category needs a type: MODEL (3D Models) or FILE (3D Files).")
        return requested
    if not parent.is_root:
        raise invalid_field(
            "parent_id",
            f"Subcategories are only one level deep: '{parent.name}' is already a subcategory, "
            "so it cannot have subcategories of its own. Choose a root category as the parent.",
        )
    if requested is not None and requested != parent.type:
        raise invalid_field(
            "type",
            f"A subcategory must have the same type as its root: '{parent.name}' is a "
            f"{TYPE_LABELS[parent.type]} category, so its subcategories are {TYPE_LABELS[parent.type]} too.",
        )
    return parent.type


def slug_taken_message(type_: CatalogType, parent: Category | None, slug: str) -> str:
    where = f"under '{parent.name}'" if parent else f"among the {TYPE_LABELS[type_]} roots"
    return f"A category with the slug '{slug}' already exists {where}; choose another name or slug."

"""Category rules (C1): two trees, MODEL ("3D Models") and FILE ("3D Files"); subcategories exactly one
level deep with their root's type; slugs made from names, unique per (type, parent)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.categories import repository
from catalog.categories.schemas import CategoryCreate, CategoryNode, CategoryOut, CategoryTree, CategoryTrees, CategoryUpdate
from catalog.models import CatalogType, Category
from catalog.slugs import slugify
from homecraft_shared.db import flush_or_conflict
from homecraft_shared.errors import Conflict, NotFound, invalid_field

TYPE_LABELS = {CatalogType.MODEL: "3D Models", CatalogType.FILE: "3D Files"}
SLUG_MAX = 140


def _slug_taken_message(type_: CatalogType, parent: Category | None, slug: str) -> str:
    where = f"under '{parent.name}'" if parent else f"among the {TYPE_LABELS[type_]} roots"
    return f"A category with the slug '{slug}' already exists {where}; choose another name or slug."


async def create_category(session: AsyncSession, data: CategoryCreate) -> Category:
    parent: Category | None = None
    if data.parent_id is not None:
        parent = await repository.get(session, data.parent_id)
        if parent is None:
            raise invalid_field("parent_id", f"Parent category {data.parent_id} does not exist.")
        if not parent.is_root:
            raise invalid_field(
                "parent_id",
                f"Subcategories are only one level deep: '{parent.name}' is already a subcategory, "
                "so it cannot have subcategories of its own. Choose a root category as the parent.",
            )
        if data.type is not None and data.type != parent.type:
            raise invalid_field(
                "type",
                f"A subcategory must have the same type as its root: '{parent.name}' is a "
                f"{TYPE_LABELS[parent.type]} category, so its subcategories are {TYPE_LABELS[parent.type]} too.",
            )
        type_ = parent.type
    elif data.type is None:
        raise invalid_field("type", "A root category needs a type: MODEL (3D Models) or FILE (3D Files).")
    else:
        type_ = data.type

    slug = data.slug or slugify(data.name, max_length=SLUG_MAX, fallback="category")
    parent_key = parent.id if parent else 0
    if await repository.slug_taken(session, type_, parent_key, slug):
        raise Conflict(_slug_taken_message(type_, parent, slug))
    category = Category(
        type=type_,
        name=data.name,
        slug=slug,
        parent_id=parent.id if parent else None,
        parent_key=parent_key,
        description=data.description,
        is_active=data.is_active,
        sort_order=data.sort_order,
    )
    session.add(category)
    # A concurrent request may take the slug between the check and the insert: the constraint decides.
    await flush_or_conflict(session, _slug_taken_message(type_, parent, slug))
    return category


async def update_category(session: AsyncSession, category_id: int, data: CategoryUpdate) -> Category:
    category = await repository.get(session, category_id)
    if category is None:
        raise NotFound(f"Category {category_id} does not exist.")
    changes = data.model_dump(exclude_unset=True)
    for field in ("name", "is_active", "sort_order", "description", "slug"):
        if field in changes and changes[field] is None:
            raise invalid_field(field, f"{field} cannot be null.")
    new_slug = changes.get("slug", category.slug)
    if new_slug != category.slug and await repository.slug_taken(
        session, category.type, category.parent_key, new_slug, excluding=category.id
    ):
        parent = await repository.get(session, category.parent_id) if category.parent_id else None
        raise Conflict(_slug_taken_message(category.type, parent, new_slug))
    for field, value in changes.items():
        setattr(category, field, value)
    await flush_or_conflict(session, _slug_taken_message(category.type, None, category.slug))
    return category


async def category_trees(session: AsyncSession, *, include_inactive: bool = False) -> CategoryTrees:
    """Both trees, roots and their children sorted by sort order then name; active only unless asked."""
    categories = await repository.list_all(session, include_inactive=include_inactive)
    children: dict[int, list[CategoryOut]] = {}
    for category in categories:
        if category.parent_id is not None:
            children.setdefault(category.parent_id, []).append(CategoryOut.model_validate(category))
    trees = []
    for type_ in (CatalogType.MODEL, CatalogType.FILE):
        roots = [
            CategoryNode(**CategoryOut.model_validate(c).model_dump(), children=children.get(c.id, []))
            for c in categories
            if c.type == type_ and c.parent_id is None
        ]
        trees.append(CategoryTree(type=type_, label=TYPE_LABELS[type_], categories=roots))
    return CategoryTrees(trees=trees)

"""Category use cases (C1): create and update a category, list both trees. The rules are in
``catalog.categories.domain``; this loads, applies them and saves."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.categories import repository
from catalog.categories.domain import category_slug, slug_taken_message, type_under
from catalog.categories.schemas import CategoryCreate, CategoryTrees, CategoryUpdate
from catalog.models import Category
from homecraft_shared.db import flush_or_conflict
from homecraft_shared.errors import Conflict, FieldErrors, NotFound, invalid_field


async def create_category(session: AsyncSession, data: CategoryCreate) -> Category:
    parent: Category | None = None
    if data.parent_id is not None:
        parent = await repository.get(session, data.parent_id)
        if parent is None:
            raise invalid_field("parent_id", f"Parent category {data.parent_id} does not exist.")
    type_ = type_under(parent, data.type)

    slug = data.slug or category_slug(data.name)
    parent_key = parent.id if parent else 0
    if await repository.slug_taken(session, type_, parent_key, slug):
        raise Conflict(slug_taken_message(type_, parent, slug))
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
    await flush_or_conflict(session, slug_taken_message(type_, parent, slug))
    return category


async def update_category(session: AsyncSession, category_id: int, data: CategoryUpdate) -> Category:
    category = await repository.get(session, category_id)
    if category is None:
        raise NotFound(f"Category {category_id} does not exist.")
    changes = data.model_dump(exclude_unset=True)
    errors = FieldErrors()
    errors.reject_nulls(changes)
    errors.raise_if_any()
    new_slug = changes.get("slug", category.slug)
    if new_slug != category.slug and await repository.slug_taken(
        session, category.type, category.parent_key, new_slug, excluding=category.id
    ):
        parent = await repository.get(session, category.parent_id) if category.parent_id else None
        raise Conflict(slug_taken_message(category.type, parent, new_slug))
    for field, value in changes.items():
        setattr(category, field, value)
    await flush_or_conflict(session, slug_taken_message(category.type, None, category.slug))
    return category


async def category_trees(session: AsyncSession, *, include_inactive: bool = False) -> CategoryTrees:
    """Both trees, roots and their children sorted by sort order then name; active only unless asked."""
    return CategoryTrees.of(await repository.list_all(session, include_inactive=include_inactive))

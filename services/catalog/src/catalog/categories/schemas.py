"""Category request and response bodies (C1)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from catalog.categories.domain import SLUG_MAX, TYPE_LABELS
from catalog.models import CatalogType, Category
from homecraft_shared.inputs import Count, Id, Line, Omittable, Text

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CategoryCreate(_Input):
    name: Line = Field(min_length=1, max_length=120)
    type: CatalogType | None = Field(
        default=None, description="Required for a root; a subcategory takes its root's type (and may repeat it)."
    )
    parent_id: Id | None = Field(default=None, description="A root category's id; subcategories are one level deep.")
    slug: Omittable[str] = Field(
        default=None, max_length=SLUG_MAX, pattern=SLUG_PATTERN, description="Made from the name when left out."
    )
    description: Text = Field(default="", max_length=5_000)
    is_active: bool = True
    sort_order: Count = 0


class CategoryUpdate(_Input):
    """Type and parent are fixed once created (products rely on the tree's type)."""

    name: Omittable[Line] = Field(default=None, min_length=1, max_length=120)
    slug: Omittable[str] = Field(default=None, max_length=SLUG_MAX, pattern=SLUG_PATTERN)
    description: Omittable[Text] = Field(default=None, max_length=5_000)
    is_active: Omittable[bool] = None
    sort_order: Omittable[Count] = None


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: CatalogType
    name: str
    slug: str
    parent_id: int | None
    description: str
    is_active: bool
    sort_order: int


class CategoryNode(CategoryOut):
    children: list[CategoryOut]


class CategoryTree(BaseModel):
    type: CatalogType
    label: str
    categories: list[CategoryNode]


class CategoryTrees(BaseModel):
    trees: list[CategoryTree]

    @classmethod
    def of(cls, categories: Sequence[Category]) -> CategoryTrees:
        """Both trees from categories already in display order (roots first level, children under them)."""
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
        return cls(trees=trees)

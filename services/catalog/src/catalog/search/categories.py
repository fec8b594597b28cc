"""The category tree as each process keeps it beside its search index (docs/decisions/0111).

Categories are few and change rarely; every change appends a ``CATEGORIES`` row to the change log
(migration 0022), and the projection reloads the tree when it reads one. Pages read it from the
index snapshot, so the hidden-category filter (C5) and a category page's category, parent and
children (C8) need no statement and are never older than the snapshot they are read with.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CategoryNode:
    id: int
    type: str
    name: str
    slug: str
    parent_id: int | None
    is_active: bool
    sort_order: int


@dataclass(frozen=True)
class CategoryTree:
    nodes: dict[int, CategoryNode] = field(default_factory=dict)

    def __post_init__(self) -> None:
        hidden = tuple(sorted(
            node.id for node in self.nodes.values()
            if not node.is_active or (node.parent_id is not None and not self._active(node.parent_id))
        ))
        object.__setattr__(self, "hidden_ids", hidden)
        children: dict[int, list[CategoryNode]] = {}
        for node in self.nodes.values():
            if node.parent_id is not None and node.is_active:
                children.setdefault(node.parent_id, []).append(node)
        for found in children.values():
            found.sort(key=lambda node: (node.sort_order, node.name, node.id))
        object.__setattr__(self, "_children", {parent: tuple(found) for parent, found in children.items()})

    hidden_ids: tuple[int, ...] = field(init=False, default=())
    """Inactive categories and the children of inactive roots (C5: their products are hidden)."""
    _children: dict[int, tuple[CategoryNode, ...]] = field(init=False, default_factory=dict, repr=False)

    def _active(self, category_id: int) -> bool:
        node = self.nodes.get(category_id)
        return node is not None and node.is_active

    def visible(self, category_id: int) -> CategoryNode | None:
        """The category if it is active and its parent (if any) is active too."""
        node = self.nodes.get(category_id)
        if node is None or not node.is_active or (node.parent_id is not None and not self._active(node.parent_id)):
            return None
        return node

    def parent(self, node: CategoryNode) -> CategoryNode | None:
        return self.nodes.get(node.parent_id) if node.parent_id is not None else None

    def active_children(self, category_id: int) -> tuple[CategoryNode, ...]:
        """Active direct children, by sort order, name, id."""
        return self._children.get(category_id, ())

"""Image rules (C3), free of the web framework and the database: the order images are shown in,
which one is primary, and the public URL an image is served at.

A listing's images are ordered by ``sort_order`` then id; exactly one is primary once there is any.
The SQL form of the same order is ``catalog.images.repository.PRIMARY_FIRST``.
"""

from __future__ import annotations

from collections.abc import Iterable

from catalog.models import ProductImage

# Images are served (and proxied by the gateway) here; catalog.images.endpoints serves the route.
IMAGE_URL_PREFIX = "/media/images/"
MAX_ALT_TEXT = 160


def image_url(storage_key: str) -> str:
    return f"{IMAGE_URL_PREFIX}{storage_key}"


def ordered(images: Iterable[ProductImage]) -> list[ProductImage]:
    """By sort order, then id (an image not yet flushed has none and comes last among equals)."""
    return sorted(images, key=lambda image: (image.sort_order, image.id or 0))


def primary_first(images: Iterable[ProductImage]) -> list[ProductImage]:
    """The primary image, then the others in order (the product page's gallery)."""
    return sorted(ordered(images), key=lambda image: not image.is_primary)


def primary(images: Iterable[ProductImage]) -> ProductImage | None:
    """The primary image, else the first in order, else None (a card's picture)."""
    gallery = primary_first(images)
    return gallery[0] if gallery else None


def make_primary(images: Iterable[ProductImage], chosen: ProductImage) -> None:
    """``chosen`` becomes the one primary image."""
    for image in images:
        image.is_primary = image is chosen


def next_sort_order(images: Iterable[ProductImage]) -> int:
    """Where a new image goes: after the last one."""
    current = ordered(images)
    return current[-1].sort_order + 1 if current else 0

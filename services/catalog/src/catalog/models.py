"""The catalog's tables: categories, products, images, digital assets, and the projections it keeps
from other services' events (seller payout readiness, seller ratings). Product rating summaries and
trending scores are projection columns on the product itself.

The messaging tables (outbox, inbox, dead letters) come from shared.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from homecraft_shared.db import Base, UtcDateTime, string_enum, utcnow
from homecraft_shared.messaging import tables as messaging_tables


class CatalogType(enum.StrEnum):
    """Both a category tree's type and a product's kind (C1, C2)."""

    MODEL = "MODEL"  # physical print, shipped
    FILE = "FILE"  # digital download


class ListingStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    UNLISTED = "unlisted"


class AssetFormat(enum.StrEnum):
    STL = "STL"
    THREE_MF = "3MF"
    OBJ = "OBJ"
    ZIP = "ZIP"


def average_rating(rating_sum: int, rating_count: int) -> float:
    """The stored average (``Product.avg_rating``): 0 when there is no review."""
    return rating_sum / rating_count if rating_count else 0.0


def _avg_rating_default(context: Any) -> float:
    row = context.get_current_parameters()
    return average_rating(row.get("rating_sum") or 0, row.get("rating_count") or 0)


class Category(Base):
    __tablename__ = "categories"
    __table_args__ = (
        # parent_key is 0 for roots so roots' slugs are unique too (NULLs never collide in SQL).
        sa.UniqueConstraint("type", "parent_key", "slug"),
        sa.Index("ix_categories_type_active_sort", "type", "is_active", "sort_order"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    type: Mapped[CatalogType] = mapped_column(string_enum(CatalogType))
    name: Mapped[str] = mapped_column(sa.String(120))
    slug: Mapped[str] = mapped_column(sa.String(140))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("categories.id", ondelete="CASCADE"), index=True)
    parent_key: Mapped[int] = mapped_column(sa.Integer, default=0)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    parent: Mapped[Category | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Category]] = relationship(back_populates="parent")

    @property
    def is_root(self) -> bool:
        return self.parent_id is None


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        sa.UniqueConstraint("seller_id", "slug"),
        sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
        sa.Index("ix_products_visible_created", "status", "is_active", "created_at"),
        sa.Index("ix_products_kind_visible_created", "kind", "status", "is_active", "created_at"),
        sa.Index("ix_products_category_visible", "category_id", "status", "is_active"),
        sa.Index(
            "ix_products_visible_trending_order", "status", "is_active", "trending_score", "avg_rating", "created_at"
        ),
        sa.Index("ix_products_visible_top", "status", "is_active", "avg_rating", "rating_count", "created_at"),
        sa.Index("ix_products_visible_rating", "status", "is_active", "rating_count"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    seller_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    # Whether the seller held an owner role (I1) when they last saved the listing, read from their
    # identity token; owners' listings are always buyable (C10). See docs/decisions/0101.
    seller_is_owner: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    kind: Mapped[CatalogType] = mapped_column(string_enum(CatalogType))
    title: Mapped[str] = mapped_column(sa.String(160))
    slug: Mapped[str] = mapped_column(sa.String(180))
    short_description: Mapped[str] = mapped_column(sa.String(280), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("categories.id", ondelete="RESTRICT"))
    price_cents: Mapped[int] = mapped_column(sa.Integer, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3), default="usd")
    is_free: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    status: Mapped[ListingStatus] = mapped_column(string_enum(ListingStatus), default=ListingStatus.DRAFT)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    is_featured: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    is_trending: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # manual flag (C6, C7)

    # Physical specs (MODEL only)
    material: Mapped[str] = mapped_column(sa.String(120), default="")
    color: Mapped[str] = mapped_column(sa.String(120), default="")
    width_mm: Mapped[int | None] = mapped_column(sa.Integer)
    height_mm: Mapped[int | None] = mapped_column(sa.Integer)
    depth_mm: Mapped[int | None] = mapped_column(sa.Integer)
    # License (FILE only)
    license_text: Mapped[str] = mapped_column(sa.Text, default="")

    # Projections from engagement events (review.posted, trending.scores_updated)
    rating_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(sa.Integer, default=0)
    # rating_sum / rating_count, 0 without reviews: stored so `top` and `trending` walk an index in order
    # (migration 0020). Whoever changes the count and sum sets it too (``average_rating``); an insert
    # that leaves it out gets it from the row's own count and sum.
    avg_rating: Mapped[float] = mapped_column(sa.Float, default=_avg_rating_default, server_default="0")
    trending_score: Mapped[float] = mapped_column(sa.Float, default=0.0)
    # When the projected summary / score was true at the producer; older events never overwrite it.
    rating_as_of: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    trending_as_of: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    category: Mapped[Category] = relationship()
    images: Mapped[list[ProductImage]] = relationship(
        back_populates="product", order_by="(ProductImage.sort_order, ProductImage.id)",
        cascade="all, delete-orphan",
    )
    assets: Mapped[list[DigitalAsset]] = relationship(
        back_populates="product", order_by="DigitalAsset.created_at", cascade="all, delete-orphan"
    )

    @property
    def is_visible(self) -> bool:
        return self.status == ListingStatus.PUBLISHED and self.is_active


class ProductImage(Base):
    __tablename__ = "product_images"
    __table_args__ = (sa.Index("ix_product_images_product_primary_sort", "product_id", "is_primary", "sort_order"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(50))
    size_bytes: Mapped[int] = mapped_column(sa.Integer)
    alt_text: Mapped[str] = mapped_column(sa.String(160), default="")
    is_primary: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    product: Mapped[Product] = relationship(back_populates="images")


class DigitalAsset(Base):
    """A downloadable 3D file of a FILE product; stored outside the database, never served publicly."""

    __tablename__ = "digital_assets"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    product_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"), index=True)
    original_filename: Mapped[str] = mapped_column(sa.String(255))
    file_format: Mapped[AssetFormat] = mapped_column(string_enum(AssetFormat, 8))
    storage_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    product: Mapped[Product] = relationship(back_populates="assets")


class SellerPayoutStatus(Base):
    """Projection of seller.payout_readiness_changed (P2, C4, C10)."""

    __tablename__ = "seller_payout_status"

    seller_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    ready: Mapped[bool] = mapped_column(sa.Boolean)
    # When the fact was true at the producer; an older event never overwrites a newer one.
    as_of: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class SellerRating(Base):
    """Projection of seller_review.posted (C9)."""

    __tablename__ = "seller_ratings"

    seller_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    rating_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(sa.Integer, default=0)
    as_of: Mapped[dt.datetime] = mapped_column(UtcDateTime)


__all__ = [
    "AssetFormat",
    "Base",
    "CatalogType",
    "Category",
    "DigitalAsset",
    "ListingStatus",
    "Product",
    "ProductImage",
    "SellerPayoutStatus",
    "SellerRating",
    "messaging_tables",
]


class SearchChange(Base):
    """Which products changed, for the per-process search indexes to follow (``catalog.search``).

    Written only by the triggers of migration 0020 (products inserted, deleted or updated in an
    indexed column; every product of a seller whose payout readiness changed). ``product_id`` NULL
    asks every process to rebuild its index from the products table (``python -m catalog reindex``).
    Rows older than an hour are pruned: a process that starts builds its index from the products.
    """

    __tablename__ = "search_changes"
    __table_args__ = (sa.Index("ix_search_changes_changed_at", "changed_at"), {"sqlite_autoincrement": True})

    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

"""Listings: create and edit products (C2, C3), who may change them (C4), and the workflow
draft → published → unlisted → published, with the catalog's product events.

Never commits: the request's session does, so a listing change and the events it causes (outbox)
are one transaction.

Events (homecraft_shared.events.catalog), decided by what buyers can see (``Product.is_visible``:
published and active):
- becomes visible (publish, republish, an owner re-activating a published listing) → ``product.published``
- stops being visible (unpublish → reason "unpublished"; an owner deactivating → "deactivated")
  → ``product.unlisted``
- a published listing whose carried fields (title, slug, price, free, category, kind) changed,
  while its visibility did not → ``product.updated``
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.buyability import seller_payout_ready
from catalog.categories import repository as categories
from catalog.categories.service import TYPE_LABELS
from catalog.listings import repository
from catalog.listings.schemas import (
    MAX_PRICE_CENTS,
    AssetOut,
    ImageOut,
    ListingCreate,
    ListingOut,
    ListingPage,
    ListingSummary,
    ListingUpdate,
    MissingItem,
)
from catalog.models import CatalogType, Category, ListingStatus, Product, ProductImage
from catalog.slugs import first_free, slugify
from homecraft_shared.db import flush_or_conflict, utcnow
from homecraft_shared.errors import Conflict, FieldErrors, Forbidden, NotFound, ValidationFailed
from homecraft_shared.events.catalog import ProductPublishedV1, ProductUnlistedV1, ProductUpdatedV1
from homecraft_shared.identity import Identity
from homecraft_shared.messaging.outbox import record_event

SLUG_MAX = 180
NOT_READY_MESSAGE = (
    "Finish payout onboarding (Stripe Connect) before you create or change listings: "
    "your seller account is not payout-ready yet."
)
OWNER_FLAGS = ("is_active", "is_featured", "is_trending")
PHYSICAL_SPECS = ("material", "color", "width_mm", "height_mm", "depth_mm")
SLUG_RACE_MESSAGE = "Another listing of yours was saved with the same title at the same moment; try again."
PRICE_MESSAGE = "Price must be greater than $0.00 unless the item is marked free."


# --- who may do what (I1, C4) ------------------------------------------------------------------


def ensure_seller(identity: Identity) -> None:
    if not identity.is_seller:
        raise Forbidden("Only sellers can create listings: turn on selling in your profile first.")


async def ensure_payout_ready(session: AsyncSession, identity: Identity) -> None:
    """C4: creating or changing listings, images and assets needs a payout-ready seller; owners bypass."""
    if identity.is_owner:
        return
    if not await seller_payout_ready(session, identity.user_id):
        raise Forbidden(NOT_READY_MESSAGE)


def ensure_may_manage(identity: Identity, product: Product) -> None:
    if not (identity.is_owner or product.seller_id == identity.user_id):
        raise Forbidden("This listing belongs to another seller; only its seller or a marketplace owner may change it.")


async def listing_for_owner(session: AsyncSession, identity: Identity, product_id: uuid.UUID) -> Product:
    """The listing, for its seller or an owner (404 if it does not exist, 403 if it is someone else's)."""
    product = await repository.get_listing(session, product_id)
    if product is None:
        raise NotFound(f"Listing {product_id} does not exist.")
    ensure_may_manage(identity, product)
    return product


async def listing_for_change(
    session: AsyncSession,
    identity: Identity,
    product_id: uuid.UUID,
    *,
    needs_payout_ready: bool = True,
    lock: bool = True,
) -> Product:
    """The listing, for a change by its seller or an owner, after the C4 readiness check; locked until
    the transaction ends unless ``lock=False`` (then call ``relock`` before changing it)."""
    product = await repository.get_listing(session, product_id, for_update=lock)
    if product is None:
        raise NotFound(f"Listing {product_id} does not exist.")
    ensure_may_manage(identity, product)
    if needs_payout_ready:
        await ensure_payout_ready(session, identity)
    return product


async def relock(session: AsyncSession, product: Product) -> Product:
    """Lock a listing checked earlier with ``lock=False`` and re-read it (its images and files may have
    changed meanwhile)."""
    locked = await repository.get_listing(session, product.id, for_update=True)
    if locked is None:
        raise NotFound(f"Listing {product.id} was deleted meanwhile.")
    return locked


def _check_owner_flags(identity: Identity, sent: dict[str, Any]) -> None:
    flags = [flag for flag in OWNER_FLAGS if sent.get(flag) is not None]
    if flags and not identity.is_owner:
        raise Forbidden(f"Only marketplace owners may set {', '.join(flags)}.")


# --- validation (C2, C3) -----------------------------------------------------------------------


def kind_mismatch_message(kind: CatalogType) -> str:
    if kind == CatalogType.FILE:
        return "File products must use a 3D Files category."
    return "Model products must use a 3D Models category."


async def _check_category(session: AsyncSession, category_id: int, errors: FieldErrors) -> Category | None:
    category = await categories.get(session, category_id)
    if category is None:
        errors.add("category_id", f"Category {category_id} does not exist.")
    elif not category.is_active:
        errors.add("category_id", f"Category '{category.name}' is inactive; choose an active category.")
    return category


def _check_price(state: dict[str, Any], sent: set[str], errors: FieldErrors) -> None:
    if state["is_free"]:
        state["price_cents"] = 0  # C2: free items cost 0.00
        return
    price = state["price_cents"]
    if price is None:
        state["price_cents"] = 0  # a draft without a price yet; publishing asks for one
    elif ({"price_cents", "is_free"} & sent) and price <= 0:
        errors.add("price_cents", PRICE_MESSAGE)
    elif price > MAX_PRICE_CENTS:
        errors.add("price_cents", "Price must be at most $1,000,000.00.")


def _check_kind_fields(state: dict[str, Any], errors: FieldErrors) -> None:
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


# --- create, edit, view ------------------------------------------------------------------------


async def create_listing(session: AsyncSession, identity: Identity, data: ListingCreate) -> Product:
    """A new draft listing of the caller (C2), after the C4 checks."""
    ensure_seller(identity)
    await ensure_payout_ready(session, identity)
    sent = data.model_dump(exclude_unset=True)
    _check_owner_flags(identity, sent)
    state: dict[str, Any] = {
        "kind": data.kind,
        "title": data.title,
        "category_id": data.category_id,
        "short_description": data.short_description or "",
        "description": data.description or "",
        "price_cents": data.price_cents,
        "is_free": bool(data.is_free),
        "material": data.material or "",
        "color": data.color or "",
        "width_mm": data.width_mm,
        "height_mm": data.height_mm,
        "depth_mm": data.depth_mm,
        "license_text": data.license_text or "",
    }
    for flag in OWNER_FLAGS:
        if sent.get(flag) is not None:
            state[flag] = sent[flag]
    errors = FieldErrors()
    category = await _check_category(session, data.category_id, errors)
    if category is not None and category.type != data.kind:
        errors.add("category_id", kind_mismatch_message(data.kind))
    _check_price(state, set(sent), errors)
    _check_kind_fields(state, errors)
    errors.raise_if_any()

    product = Product(
        id=uuid.uuid4(),
        seller_id=identity.user_id,
        seller_is_owner=identity.is_owner,
        slug=await _unique_slug(session, identity.user_id, data.title),
        status=ListingStatus.DRAFT,
        **state,
    )
    session.add(product)
    await _flush(session)
    return product


async def update_listing(session: AsyncSession, identity: Identity, product_id: uuid.UUID, data: ListingUpdate) -> Product:
    product = await listing_for_change(session, identity, product_id)
    sent = data.model_dump(exclude_unset=True)
    _check_owner_flags(identity, sent)
    nullable = set(PHYSICAL_SPECS[2:])  # dimensions may be cleared
    errors = FieldErrors()
    for field, value in sent.items():
        if value is None and field not in nullable and field not in OWNER_FLAGS:
            errors.add(field, f"{field} cannot be null.")
    errors.raise_if_any()
    changes = {k: v for k, v in sent.items() if v is not None or k in nullable}

    state = {column: getattr(product, column) for column in _EDITABLE}
    state.update(changes)
    if "kind" in changes and changes["kind"] != product.kind:
        if product.status != ListingStatus.DRAFT:
            errors.add("kind", "The kind of a listing can only change while it is a draft.")
        elif changes["kind"] == CatalogType.MODEL and product.assets:
            errors.add("kind", "Remove this listing's digital files before making it a 3D Models listing.")
    if "category_id" in changes and changes["category_id"] != product.category_id:
        category = await _check_category(session, state["category_id"], errors)
    else:
        category = await categories.get(session, product.category_id)
    if category is not None and category.type != state["kind"]:
        errors.add("category_id", kind_mismatch_message(state["kind"]))
    _check_price(state, set(changes), errors)
    _check_kind_fields(state, errors)
    errors.raise_if_any()

    before = _Before.of(product)
    for field, value in state.items():
        if getattr(product, field) != value:
            setattr(product, field, value)
    if product.seller_id == identity.user_id:
        product.seller_is_owner = identity.is_owner  # the seller's own token is the freshest word on it
    await _flush(session)
    _record_changes(session, product, before, unlisted_reason="deactivated")
    return product


_EDITABLE = (
    "kind", "title", "category_id", "short_description", "description", "price_cents", "is_free",
    "material", "color", "width_mm", "height_mm", "depth_mm", "license_text", *OWNER_FLAGS,
)


async def _unique_slug(session: AsyncSession, seller_id: str, title: str) -> str:
    """C2: the slug of the title, unique per seller (-2, -3, ... appended when taken)."""
    base = slugify(title, max_length=SLUG_MAX - 8, fallback="listing")
    taken = await repository.seller_slugs_with_prefix(session, seller_id, base[: SLUG_MAX - 16])
    return first_free(base, taken, max_length=SLUG_MAX)


async def _flush(session: AsyncSession) -> None:
    # A concurrent request may take the same slug first: the constraint decides.
    await flush_or_conflict(session, SLUG_RACE_MESSAGE)


async def seller_listings(
    session: AsyncSession, identity: Identity, *, status: ListingStatus | None, all_sellers: bool, page: int, page_size: int
) -> ListingPage:
    """The caller's own listings, drafts included (not gated by payout readiness, C4); owners may ask for all."""
    if all_sellers and not identity.is_owner:
        raise Forbidden("Only marketplace owners may list every seller's listings.")
    seller_id = None if all_sellers else identity.user_id
    products, total = await repository.page_for_seller(session, seller_id, status, page=page, page_size=page_size)
    return ListingPage(items=[_summary(p) for p in products], total=total, page=page, page_size=page_size)


def image_url(image: ProductImage) -> str:
    return f"/media/images/{image.storage_key}"


def image_out(image: ProductImage) -> ImageOut:
    return ImageOut.model_validate({**_columns(image), "url": image_url(image)})


def _columns(row: Any) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def _sorted_images(product: Product) -> list[ProductImage]:
    return sorted(product.images, key=lambda image: (image.sort_order, image.id or 0))


def _primary(product: Product) -> ProductImage | None:
    images = _sorted_images(product)
    return next((image for image in images if image.is_primary), images[0] if images else None)


def _summary(product: Product) -> ListingSummary:
    primary = _primary(product)
    return ListingSummary(
        **{field: getattr(product, field) for field in ListingSummary.model_fields if hasattr(product, field)},
        visible=product.is_visible,
        primary_image_url=image_url(primary) if primary else None,
    )


async def listing_view(session: AsyncSession, product: Product) -> ListingOut:
    fields = {**_columns(product), "rating_avg": product.rating_avg, "visible": product.is_visible}
    return ListingOut(
        **{k: v for k, v in fields.items() if k in ListingOut.model_fields},
        images=[image_out(image) for image in _sorted_images(product)],
        assets=[AssetOut.model_validate(asset) for asset in product.assets],
        missing_for_publish=await missing_for_publish(session, product),
    )


# --- the workflow ------------------------------------------------------------------------------


async def missing_for_publish(session: AsyncSession, product: Product) -> list[MissingItem]:
    """Everything that keeps the listing from being published: title, an active category of its kind,
    the price rule (C2), at least one image, and for a 3D Files listing at least one digital file."""
    missing: list[MissingItem] = []
    if not product.title.strip():
        missing.append(MissingItem(field="title", message="Add a title."))
    category = await categories.get(session, product.category_id)
    if category is None or not category.is_active or category.type != product.kind:
        missing.append(
            MissingItem(field="category_id", message=f"Choose an active {TYPE_LABELS[product.kind]} category.")
        )
    if not product.is_free and product.price_cents <= 0:
        missing.append(MissingItem(field="price_cents", message="Set a price above $0.00 or mark the item free."))
    if not product.images:
        missing.append(MissingItem(field="images", message="Upload at least one image."))
    if product.kind == CatalogType.FILE and not product.assets:
        missing.append(
            MissingItem(field="assets", message="Upload at least one digital file (STL, 3MF, OBJ or ZIP).")
        )
    return missing


async def publish(session: AsyncSession, identity: Identity, product_id: uuid.UUID) -> Product:
    """Draft or unlisted → published, only when complete; records ``product.published`` if now visible."""
    product = await listing_for_change(session, identity, product_id)
    if product.status == ListingStatus.PUBLISHED:
        raise Conflict("This listing is already published.")
    missing = await missing_for_publish(session, product)
    if missing:
        raise ValidationFailed(
            "This listing cannot be published yet: " + " ".join(item.message for item in missing),
            errors=[item.model_dump() for item in missing],
        )
    before = _Before.of(product)
    product.status = ListingStatus.PUBLISHED
    product.published_at = utcnow()
    await _flush(session)
    _record_changes(session, product, before, unlisted_reason="unpublished")
    return product


async def unpublish(session: AsyncSession, identity: Identity, product_id: uuid.UUID) -> Product:
    """Published → unlisted; records ``product.unlisted``. Taking a listing down needs no payout readiness."""
    product = await listing_for_change(session, identity, product_id, needs_payout_ready=False)
    if product.status != ListingStatus.PUBLISHED:
        raise Conflict(f"Only a published listing can be unpublished; this one is {product.status.value}.")
    before = _Before.of(product)
    product.status = ListingStatus.UNLISTED
    await _flush(session)
    _record_changes(session, product, before, unlisted_reason="unpublished")
    return product


@dataclass(frozen=True)
class _Before:
    visible: bool
    published: bool
    snapshot: dict[str, Any]

    @classmethod
    def of(cls, product: Product) -> _Before:
        return cls(product.is_visible, product.status == ListingStatus.PUBLISHED, _snapshot(product))


def _snapshot(product: Product) -> dict[str, Any]:
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


def _record_changes(session: AsyncSession, product: Product, before: _Before, *, unlisted_reason: str) -> None:
    now = utcnow()
    snapshot = _snapshot(product)
    subject = str(product.id)
    if product.is_visible and not before.visible:
        record_event(session, ProductPublishedV1(**snapshot, published_at=product.published_at or now), subject_id=subject)
    elif before.visible and not product.is_visible:
        reason = "unpublished" if product.status != ListingStatus.PUBLISHED else unlisted_reason
        record_event(
            session,
            ProductUnlistedV1(product_id=subject, seller_id=product.seller_id, reason=reason, unlisted_at=now),
            subject_id=subject,
        )
    elif before.published and product.status == ListingStatus.PUBLISHED and snapshot != before.snapshot:
        record_event(session, ProductUpdatedV1(**snapshot, is_active=product.is_active, updated_at=now), subject_id=subject)

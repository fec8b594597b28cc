"""The demo catalog: ``python -m catalog seed`` (idempotent: does nothing once any category exists).

Both category trees with subcategories (C1), four sellers (three payout-ready, one not, so the demo
shows both sides of C10), 24 published products of both kinds with real PNG images (Pillow) and, on
every FILE product, a real binary STL file, plus a few ratings and trending scores so each home
bucket (C6) has something in it. Files go through the catalog's media storage layout
(``catalog.storage.MediaStorage``); each product also gets its ``product.published`` event in the
outbox, the same fact a seller publishing it would have produced.
"""

from __future__ import annotations

import argparse
import colorsys
import datetime as dt
import hashlib
import io
import math
import struct
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from PIL import Image, ImageDraw
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.categories.domain import category_slug
from catalog.listings.domain import published_event, slug_base
from catalog.models import (
    AssetFormat,
    CatalogType,
    Category,
    DigitalAsset,
    ListingStatus,
    Product,
    ProductImage,
    SellerPayoutStatus,
    SellerRating,
)
from catalog.settings import CatalogSettings
from catalog.storage import MediaStorage, new_key
from homecraft_shared.db import utcnow
from homecraft_shared.messaging.outbox import record_event
from homecraft_shared.runtime import ServiceRuntime

# seller id -> (payout-ready, seller rating sum, count)
SELLERS: dict[str, tuple[bool, int, int]] = {
    "seller-ada": (True, 23, 5),
    "seller-grace": (True, 13, 3),
    "seller-hedy": (True, 0, 0),
    "seller-linus": (False, 4, 1),  # onboarding not finished: listings visible, not buyable (C10)
}

# type -> [(root, [children])]
CATEGORY_TREES: dict[CatalogType, list[tuple[str, list[str]]]] = {
    CatalogType.MODEL: [
        ("Home & Decor", ["Planters", "Lamps"]),
        ("Tabletop & Games", ["Miniatures", "Terrain"]),
        ("Workshop", ["Organizers"]),
    ],
    CatalogType.FILE: [
        ("Miniatures", ["Fantasy", "Sci-Fi"]),
        ("Household", ["Kitchen", "Bathroom"]),
        ("Cosplay & Props", []),
    ],
}

LICENSE = (
    "Personal use licence: print as many copies as you like for yourself. "
    "Do not resell the file or prints made from it. Remixes welcome with credit."
)


@dataclass(frozen=True)
class DemoProduct:
    title: str
    category: str  # "Root" or "Root/Child"
    seller: str
    price_cents: int
    short: str
    description: str
    age_days: float
    shape: str
    featured: bool = False
    trending: bool = False
    score: float = 0.0
    ratings: tuple[int, ...] = ()
    free: bool = False
    material: str = ""
    color: str = ""
    size_mm: tuple[int, int, int] | None = None
    extra_images: int = 0


M, F = CatalogType.MODEL, CatalogType.FILE

PRODUCTS: dict[CatalogType, list[DemoProduct]] = {
    M: [
        DemoProduct("Spiral Succulent Planter", "Home & Decor/Planters", "seller-ada", 2400,
                    "A twisting planter with a drainage tray.", "Printed in matte PLA, sanded and sealed. Fits a 6 cm pot.",
                    1, "circle", featured=True, score=18.5, ratings=(5, 5, 4, 5), material="PLA", color="Terracotta",
                    size_mm=(90, 110, 90), extra_images=1),
        DemoProduct("Hex Desk Planter Set", "Home & Decor/Planters", "seller-grace", 1800,
                    "Three nesting hexagonal planters.", "Stackable, water-tight PETG planters for small succulents.",
                    4, "hexagon", score=6.0, ratings=(4, 4, 5), material="PETG", color="Sage green", size_mm=(70, 60, 70)),
        DemoProduct("Moon Lithophane Lamp", "Home & Decor/Lamps", "seller-ada", 5900,
                    "A glowing moon with real crater relief.", "Lithophane sphere on a walnut-look base with a warm LED.",
                    2, "circle", featured=True, trending=True, score=25.0, ratings=(5, 5, 5, 4, 5), material="PLA",
                    color="White", size_mm=(150, 160, 150), extra_images=1),
        DemoProduct("Voronoi Table Lamp", "Home & Decor/Lamps", "seller-hedy", 6400,
                    "An organic cell-pattern lamp shade.", "Casts a lace of shadows across the room. E14 socket included.",
                    9, "star", score=3.25, material="PLA", color="Ivory", size_mm=(140, 220, 140)),
        DemoProduct("Dragon Miniature (painted)", "Tabletop & Games/Miniatures", "seller-grace", 3200,
                    "A hand-painted 32 mm scale dragon.", "Resin print, primed and painted by hand. Ready for the table.",
                    3, "triangle", featured=True, score=12.0, ratings=(5, 4, 5), material="Resin", color="Crimson",
                    size_mm=(80, 60, 70)),
        DemoProduct("Dwarf Warband (6 figures)", "Tabletop & Games/Miniatures", "seller-linus", 4500,
                    "Six 28 mm dwarves with axes and shields.", "Unpainted resin figures on round bases.",
                    6, "square", ratings=(4,), material="Resin", color="Grey", size_mm=(25, 30, 25)),
        DemoProduct("Modular Dungeon Tiles", "Tabletop & Games/Terrain", "seller-hedy", 3800,
                    "Twenty interlocking dungeon floor tiles.", "Clip-together 2 inch tiles with stone texture.",
                    12, "square", score=1.5, material="PLA", color="Stone grey", size_mm=(50, 10, 50)),
        DemoProduct("Ruined Watchtower", "Tabletop & Games/Terrain", "seller-ada", 2900,
                    "A crumbling tower for skirmish games.", "Three-level terrain piece with removable floors.",
                    15, "triangle", material="PLA", color="Sandstone", size_mm=(100, 180, 100)),
        DemoProduct("Pegboard Tool Holders", "Workshop/Organizers", "seller-grace", 1500,
                    "A set of twelve pegboard hooks and bins.", "Sturdy PETG parts for standard 1/4 inch pegboard.",
                    7, "hexagon", ratings=(3, 4, 4), material="PETG", color="Orange", size_mm=(60, 40, 40)),
        DemoProduct("Gridfinity Starter Kit", "Workshop/Organizers", "seller-ada", 2200,
                    "Baseplate and eight modular bins.", "Organise drawers with the popular modular grid system.",
                    5, "square", featured=True, score=8.75, material="PLA", color="Black", size_mm=(168, 7, 168)),
        DemoProduct("Cable Management Clips", "Workshop", "seller-hedy", 900,
                    "Thirty adhesive cable clips.", "Keep desk cables tidy; fits cables up to 6 mm.",
                    18, "circle", material="PETG", color="White", size_mm=(20, 12, 15)),
        DemoProduct("Geometric Wall Planter", "Home & Decor", "seller-linus", 2100,
                    "A faceted planter that hangs on the wall.", "Low-poly wall planter with a hidden keyhole mount.",
                    20, "hexagon", material="PLA", color="Charcoal", size_mm=(120, 100, 70)),
    ],
    F: [
        DemoProduct("Dragon Miniature STL", "Miniatures/Fantasy", "seller-grace", 600,
                    "The 32 mm dragon, supported and ready to slice.", "Pre-supported STL for resin printers, 3 poses.",
                    2, "triangle", featured=True, trending=True, score=14.0, ratings=(5, 5, 4), extra_images=1),
        DemoProduct("Elven Archer", "Miniatures/Fantasy", "seller-ada", 450,
                    "A 28 mm archer mid-draw.", "Split for easy printing, with a scenic base.",
                    5, "star", score=9.5, ratings=(5, 4, 4, 5)),
        DemoProduct("Mech Walker Kit", "Miniatures/Sci-Fi", "seller-hedy", 900,
                    "A posable walker with magnetised weapons.", "Twelve parts, print-in-place joints, no supports.",
                    3, "square", featured=True, score=11.0, ratings=(4, 5, 5)),
        DemoProduct("Space Marine Squad", "Miniatures/Sci-Fi", "seller-linus", 700,
                    "Five troopers with weapon options.", "Supported STL files for resin and FDM.",
                    8, "triangle", score=2.0),
        DemoProduct("Spice Rack Organiser", "Household/Kitchen", "seller-grace", 300,
                    "A tiered rack for twelve jars.", "Prints without supports; scales to your cupboard.",
                    6, "square", ratings=(4, 4, 3)),
        DemoProduct("Bag Clip Pack", "Household/Kitchen", "seller-ada", 0,
                    "Strong bag clips, free to print.", "A print-in-place spring clip. Free for everyone.",
                    10, "circle", free=True, score=4.0, ratings=(5, 5, 5, 4, 4, 5)),
        DemoProduct("Toothbrush Holder", "Household/Bathroom", "seller-hedy", 250,
                    "A draining holder for four brushes.", "Vase-mode friendly; prints in under an hour.",
                    11, "hexagon"),
        DemoProduct("Soap Dish with Drain", "Household/Bathroom", "seller-ada", 0,
                    "A slotted soap dish.", "Keeps soap dry. Free download.",
                    14, "circle", free=True),
        DemoProduct("Cosplay Helmet", "Cosplay & Props", "seller-ada", 1500,
                    "A full-size sci-fi helmet split for printing.", "Fits heads up to 62 cm; visor slot included.",
                    4, "star", featured=True, score=7.0, ratings=(5, 4)),
        DemoProduct("Prop Blaster", "Cosplay & Props", "seller-grace", 1200,
                    "A chunky prop blaster with a light-up barrel.", "Room for an LED strip and a 9 V battery.",
                    9, "triangle", trending=True),
        DemoProduct("Rune Shield", "Cosplay & Props", "seller-hedy", 800,
                    "A round shield covered in runes.", "Sixteen interlocking segments print on a small bed.",
                    16, "circle"),
        DemoProduct("Fantasy Tavern Props", "Miniatures/Fantasy", "seller-linus", 350,
                    "Tables, barrels and mugs for your tavern.", "Twenty small props for 28 mm scenes.",
                    19, "square"),
    ],
}


@dataclass
class SeedResult:
    seeded: bool
    categories: int = 0
    products: int = 0
    images: int = 0
    assets: int = 0
    written: list[Path] = field(default_factory=list)


# --- real files --------------------------------------------------------------------------------


def demo_png(index: int, shape: str, *, variant: int = 0, size: tuple[int, int] = (480, 360)) -> bytes:
    """A small PNG: a background colour and a shape in a complementary colour, distinct per product."""
    hue = (index * 0.137 + variant * 0.31) % 1.0
    background = tuple(round(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.35, 0.95))
    foreground = tuple(round(c * 255) for c in colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.75, 0.7))
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    cx, cy, r = size[0] // 2, size[1] // 2, min(size) // 3 - variant * 12
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=foreground)
    elif shape == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=foreground)
    else:
        points = {"triangle": 3, "hexagon": 6, "star": 10}.get(shape, 5)
        vertices = []
        for i in range(points):
            radius = r if shape != "star" or i % 2 == 0 else r // 2
            angle = -math.pi / 2 + 2 * math.pi * i / points
            vertices.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
        draw.polygon(vertices, fill=foreground)
    # A stripe of the product's number, so two products with the same shape still differ.
    draw.rectangle((0, size[1] - 24, 24 + 16 * (index % 24), size[1]), fill=foreground)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def cube_stl(edge_mm: float = 20.0, name: str = "homecraft demo cube") -> bytes:
    """A valid binary STL of a cube: 80-byte header, triangle count, 12 facets (normal, 3 vertices, attribute)."""
    s = float(edge_mm)
    v = [(x * s, y * s, z * s) for x in (0, 1) for y in (0, 1) for z in (0, 1)]
    # Each face as two triangles, counter-clockwise seen from outside, with its outward normal.
    faces = [
        ((-1, 0, 0), (0, 1, 3, 2)), ((1, 0, 0), (4, 6, 7, 5)),
        ((0, -1, 0), (0, 4, 5, 1)), ((0, 1, 0), (2, 3, 7, 6)),
        ((0, 0, -1), (0, 2, 6, 4)), ((0, 0, 1), (1, 5, 7, 3)),
    ]
    header = name.encode("ascii")[:80].ljust(80, b" ")
    body = bytearray()
    for normal, (a, b, c, d) in faces:
        for tri in ((a, b, c), (a, c, d)):
            body += struct.pack("<3f", *normal)
            for i in tri:
                body += struct.pack("<3f", *v[i])
            body += struct.pack("<H", 0)
    return header + struct.pack("<I", 12) + bytes(body)


# --- the seed ----------------------------------------------------------------------------------


async def seed_demo(session: AsyncSession, media_root: Path, *, now: dt.datetime | None = None) -> SeedResult:
    """Load the demo catalog into ``session`` (the caller commits). Does nothing if any category exists."""
    if await session.scalar(sa.select(sa.func.count()).select_from(Category)):
        return SeedResult(seeded=False)
    now = now or utcnow()
    result = SeedResult(seeded=True)
    try:
        await _load(session, MediaStorage(media_root), now, result)
    except BaseException:
        remove_files(result)
        raise
    return result


def remove_files(result: SeedResult) -> None:
    """Files written for a seed whose transaction did not commit."""
    for path in result.written:
        path.unlink(missing_ok=True)


async def _load(session: AsyncSession, storage: MediaStorage, now: dt.datetime, result: SeedResult) -> None:

    for seller_id, (ready, rating_sum, rating_count) in SELLERS.items():
        session.add(SellerPayoutStatus(seller_id=seller_id, ready=ready, as_of=now))
        if rating_count:
            session.add(SellerRating(seller_id=seller_id, rating_sum=rating_sum, rating_count=rating_count, as_of=now))

    categories: dict[tuple[CatalogType, str], Category] = {}
    for kind, roots in CATEGORY_TREES.items():
        for root_order, (root_name, children) in enumerate(roots):
            root = Category(type=kind, name=root_name, slug=category_slug(root_name),
                            parent_key=0, sort_order=root_order)
            session.add(root)
            await session.flush()
            categories[(kind, root_name)] = root
            for child_order, child_name in enumerate(children):
                child = Category(type=kind, name=child_name, slug=category_slug(child_name),
                                 parent=root,
                                 parent_key=root.id, sort_order=child_order)
                session.add(child)
                categories[(kind, f"{root_name}/{child_name}")] = child
    await session.flush()
    result.categories = len(categories)

    index = 0
    for kind, demos in PRODUCTS.items():
        for demo in demos:
            index += 1
            product = _product(demo, kind, categories[(kind, demo.category)], now)
            session.add(product)
            for variant in range(1 + demo.extra_images):
                data = demo_png(index, demo.shape, variant=variant)
                key = _write(storage, "images", data, result)
                session.add(ProductImage(
                    product=product, storage_key=key, content_type="image/png", size_bytes=len(data),
                    alt_text=demo.title if variant == 0 else f"{demo.title}, another view",
                    is_primary=variant == 0, sort_order=variant,
                ))
                result.images += 1
            if kind is CatalogType.FILE:
                data = cube_stl(10.0 + index)
                key = _write(storage, "assets", data, result)
                session.add(DigitalAsset(
                    product=product, original_filename=f"{product.slug}.stl", file_format=AssetFormat.STL,
                    storage_key=key, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                ))
                result.assets += 1
            record_event(session, published_event(product, now), subject_id=str(product.id))
            result.products += 1
    await session.flush()


def _product(demo: DemoProduct, kind: CatalogType, category: Category, now: dt.datetime) -> Product:
    created = now - dt.timedelta(days=demo.age_days)
    specs: dict[str, object] = {}
    if kind is CatalogType.MODEL:
        width, height, depth = demo.size_mm or (None, None, None)
        specs = {"material": demo.material, "color": demo.color, "width_mm": width, "height_mm": height,
                 "depth_mm": depth}
    else:
        specs = {"license_text": LICENSE}
    return Product(
        id=uuid.uuid4(), seller_id=demo.seller, kind=kind, title=demo.title,
        slug=slug_base(demo.title),
        short_description=demo.short, description=demo.description, category=category, category_id=category.id,
        price_cents=0 if demo.free else demo.price_cents, currency="usd", is_free=demo.free, status=ListingStatus.PUBLISHED,
        is_active=True, is_featured=demo.featured, is_trending=demo.trending, trending_score=demo.score,
        trending_as_of=now if demo.score else None, rating_count=len(demo.ratings), rating_sum=sum(demo.ratings),
        rating_as_of=now if demo.ratings else None, created_at=created, updated_at=created, published_at=created,
        **specs,
    )


def _write(storage: MediaStorage, area: str, data: bytes, result: SeedResult) -> str:
    key = new_key()
    path = storage.path_for(area, key)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    result.written.append(path)
    return key


async def seed_command(runtime: ServiceRuntime, _args: argparse.Namespace) -> None:
    """``python -m catalog seed``."""
    settings = runtime.settings
    assert isinstance(settings, CatalogSettings)
    started = time.perf_counter()
    async with runtime.sessionmaker() as session:
        result = await seed_demo(session, settings.media_root)
        try:
            await session.commit()
        except BaseException:
            remove_files(result)
            raise
    if not result.seeded:
        print("catalog: categories already exist; demo data not loaded again")
        return
    print(
        f"catalog: demo data loaded: {result.categories} categories, {result.products} products, "
        f"{result.images} images, {result.assets} 3D files in {time.perf_counter() - started:.2f}s"
    )

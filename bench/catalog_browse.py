"""Benchmark the catalog's read side over HTTP: search, browse sorts, category, home and product pages.

Builds a catalog database with N products (100,000 by default; the real migrations, then bulk
inserts straight into the tables: executemany on SQLite, COPY on PostgreSQL, so the change-log
triggers are the production ones), starts a nats-server
(``homecraft_shared.testing.infra.NatsServer``) and the real catalog service under uvicorn in a
subprocess on a free 127.0.0.1 port, then drives it with C concurrent clients (aiohttp, 32 by
default) for a fixed time per scenario and prints p50 / p99 latency and requests per second.
Everything it starts is stopped at the end.

    .venv/bin/python bench/catalog_browse.py
    .venv/bin/python bench/catalog_browse.py --products 20000 --duration 5
    .venv/bin/python bench/catalog_browse.py --database-url postgresql+asyncpg://user@127.0.0.1:5432/postgres

The database is a SQLite file in a temporary directory by default; with ``--database-url`` (a
PostgreSQL server URL whose user may create databases) a throwaway database on that server,
dropped at the end. Scenarios:

* bare: the baseline, in the same run: a bare FastAPI endpoint (``bench/bare_app.py``, same uvicorn
  flags) returning a trending page's JSON body from memory; every scenario also prints its
  throughput as a ratio of the bare endpoint's and its p99 as a multiple of the bare p99;
* search: ``/browse?q=...`` with varied queries (common and rare words, two words, prefixes),
  relevance order, a random one of the first three pages;
* search-varied: one or two random words of the catalog's vocabulary (thousands of distinct searches,
  mostly computed rather than answered from the response and result caches kept with the index state);
* trending / new / top: ``/browse?sort=...`` (all, models, files), a random one of the first five pages;
* category: ``/browse/categories/{id}`` (roots and children, new or trending), first three pages;
* home: ``/home``; product: ``/browse/products/{id}`` of random visible products.

With ``--before-src DIR`` (an earlier version of the ``catalog`` package) the service is started
alternately with that code and with this checkout's (before, after, before, after: ``--rounds``
pairs) over the same database and index, each pass with its own bare baseline: a before/after in
the same minutes. Each scenario also prints what its p99 is made of: the requests started in its
first second (the caches kept with the index state still filling) against the rest.

``--scenarios search,trending`` runs a subset (the bare baseline always runs first). ``--restart``
starts the service once before the measured start and prints both start-up times (the second start
resumes the index the first kept on disk).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import enum
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from benchkit import uvicorn_service, wait_ready
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from catalog.app import MIGRATIONS
from catalog.models import Category, ListingStatus, Product, SellerPayoutStatus, average_rating
from homecraft_shared.db import create_engine
from homecraft_shared.migrations import upgrade_to_head
from homecraft_shared.testing.infra import NatsServer


def _words(text: str) -> list[str]:
    return text.split(" ")


ADJECTIVES = _words(
    "ancient ornate modular rugged spiral hexagonal tiny giant hollow geometric organic twisted elegant "
    "rustic futuristic low-poly articulated foldable stackable magnetic glowing carved woven faceted "
    "minimalist gothic steampunk nordic japanese brutalist whimsical sturdy slim curved"
)
NOUNS = _words(
    "dragon castle tower planter vase lamp shade bracket hook organizer bin drawer knight elf dwarf orc "
    "wizard goblin spaceship mech robot rover tank helmet shield sword dagger bow mask crown ring pendant "
    "coaster tray bowl cup mug teapot spoon clip holder stand dock hinge gear pulley wheel tile wall door "
    "bridge ruin temple statue bust skull fox owl cat dog whale turtle octopus cactus tree leaf flower "
    "chess pawn rook dice tower box puzzle maze keychain whistle"
)
FILLER = _words(
    "printed in pla petg resin with fine detail supports included scaled for 28mm and 32mm tabletop games "
    "easy to print no supports needed designed for fdm printers tested on many machines remix friendly "
    "perfect gift for makers hobbyists collectors includes multiple parts snap fit glue free assembly "
    "smooth finish sanded primed painted by hand strong infill durable lightweight weatherproof indoor outdoor"
)

SEARCHES = [
    "dragon", "castle", "planter", "lamp", "helmet", "robot", "vase", "chess", "owl", "teapot",
    "ancient dragon", "modular tile", "spiral vase", "glowing lamp", "steampunk robot", "gothic castle",
    "drag", "plan", "helm", "octo", "resin", "supports", "tabletop", "gift", "weatherproof",
    "dragon resin", "no supports", "hand painted", "keychain", "brutalist", "whimsical fox", "xylophone",
]

MODEL_TREE = {"Home & Decor": ["Planters", "Lamps", "Vases"], "Tabletop": ["Miniatures", "Terrain"],
              "Workshop": ["Organizers", "Tools"], "Cosplay": ["Helmets", "Props"]}
FILE_TREE = {"Miniatures": ["Fantasy", "Sci-Fi", "Monsters"], "Household": ["Kitchen", "Bathroom"],
             "Toys & Games": ["Puzzles", "Chess"], "Art": ["Sculptures", "Jewelry"]}


# --- the database ------------------------------------------------------------------------------


async def build_catalog(url: str, products: int, seed: int) -> None:
    """The real migrations, then bulk loading straight into the catalog tables (the triggers fire as in
    production): SQLite through ``sqlite3.executemany`` in one connection without fsync, PostgreSQL
    through COPY. The change-log rows the triggers wrote are dropped at the end: nothing has indexed
    this catalog yet, and a starting process builds its index from the products table."""
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS, url)
    rng = random.Random(seed)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            category_ids = await _categories(conn)
            sellers = [f"seller-{n:04d}" for n in range(400)]
            await conn.execute(sa.insert(SellerPayoutStatus), [
                {"seller_id": s, "ready": rng.random() < 0.9, "as_of": dt.datetime.now(dt.UTC)} for s in sellers
            ])
    finally:
        await engine.dispose()
    now = dt.datetime.now(dt.UTC)
    loader = await _bulk_loader(url)
    try:
        for start in range(0, products, LOAD_CHUNK):
            rows, images = [], []
            for n in range(start, min(products, start + LOAD_CHUNK)):
                rows.append(_product_row(rng, n, category_ids, sellers, now))
                images.append({"product_id": rows[-1]["id"], "storage_key": uuid.uuid4().hex, "content_type": "image/png",
                               "size_bytes": 20_000, "alt_text": "", "is_primary": True, "sort_order": 0, "created_at": now})
            await loader.load("products", rows)
            await loader.load("product_images", images)
            print(f"\r  inserted {min(products, start + LOAD_CHUNK):,} / {products:,} products", end="", flush=True)
        print()
        await loader.finish()
    finally:
        await loader.close()


LOAD_CHUNK = 20_000


def _sqlite_value(value: object) -> object:
    """A value as SQLAlchemy stores it on SQLite (Uuid: 32 hex digits; datetimes: UTC text; bools: 0/1)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


class _SqliteLoader:
    def __init__(self, path: str) -> None:
        self.connection = sqlite3.connect(path, check_same_thread=False)
        self.connection.execute("PRAGMA synchronous=OFF")

    async def load(self, table: str, rows: list[dict[str, object]]) -> None:
        columns = list(rows[0])
        values = [tuple(_sqlite_value(row[c]) for c in columns) for row in rows]
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"

        def insert() -> None:
            with self.connection:
                self.connection.executemany(statement, values)

        await asyncio.to_thread(insert)

    async def finish(self) -> None:
        def tidy() -> None:
            with self.connection:
                self.connection.execute("DELETE FROM search_changes")
            self.connection.execute("ANALYZE")

        await asyncio.to_thread(tidy)

    async def close(self) -> None:
        self.connection.close()


def _postgres_value(value: object) -> object:
    return value.value if isinstance(value, enum.Enum) else value


class _PostgresLoader:
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def load(self, table: str, rows: list[dict[str, object]]) -> None:
        columns = list(rows[0])
        records = [tuple(_postgres_value(row[c]) for c in columns) for row in rows]
        await self.connection.copy_records_to_table(table, records=records, columns=columns)

    async def finish(self) -> None:
        await self.connection.execute("DELETE FROM search_changes")
        # Fresh statistics and a visibility map, as autovacuum would have by now.
        await self.connection.execute("VACUUM ANALYZE")

    async def close(self) -> None:
        await self.connection.close()


async def _bulk_loader(url: str) -> _SqliteLoader | _PostgresLoader:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        return _SqliteLoader(parsed.database)
    import asyncpg

    return _PostgresLoader(await asyncpg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False)))


async def _categories(conn: AsyncConnection) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {"MODEL": [], "FILE": []}
    now = dt.datetime.now(dt.UTC)
    for kind, tree in (("MODEL", MODEL_TREE), ("FILE", FILE_TREE)):
        for order, (root, children) in enumerate(tree.items()):
            root_id = (await conn.execute(
                sa.insert(Category).values(**_category(kind, root, None, order, now)).returning(Category.id))).scalar_one()
            ids[kind].append(root_id)
            for child_order, child in enumerate(children):
                child_id = (await conn.execute(
                    sa.insert(Category).values(**_category(kind, child, root_id, child_order, now)).returning(Category.id)
                )).scalar_one()
                ids[kind].append(child_id)
    return ids


def _category(kind: str, name: str, parent: int | None, order: int, now: dt.datetime) -> dict[str, object]:
    slug = name.lower().replace(" & ", "-").replace(" ", "-")
    return {"type": kind, "name": name, "slug": slug, "parent_id": parent, "parent_key": parent or 0, "description": "",
            "is_active": True, "sort_order": order, "created_at": now, "updated_at": now}


def _product_row(rng: random.Random, n: int, category_ids: dict[str, list[int]], sellers: list[str],
                 now: dt.datetime) -> dict[str, object]:
    kind = "MODEL" if n % 2 else "FILE"
    title = f"{rng.choice(ADJECTIVES).capitalize()} {rng.choice(NOUNS)} {rng.choice(NOUNS)}"
    short = " ".join(rng.choices(FILLER + NOUNS, k=10))
    description = " ".join(rng.choices(FILLER + NOUNS + ADJECTIVES, k=45))
    created = now - dt.timedelta(seconds=rng.uniform(0, 365 * 86400))
    # Most products have no engagement: a long tail of trending scores and ratings.
    score = round(rng.expovariate(0.2), 2) if rng.random() < 0.25 else 0.0
    rating_count = rng.choice((0, 0, 0, 1, 2, 3, 5, 8, 13))
    rating_sum = sum(rng.randint(3, 5) for _ in range(rating_count))
    free = kind == "FILE" and rng.random() < 0.05
    return {
        "id": uuid.uuid4(), "seller_id": rng.choice(sellers), "seller_is_owner": False, "kind": kind, "title": title,
        "slug": f"p-{n}", "short_description": short, "description": description,
        "category_id": rng.choice(category_ids[kind]), "price_cents": 0 if free else rng.randint(100, 20_000),
        "currency": "usd", "is_free": free,
        "status": ListingStatus.PUBLISHED if rng.random() < 0.95 else ListingStatus.DRAFT,
        "is_active": rng.random() < 0.98, "is_featured": rng.random() < 0.01, "is_trending": rng.random() < 0.001,
        "material": "", "color": "", "width_mm": None, "height_mm": None, "depth_mm": None, "license_text": "",
        "rating_count": rating_count, "rating_sum": rating_sum, "avg_rating": average_rating(rating_sum, rating_count),
        "trending_score": score, "rating_as_of": None, "trending_as_of": None,
        "created_at": created, "updated_at": created, "published_at": created,
    }


@contextlib.asynccontextmanager
async def database(database_url: str | None, workdir: Path) -> AsyncIterator[str]:
    if not database_url:
        yield f"sqlite+aiosqlite:///{workdir / 'catalog.db'}"
        return
    import asyncpg

    server = make_url(database_url)
    name = f"bench_catalog_{uuid.uuid4().hex[:8]}"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        connection = await asyncpg.connect(admin)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


# --- the service -------------------------------------------------------------------------------


@contextlib.contextmanager
def catalog_service(url: str, nats_url: str, workdir: Path, workers: int, code: Path | None = None) -> Iterator[str]:
    """The catalog service; ``code``: a directory holding another version of the ``catalog`` package
    (``--before-src``), imported instead of this checkout's."""
    env = {
        "CATALOG_DATABASE_URL": url,
        "CATALOG_NATS_URL": nats_url,
        "CATALOG_LOG_LEVEL": "WARNING",
        "CATALOG_RUN_MIGRATIONS_ON_START": "false",
        "CATALOG_MEDIA_ROOT": str(workdir / "media"),
    }
    if code is not None:
        env["PYTHONPATH"] = str(code)
    with uvicorn_service("catalog", env, workdir, workers=workers) as base:
        yield base


@contextlib.contextmanager
def bare_service(body_file: Path, workdir: Path, workers: int) -> Iterator[str]:
    """The baseline: ``bench/bare_app.py`` under the same uvicorn flags as the catalog."""
    env = {"BARE_BODY_FILE": str(body_file), "PYTHONPATH": str(Path(__file__).parent)}
    with uvicorn_service("bare", env, workdir, workers=workers, factory="bare_app:create_app") as base:
        yield base


# --- the load ----------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)  # each latency's request start, seconds into the run
    errors: int = 0
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def p99(self) -> float:
        return percentile(sorted(self.latencies), 0.99) if self.latencies else float("inf")

    def line(self, baseline: Result | None = None) -> str:
        values = sorted(self.latencies)
        if not values:
            return f"{self.name:<18} no successful requests, {self.errors} errors"
        ratios = ""
        if baseline is not None and baseline.latencies:
            ratios = f"  {self.throughput / baseline.throughput:>5.2f} x bare req/s  p99 {self.p99 / baseline.p99:>6.1f} x bare"
        return (
            f"{self.name:<18} {len(values):>7,} req  {self.throughput:>8.1f} req/s  "
            f"p50 {percentile(values, 0.50) * 1000:>7.1f} ms  p99 {percentile(values, 0.99) * 1000:>7.1f} ms  "
            f"max {values[-1] * 1000:>7.1f} ms  errors {self.errors}{ratios}"
        )


    def split_line(self, first: float = 1.0) -> str:
        """What the p99 is made of: the requests started in the first ``first`` seconds (the caches kept
        with the index state are still filling) against the rest of the run."""
        early = sorted(lat for lat, start in zip(self.latencies, self.starts, strict=True) if start < first)
        late = sorted(lat for lat, start in zip(self.latencies, self.starts, strict=True) if start >= first)

        def part(values: list[float]) -> str:
            if not values:
                return "none"
            return (f"{len(values):,} req p50 {percentile(values, 0.5) * 1000:.1f} ms p99 "
                    f"{percentile(values, 0.99) * 1000:.1f} ms max {values[-1] * 1000:.1f} ms")

        slow = sorted(self.latencies)[-max(1, len(self.latencies) // 100):]
        in_first = sum(1 for lat, start in zip(self.latencies, self.starts, strict=True) if start < first and lat >= slow[0])
        return (f"{'':<18} first {first:.0f} s: {part(early)}; after: {part(late)}; "
                f"slowest 1%: {in_first} of {len(slow)} started in the first {first:.0f} s")


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def search_request(rng: random.Random) -> str:
    return f"/browse?q={rng.choice(SEARCHES).replace(' ', '+')}&page={rng.choice((1, 1, 1, 2, 3))}"


VOCABULARY = sorted({word for word in ADJECTIVES + NOUNS + FILLER if word.isalnum() and len(word) > 2})


def varied_search_request(rng: random.Random) -> str:
    """One or two random words of the catalog's vocabulary, any of the first three pages: thousands of
    distinct searches, so most are computed, not answered from a cache kept with the index state."""
    words = rng.sample(VOCABULARY, rng.choice((1, 2, 2)))
    return f"/browse?q={'+'.join(words)}&page={rng.choice((1, 2, 3))}"


def sorted_request(sort: str) -> Callable[[random.Random], str]:
    def make(rng: random.Random) -> str:
        path = rng.choice(("/browse", "/browse", "/browse/models", "/browse/files"))
        return f"{path}?sort={sort}&page={rng.choice((1, 1, 1, 2, 3, 4, 5))}"

    return make


@dataclass(frozen=True)
class Ids:
    """What the category and product scenarios pick from (read from the built database)."""

    categories: list[int]
    products: list[str]


async def read_ids(url: str, seed: int) -> Ids:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            categories = list((await conn.execute(sa.select(Category.id))).scalars())
            products = list((await conn.execute(
                sa.select(Product.id).where(Product.status == ListingStatus.PUBLISHED, Product.is_active == sa.true())
                .order_by(Product.slug).limit(2000)
            )).scalars())
    finally:
        await engine.dispose()
    random.Random(seed).shuffle(products)
    return Ids(categories=categories, products=[str(p) for p in products])


def scenarios(ids: Ids) -> dict[str, Callable[[random.Random], str]]:
    def category(rng: random.Random) -> str:
        sort = rng.choice(("new", "new", "trending"))
        return f"/browse/categories/{rng.choice(ids.categories)}?sort={sort}&page={rng.choice((1, 1, 2, 3))}"

    return {
        "search": search_request,
        "search-varied": varied_search_request,
        "trending": sorted_request("trending"),
        "new": sorted_request("new"),
        "top": sorted_request("top"),
        "category": category,
        "home": lambda _rng: "/home",
        "product": lambda rng: f"/browse/products/{rng.choice(ids.products)}",
    }


async def load(base: str, name: str, make_path: Callable[[random.Random], str], concurrency: int, duration: float,
               seed: int) -> Result:
    result = Result(name)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        stop_at = started + duration

        async def client(index: int) -> None:
            rng = random.Random(seed * 1000 + index)
            while time.perf_counter() < stop_at:
                path = make_path(rng)
                t0 = time.perf_counter()
                try:
                    async with session.get(path) as response:
                        await response.read()
                        ok = response.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if ok:
                    result.latencies.append(time.perf_counter() - t0)
                    result.starts.append(t0 - started)
                else:
                    result.errors += 1

        await asyncio.gather(*(client(i) for i in range(concurrency)))
        result.seconds = time.perf_counter() - started
    return result


async def run(args: argparse.Namespace, workdir: Path) -> int:
    async with database(args.database_url, workdir) as url:
        backend = make_url(url).get_backend_name()
        print(f"building a catalog of {args.products:,} products ({backend}) ...", flush=True)
        t0 = time.perf_counter()
        await build_catalog(url, args.products, args.seed)
        print(f"  built in {time.perf_counter() - t0:.1f}s", flush=True)

        ids = await read_ids(url, args.seed)
        chosen = scenarios(ids)
        names = [name for name in args.scenarios.split(",") if name] if args.scenarios else list(chosen)
        unknown = set(names) - set(chosen)
        if unknown:
            raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))} (known: {', '.join(chosen)})")
        nats = NatsServer(workdir / "nats")
        nats.start()
        runs: list[tuple[str, Result, list[Result]]] = []
        try:
            if args.restart:
                # Start once (the index is built from the products table), stop, and time the next
                # start: it resumes the index each process kept on disk (docs/decisions/0111).
                with catalog_service(url, nats.url, workdir, args.workers) as base:
                    t0 = time.perf_counter()
                    await asyncio.to_thread(wait_ready, base, within_seconds=600)
                    print(f"first start (index built from the database): ready in {time.perf_counter() - t0:.1f}s",
                          flush=True)
            # One pass with this checkout's code; with --before-src, passes alternate between the other
            # version and this one (before, after, before, after, ...) over the same database.
            passes: list[tuple[str, Path | None]] = [("", None)]
            if args.before_src:
                passes = [pass_ for _ in range(args.rounds) for pass_ in (("before", args.before_src), ("after", args.after_src))]
            for label, code in passes:
                baseline, measured = await measure_pass(args, url, nats.url, workdir, chosen, names, label, code)
                runs.append((label, baseline, measured))
        finally:
            nats.stop()
    print()
    print(f"{args.products:,} products, {backend}, {args.workers} worker(s), {args.concurrency} clients, "
          f"{args.duration:.0f}s per scenario")
    for label, baseline, measured in runs:
        if label:
            print(f"-- {label}")
        print(baseline.line())
        for result in measured:
            print(result.line(baseline))
            print(result.split_line())
    everything = [r for _, baseline, measured in runs for r in (baseline, *measured)]
    return 1 if any(r.errors or not r.latencies for r in everything) else 0


async def measure_pass(args: argparse.Namespace, url: str, nats_url: str, workdir: Path,
                       chosen: dict[str, Callable[[random.Random], str]], names: list[str], label: str,
                       code: Path | None) -> tuple[Result, list[Result]]:
    """Start the service (this checkout's code, or ``code``), measure the bare baseline then each scenario."""
    results: list[Result] = []
    with catalog_service(url, nats_url, workdir, args.workers, code) as base:
        t0 = time.perf_counter()
        await asyncio.to_thread(wait_ready, base, within_seconds=900)
        print(f"{label + ': ' if label else ''}catalog service at {base} ({args.workers} worker(s)), ready in "
              f"{time.perf_counter() - t0:.1f}s; {args.concurrency} concurrent clients, {args.duration:.0f}s per scenario",
              flush=True)
        body_file = workdir / "bare-body.json"
        async with aiohttp.ClientSession(base) as session, session.get("/browse?sort=trending") as response:
            body_file.write_bytes(await response.read())
        with bare_service(body_file, workdir, args.workers) as bare_base:
            await asyncio.to_thread(wait_ready, bare_base)
            await load(bare_base, "warm-up", lambda _rng: "/bare", 4, 2.0, args.seed)
            baseline = await load(bare_base, "bare (baseline)", lambda _rng: "/bare", args.concurrency,
                                  args.duration, args.seed)
        print(baseline.line(), flush=True)
        for name in names:
            await load(base, "warm-up", chosen[name], 4, 2.0, args.seed)
            results.append(await load(base, name, chosen[name], args.concurrency, args.duration, args.seed))
            print(results[-1].line(baseline), flush=True)
            print(results[-1].split_line(), flush=True)
    return baseline, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=100_000, help="products in the catalog (default 100000)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per scenario (default 15)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    parser.add_argument("--database-url", help="a PostgreSQL server URL (postgresql+asyncpg://...); default: SQLite")
    parser.add_argument("--scenarios", help="comma-separated subset of: search,search-varied,trending,new,top,category,home,product")
    parser.add_argument("--seed", type=int, default=7, help="random seed for the data and the queries")
    parser.add_argument("--restart", action="store_true",
                        help="start the service once first, stop it, and time the second start (index resumed)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (database, logs)")
    parser.add_argument("--before-src", type=Path,
                        help="a directory holding an earlier version of the catalog package (e.g. `git archive "
                             "<commit> services/catalog/src`): alternate passes with it and with this checkout")
    parser.add_argument("--after-src", type=Path, help="with --before-src: the version to compare (default: this checkout)")
    parser.add_argument("--rounds", type=int, default=2, help="before/after pairs with --before-src (default 2)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-catalog-"))
    try:
        return asyncio.run(asyncio.wait_for(run(args, workdir), timeout=args.duration * 20 + 3600))
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

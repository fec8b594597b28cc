"""Benchmark the engagement service: ingestion through HTTP, and the top-trending read as the
number of stored engagement events grows from 10 thousand to 10 million.

Starts a nats-server and the real engagement service under uvicorn in a subprocess (SQLite file in
a temporary directory, migrated), with P listed products (5,000 by default) written straight into
its catalog projection. Then:

1. top-trending read: for each level (10k, 100k, 1M, 10M stored events by default) generates the
   missing events straight into the database (the raw log and the per product per day aggregates,
   spread over 30 days), recomputes every product's score through the real trending code, then
   times ``GET /trending?limit=12`` (sequential requests, p50/p99); prints the ratio of each level's
   p50 to the first level's (C7: it must stay within 1.2).
2. ingestion (after the levels, so into a database holding the largest one): C concurrent
   clients (16) POST batches of B events (200; VIEW/CLICK/ADD_TO_CART of random products by
   random visitors) to ``/internal/engagement-events`` for D seconds; prints the
   HTTP-accepted events/s and latency, then waits until the service has written its buffer and
   prints the end-to-end recorded rate (accepted, throttled and written to the database);

    .venv/bin/python bench/engagement_trending.py
    .venv/bin/python bench/engagement_trending.py --levels 10000,100000,1000000 --duration 5

Everything it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
from benchkit import uvicorn_service, wait_ready

from engagement.app import MIGRATIONS
from engagement.trending import service as trending
from homecraft_shared.db import create_engine, create_sessionmaker, utcnow
from homecraft_shared.identity import Identity, IdentitySigner, generate_keypair
from homecraft_shared.migrations import upgrade_to_head
from homecraft_shared.testing.infra import NatsServer

KINDS = ("VIEW", "VIEW", "VIEW", "VIEW", "VIEW", "VIEW", "CLICK", "CLICK", "ADD_TO_CART")
DAY_COLUMN = {"VIEW": "views", "CLICK": "clicks", "ADD_TO_CART": "add_to_cart"}


def product_ids(count: int) -> list[str]:
    return [f"00000000-0000-4000-8000-{n:012d}" for n in range(count)]


def seed_products(db: Path, ids: list[str]) -> None:
    now = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO product_facts (product_id, seller_id, kind, category_id, title, is_listed, first_published_at, as_of)"
            " VALUES (?, ?, 'FILE', '1', ?, 1, ?, ?)",
            [(pid, f"seller-{n % 200}", f"Product {n}", now, now) for n, pid in enumerate(ids)],
        )


# --- the service ---------------------------------------------------------------------------------


@contextlib.contextmanager
def engagement_service(db: Path, nats_url: str, public_pem: str, workdir: Path) -> Iterator[str]:
    env = {
        "ENGAGEMENT_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "ENGAGEMENT_NATS_URL": nats_url,
        "ENGAGEMENT_IDENTITY_PUBLIC_KEY": public_pem,
        "ENGAGEMENT_LOG_LEVEL": "WARNING",
        "ENGAGEMENT_LOG_JSON": "false",
        "ENGAGEMENT_RUN_MIGRATIONS_ON_START": "false",
        # The bench recomputes scores itself, level by level; the loop would only race it.
        "ENGAGEMENT_TRENDING_INTERVAL_SECONDS": "3600",
    }
    with uvicorn_service("engagement", env, workdir) as base:
        yield base


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


# --- 1. ingestion ----------------------------------------------------------------------------------


async def ingestion(base: str, token: str, owner_token: str, ids: list[str], concurrency: int, batch: int,
                    duration: float) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    sent = errors = refused = 0
    async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        started = time.perf_counter()
        stop_at = started + duration

        async def client(index: int) -> None:
            nonlocal sent, errors, refused
            rng = random.Random(index)
            while time.perf_counter() < stop_at:
                events = [{"type": rng.choice(KINDS), "product_id": rng.choice(ids), "visitor": f"s{rng.randrange(50_000)}"}
                          for _ in range(batch)]
                t0 = time.perf_counter()
                async with session.post("/internal/engagement-events", json={"events": events}, headers=headers) as r:
                    body = await r.json()
                    if r.status == 202:
                        latencies.append(time.perf_counter() - t0)
                        sent += batch
                        refused += body["dropped"]  # the buffer was full: best effort (E1)
                    else:
                        errors += 1

        await asyncio.gather(*(client(i) for i in range(concurrency)))
        seconds = time.perf_counter() - started
        # Wait until the buffer is written, then read what the service did with the events.
        stats: dict[str, int] = {}
        while True:
            async with session.get("/internal/engagement-events/stats",
                                   headers={"Authorization": f"Bearer {owner_token}"}) as r:
                stats = await r.json()
            if stats["pending"] == 0:
                break
            await asyncio.sleep(0.1)
        drained = time.perf_counter() - started
    print(f"ingestion: {concurrency} clients x batches of {batch}, {duration:.0f}s")
    print(f"  HTTP accepted   {sent:>10,} events  {sent / seconds:>10,.0f} events/s  "
          f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms  p99 {percentile(latencies, 0.99) * 1000:.1f} ms  "
          f"errors {errors}; {refused:,} dropped by a full buffer")
    print(f"  written to DB   {stats['received']:>10,} events  {stats['received'] / drained:>10,.0f} events/s "
          f"end to end ({stats['batches']} batches; recorded {stats['recorded']:,}, throttled {stats['throttled']:,}, "
          f"dropped {stats['dropped_full'] + stats['dropped_failed']:,})", flush=True)


# --- 2. stored events and the top-trending read ---------------------------------------------------


def generate(db: Path, ids: list[str], count: int, rng: random.Random) -> float:
    """Add ``count`` events straight into the raw log and the daily aggregates; returns seconds."""
    t0 = time.perf_counter()
    today = utcnow().date()
    day_text = [(today - dt.timedelta(days=d)).isoformat() for d in range(30)]
    minutes = [f"{day_text[d]} {m // 60:02d}:{m % 60:02d}:00.000000" for d in range(30) for m in range(1440)]
    chunk = 500_000
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MB: the occurred_at index stays in memory
        done = 0
        while done < count:
            n = min(chunk, count - done)
            pids = rng.choices(ids, k=n)
            slots = rng.choices(range(30 * 1440), k=n)
            kinds = rng.choices(KINDS, k=n)
            rows = sorted(zip(pids, kinds, (minutes[s] for s in slots), strict=True), key=lambda r: r[2])
            conn.executemany("INSERT INTO engagement_events (product_id, kind, occurred_at) VALUES (?, ?, ?)", rows)
            totals = Counter(zip(pids, (s // 1440 for s in slots), kinds, strict=True))
            by_day: dict[tuple[str, int], dict[str, int]] = {}
            for (pid, d, kind), value in totals.items():
                by_day.setdefault((pid, d), {"views": 0, "clicks": 0, "add_to_cart": 0})[DAY_COLUMN[kind]] += value
            conn.executemany(
                "INSERT INTO product_days (product_id, day, views, clicks, add_to_cart, purchases, reviews, revenue_cents)"
                " VALUES (?, ?, ?, ?, ?, 0, 0, 0) ON CONFLICT (product_id, day) DO UPDATE SET"
                " views = views + excluded.views, clicks = clicks + excluded.clicks,"
                " add_to_cart = add_to_cart + excluded.add_to_cart",
                [(pid, day_text[d], c["views"], c["clicks"], c["add_to_cart"]) for (pid, d), c in by_day.items()],
            )
            conn.executemany("INSERT OR IGNORE INTO trending_dirty (product_id) VALUES (?)",
                             [(pid,) for pid in {pid for pid, _ in by_day}])
            conn.commit()
            done += n
    return time.perf_counter() - t0


async def recompute(db: Path) -> tuple[float, int]:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    t0 = time.perf_counter()
    try:
        async with create_sessionmaker(engine)() as session:
            published = await trending.refresh(session, utcnow(), max_per_event=1000)
            await session.commit()
    finally:
        await engine.dispose()
    return time.perf_counter() - t0, published


async def time_top(base: str, requests: int) -> tuple[float, float]:
    latencies = []
    async with aiohttp.ClientSession(base) as session:
        for _ in range(50):  # warm-up
            async with session.get("/trending?limit=12") as r:
                await r.read()
        for _ in range(requests):
            t0 = time.perf_counter()
            async with session.get("/trending?limit=12") as r:
                await r.read()
                assert r.status == 200
            latencies.append(time.perf_counter() - t0)
    return percentile(latencies, 0.5), percentile(latencies, 0.99)


def stored_events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM engagement_events").fetchone()[0])


async def run(args: argparse.Namespace, workdir: Path) -> int:
    db = workdir / "engagement.db"
    url = f"sqlite+aiosqlite:///{db}"
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS, url)
    ids = product_ids(args.products)
    seed_products(db, ids)
    private_pem, public_pem = generate_keypair()
    signer = IdentitySigner(private_pem, ttl=dt.timedelta(hours=2))
    token = signer.sign(Identity("gateway", "gateway", frozenset({"service"})))
    owner = signer.sign(Identity("bench-owner", "owner", frozenset({"owner"})))
    nats = NatsServer(workdir / "nats")
    nats.start()
    ratios_ok = True
    try:
        with engagement_service(db, nats.url, public_pem, workdir) as base:
            await asyncio.to_thread(wait_ready, base)
            print(f"engagement service at {base}; {args.products:,} listed products (SQLite)\n", flush=True)
            print(f"top-trending read (GET /trending?limit=12, {args.requests} sequential requests per level)")
            rng = random.Random(args.seed)
            first_p50: float | None = None
            for level in args.levels:
                missing = level - stored_events(db)
                gen = generate(db, ids, missing, rng) if missing > 0 else 0.0
                seconds, published = await recompute(db)
                p50, p99 = await time_top(base, args.requests)
                first_p50 = first_p50 or p50
                ratio = p50 / first_p50
                ratios_ok = ratios_ok and ratio <= 1.2
                print(f"  {stored_events(db):>12,} events  generated in {gen:>6.1f}s  recompute {seconds:>5.2f}s "
                      f"({published:,} scores changed)  read p50 {p50 * 1000:6.2f} ms  p99 {p99 * 1000:6.2f} ms  "
                      f"p50 / first level {ratio:4.2f}", flush=True)
            print()
            await ingestion(base, token, owner, ids, args.concurrency, args.batch, args.duration)
    finally:
        nats.stop()
    print("\nread at the largest level within 1.2 x the smallest:", "yes" if ratios_ok else "NO")
    return 0 if ratios_ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=5_000, help="listed products (default 5000)")
    parser.add_argument("--concurrency", type=int, default=16, help="ingestion clients (default 16)")
    parser.add_argument("--batch", type=int, default=200, help="events per ingestion call (default 200)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of ingestion (default 10)")
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")],
                        default=[10_000, 100_000, 1_000_000, 10_000_000], help="stored event counts (comma-separated)")
    parser.add_argument("--requests", type=int, default=1000, help="top-trending reads per level (default 1000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None, help="keep the database and logs in this new directory")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True)
        return asyncio.run(run(args, args.keep.resolve()))
    with tempfile.TemporaryDirectory(prefix="bench-engagement-") as workdir:
        return asyncio.run(run(args, Path(workdir)))


if __name__ == "__main__":
    sys.exit(main())

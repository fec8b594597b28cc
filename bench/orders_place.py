"""Benchmark the orders service: placing orders with the catalog answering over real HTTP, against the
same database's single-row commit rate; and the operator's reconciliation list at 100,000 orders.

Starts a nats-server, the seeded catalog and the orders service as real processes (each its own
database), then:

1. places N orders over HTTP with C concurrent clients (each: one catalog lookup over HTTP, the O2
   snapshot, order + lines + timeline in one transaction) and prints orders/s;
2. measures, on the orders database with the same driver (SQLAlchemy async), how many single-row
   INSERT transactions per second C concurrent writers commit, and prints the ratio of (1) to it;
   (1) and (2) alternate in ``--rounds`` rounds, so both are measured under the same minutes' load;
3. loads 100,000 orders (bulk, with lines and flags as the service stores them) and times the
   reconciliation list (``GET /ops/orders``, A1) with and without filters: p50/p99.

    .venv/bin/python bench/orders_place.py                 # SQLite files (the embedded default)
    .venv/bin/python bench/orders_place.py --postgres      # a throwaway PostgreSQL 15 cluster
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import aiohttp
import httpx
import sqlalchemy as sa
from benchkit import commit_rate, wait_ready

from homecraft_shared.db import create_engine, utcnow
from homecraft_shared.identity import Identity, IdentitySigner, ServiceSigner, generate_keypair
from homecraft_shared.testing.infra import NatsServer, PostgresCluster, free_port

RECON_ORDERS = 100_000


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) a process has used so far: this one, or a child by pid (Linux /proc)."""
    if pid is None:
        usage = os.times()
        return usage.user + usage.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(run: Callable[[], float], processes: dict[str, int | None], operations: int) -> tuple[float, str]:
    """``run()``'s rate, and each process's CPU milliseconds per operation meanwhile (where the time goes)."""
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    load = os.getloadavg()[0]
    rate = run()
    cpu = ", ".join(f"{name} {1000 * (cpu_seconds(pid) - before[name]) / operations:.2f}" for name, pid in processes.items())
    return rate, f"CPU ms per operation: {cpu}; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after"


class Tally:
    """Rounds of one measurement: operations, seconds, each process's CPU and the load average meanwhile."""

    def __init__(self, processes: dict[str, int | None]) -> None:
        self.processes = processes
        self.operations = 0
        self.seconds = 0.0
        self.cpu_seconds = dict.fromkeys(processes, 0.0)
        self.rates: list[float] = []
        self.loads: list[float] = []

    def run(self, measure: Callable[[int], float], operations: int) -> None:
        """``measure(n)`` performs n operations and answers its rate (operations per second)."""
        before = {name: cpu_seconds(pid) for name, pid in self.processes.items()}
        self.loads.append(os.getloadavg()[0])
        rate = measure(operations)
        for name, pid in self.processes.items():
            self.cpu_seconds[name] += cpu_seconds(pid) - before[name]
        self.loads.append(os.getloadavg()[0])
        self.rates.append(rate)
        self.operations += operations
        self.seconds += operations / rate

    def rate(self) -> float:
        return self.operations / self.seconds

    def cpu(self) -> str:
        cpu = ", ".join(f"{name} {1000 * used / self.operations:.2f}" for name, used in self.cpu_seconds.items())
        return f"CPU ms per operation: {cpu}; load average {min(self.loads):.1f}-{max(self.loads):.1f}"


def start(module: str, env: dict[str, str], port: int, work: Path) -> subprocess.Popen[bytes]:
    log = work / f"{module}.log"
    process = subprocess.Popen([sys.executable, "-m", module, "serve", "--port", str(port)], env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    wait_ready(f"http://127.0.0.1:{port}", process, log)
    title = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).json()["info"]["title"]
    if process.poll() is not None or title != f"Home Craft 3D {module}":
        raise SystemExit(f"port {port} is answered by {title!r}, not {module} (a port clash); run again")
    return process


async def place_orders(url: str, products: list[dict], count: int, concurrency: int, token: str,
                       warm_up: bool = True) -> float:
    # A plain aiohttp client (keep-alive, one connection per worker): the client's own CPU is not the
    # system under test, and it shares the machine's two cores with orders and catalog (decision 0204).
    async with aiohttp.ClientSession(base_url=url, timeout=aiohttp.ClientTimeout(total=30),
                                     connector=aiohttp.TCPConnector(limit=concurrency)) as client:
        queue = list(range(count))
        authorization = f"Bearer {token}"

        async def place(lines: list[dict]) -> None:
            async with client.post("/orders", json={"lines": [{"product_id": p["id"], "quantity": 1} for p in lines]},
                                   headers={"Idempotency-Key": uuid.uuid4().hex, "Authorization": authorization}) as response:
                body = await response.read()
                assert response.status == 201, body

        async def worker(n: int) -> None:
            rnd = random.Random(n)
            while queue:
                queue.pop()
                await place(rnd.sample(products, k=rnd.randint(1, 3)))

        # Warm up (connections, caches): one placement alone, then one per client; then measure.
        if warm_up:
            await place(products[:1])
            await asyncio.gather(*(place(products[:1]) for _ in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        return count / (time.perf_counter() - started) if count else 0.0


async def lookup_rate(catalog_url: str, product_ids: list[str], count: int, concurrency: int,
                      signer: ServiceSigner) -> float:
    """The catalog's own lookup rate (the call every placement makes): the ceiling placing runs into."""
    async with aiohttp.ClientSession(base_url=catalog_url, timeout=aiohttp.ClientTimeout(total=30),
                                     headers=signer.authorization(),
                                     connector=aiohttp.TCPConnector(limit=concurrency)) as client:
        queue = list(range(count))

        async def worker() -> None:
            while queue:
                queue.pop()
                async with client.post("/internal/products/lookup", json={"product_ids": product_ids}) as response:
                    body = await response.read()
                    assert response.status == 200, body

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


async def load_orders(database_url: str, total: int) -> None:
    """100,000 orders as the service stores them (flags computed like orders.lifecycle.refresh_flags)."""
    from orders import domain
    from orders.models import Order, OrderLine

    engine = create_engine(database_url)
    rnd = random.Random(7)
    now = utcnow()
    batch_orders: list[dict] = []
    batch_lines: list[dict] = []
    for i in range(total):
        order_id = str(uuid.uuid4())
        paid = rnd.random() < 0.7
        guest = rnd.random() < 0.3
        items = [domain.PricedItem(str(uuid.uuid4()), f"seller-{rnd.randint(1, 200)}", "bench", rnd.random() < 0.5,
                                   rnd.randint(100, 10_000), rnd.randint(1, 3)) for _ in range(rnd.randint(1, 3))]
        money = domain.snapshot(items, Decimal(10))
        flags = domain.reconcile(paid=paid, free=False, percent=money.percent, subtotal_cents=money.subtotal_cents,
                                 has_stripe_ids=paid and rnd.random() > 0.01,
                                 lines=[domain.LineFacts(m.seller_id, m.gross_cents, m.fee_cents, m.net_cents) for m in money.lines],
                                 payouts=[])
        created = now.replace(microsecond=0) - dt.timedelta(seconds=total - i)
        batch_orders.append(dict(
            id=order_id, buyer_id=None if guest else f"buyer-{rnd.randint(1, 5000)}",
            guest_email=f"g{i}@example.com" if guest else None, access_token=None, placement_key=uuid.uuid4().hex,
            status="paid" if paid else "pending", kind=money.kind.value, currency="usd",
            subtotal_cents=money.subtotal_cents, tax_cents=0, shipping_cents=0, total_cents=money.total_cents,
            marketplace_percent=money.percent, payment_method="stripe" if paid else None,
            stripe_session_id="cs" if paid else None, stripe_payment_intent_id="pi" if paid else None,
            stripe_charge_id=None, shipping=None, refunded_cents=0, created_at=created, updated_at=created,
            paid_at=created if paid else None, canceled_at=None, refunded_at=None,
            has_shipping=any(m.requires_shipping for m in money.lines), has_digital=any(m.is_digital for m in money.lines),
            flag_totals_mismatch=False, flag_ledger_mismatch=False, flag_missing_stripe_ids=flags.missing_stripe_ids,
            flag_no_transfer=flags.no_transfer and rnd.random() < 0.05, flag_skipped_unready=rnd.random() < 0.02,
            payout_state=flags.payout_state.value if not paid or rnd.random() < 0.05 else "paid_out"))
        for position, m in enumerate(money.lines):
            batch_lines.append(dict(id=str(uuid.uuid4()), order_id=order_id, position=position, product_id=m.product_id,
                                    seller_id=m.seller_id, title=m.title, kind=m.kind, is_digital=m.is_digital,
                                    requires_shipping=m.requires_shipping, quantity=m.quantity,
                                    unit_price_cents=m.unit_price_cents, gross_cents=m.gross_cents,
                                    fee_cents=m.fee_cents, net_cents=m.net_cents, refunded_at=None))
        if len(batch_orders) >= 5000 or i == total - 1:
            async with engine.begin() as connection:
                await connection.execute(sa.insert(Order.__table__), batch_orders)
                await connection.execute(sa.insert(OrderLine.__table__), batch_lines)
            batch_orders.clear()
            batch_lines.clear()
    async with engine.begin() as connection:
        await connection.execute(sa.text("ANALYZE"))
    await engine.dispose()


async def time_recon(url: str, token: str, requests: int) -> dict[str, tuple[float, float]]:
    filters: dict[str, dict] = {
        "no filter": {},
        "paid": {"paid": "true"},
        "guest + digital only": {"buyer_type": "guest", "mix": "digital_only"},
        "flag missing_stripe_ids": {"flag": "missing_stripe_ids"},
        "flag skipped_unready": {"flag": "skipped_unready"},
        "payout pending": {"payout_state": "pending"},
    }
    results = {}
    async with httpx.AsyncClient(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        for name, params in filters.items():
            timings = []
            for n in range(requests):
                started = time.perf_counter()
                response = await client.get("/ops/orders", params={**params, "page": 1 + n % 5, "page_size": 50})
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
            timings.sort()
            results[name] = (statistics.median(timings), timings[int(len(timings) * 0.99) - 1])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate placing and the commit baseline this many times (each a share of the counts)")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--recon-orders", type=int, default=RECON_ORDERS)
    parser.add_argument("--recon-requests", type=int, default=100)
    args = parser.parse_args()
    gateway_private, gateway_public = generate_keypair()
    orders_private, orders_public = generate_keypair()  # orders' own identity (decision 0201)
    buyer = IdentitySigner(gateway_private, ttl=dt.timedelta(hours=1)).sign(
        Identity("bench-buyer", "bench", frozenset()))
    owner = IdentitySigner(gateway_private, ttl=dt.timedelta(hours=1)).sign(
        Identity("bench-owner", "boss", frozenset({"owner"})))
    with tempfile.TemporaryDirectory(prefix="orders-bench-") as tmp:
        work = Path(tmp)
        nats = NatsServer(work / "nats")
        nats.start()
        cluster = None
        processes: list[subprocess.Popen[bytes]] = []
        try:
            if args.postgres:
                cluster = PostgresCluster(work / "pg")
                cluster.start()
                import asyncpg

                async def create() -> None:
                    connection = await asyncpg.connect(cluster.admin_url().replace("postgresql+asyncpg://", "postgresql://"))
                    await connection.execute('CREATE DATABASE "orders_bench"')
                    await connection.close()

                asyncio.run(create())
                orders_db = cluster.admin_url("orders_bench")
            else:
                orders_db = f"sqlite+aiosqlite:///{work / 'orders.db'}"
            catalog_port, orders_port = free_port(), free_port()
            base = {**os.environ, "PYTHONUNBUFFERED": "1"}
            catalog_env = {**base, "CATALOG_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'catalog.db'}",
                           "CATALOG_NATS_URL": nats.url, "CATALOG_IDENTITY_PUBLIC_KEY": gateway_public,
                           "CATALOG_MEDIA_ROOT": str(work / "media"), "CATALOG_LOG_LEVEL": "WARNING",
                           "CATALOG_TRUSTED_SERVICE_KEYS": json.dumps({"orders": orders_public})}
            subprocess.run([sys.executable, "-m", "catalog", "seed"], env=catalog_env, check=True, capture_output=True)
            processes.append(start("catalog", catalog_env, catalog_port, work))
            orders_env = {**base, "ORDERS_DATABASE_URL": orders_db, "ORDERS_NATS_URL": nats.url,
                          "ORDERS_IDENTITY_PUBLIC_KEY": gateway_public, "ORDERS_LOG_LEVEL": "WARNING",
                          "ORDERS_SERVICE_PRIVATE_KEY": orders_private,
                          "ORDERS_CATALOG_URL": f"http://127.0.0.1:{catalog_port}", "ORDERS_SMTP_PORT": str(free_port())}
            processes.append(start("orders", orders_env, orders_port, work))
            orders_url = f"http://127.0.0.1:{orders_port}"
            products = [p for p in httpx.get(f"http://127.0.0.1:{catalog_port}/browse", params={"page_size": 48}).json()["items"]
                        if p["can_buy"] and p["price_cents"] > 0]
            catalog_pid, orders_pid = processes[0].pid, processes[1].pid
            lookups, lookups_cpu = measured(lambda: asyncio.run(lookup_rate(
                f"http://127.0.0.1:{catalog_port}", [p["id"] for p in products[:2]], args.orders, args.concurrency,
                ServiceSigner("orders", orders_private))), {"bench client": None, "catalog": catalog_pid}, args.orders)
            # Like with like: the same database file, the same driver and engine set-up (homecraft_shared.db:
            # same PRAGMAs, journal_mode=WAL and synchronous=FULL on SQLite), the same number of concurrent
            # writers, each transaction committed on its own. Placing and this baseline are measured in
            # alternating rounds, so both see the load of the same minutes on a shared machine (decision
            # 0205); each rate is its operations over its time, summed over the rounds.
            count = max(args.orders, 1000)
            placing = Tally({"bench client": None, "orders": orders_pid, "catalog": catalog_pid})
            committing = Tally({"bench client": None})
            asyncio.run(place_orders(orders_url, products, 0, args.concurrency, buyer))  # warm up, not measured
            for _ in range(args.rounds):
                placing.run(lambda n: asyncio.run(place_orders(orders_url, products, n, args.concurrency, buyer,
                                                               warm_up=False)), args.orders // args.rounds)
                committing.run(lambda n: asyncio.run(commit_rate(orders_db, n, args.concurrency)), count // args.rounds)
            placed, commits = placing.rate(), committing.rate()
            backend = "PostgreSQL" if args.postgres else "SQLite"
            print(f"orders placed:        {placed:8.1f} orders/s  ({placing.operations} orders, {args.concurrency} clients, "
                  f"catalog lookup over HTTP, {backend})")
            print(f"                      {placing.cpu()}")
            print(f"single-row commits:   {commits:8.1f} commits/s (same database and driver, {args.concurrency} writers)")
            print(f"                      {committing.cpu()}")
            print(f"ratio:                {placed / commits:8.2f}  (target >= 0.5; {args.rounds} alternating rounds, "
                  "each round's ratio: " + " ".join(f"{p / c:.2f}" for p, c in zip(placing.rates, committing.rates,
                                                                                     strict=True)) + ")")
            print(f"catalog lookups alone:{lookups:8.1f} lookups/s (POST /internal/products/lookup over HTTP, the "
                  "synchronous call every placement makes)")
            print(f"                      {lookups_cpu}")
            print(f"machine: {os.cpu_count()} CPUs shared by the bench client, orders and catalog")
            started = time.perf_counter()
            asyncio.run(load_orders(orders_db, args.recon_orders))
            print(f"loaded {args.recon_orders:,} orders for the reconciliation list in {time.perf_counter() - started:.1f}s")
            for name, (p50, p99) in asyncio.run(time_recon(orders_url, owner, args.recon_requests)).items():
                print(f"reconciliation list, {name:<26} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
        except BaseException:
            for log in sorted(work.glob("*.log")):
                print(f"--- {log.name} (last lines)\n{log.read_text()[-4000:]}", file=sys.stderr)
            raise
        finally:
            for process in processes:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
            if cluster is not None:
                cluster.stop()
            nats.stop()


if __name__ == "__main__":
    main()

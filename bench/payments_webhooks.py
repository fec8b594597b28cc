"""Benchmark payments' webhook path: signed Stripe webhooks processed per second end to end, with
p50/p99 latency at half of that load, beside the same database's single-row commit rate.

Starts a nats-server and the payments service as a real process (its own database), loads N paid
orders into its ``order.paid`` projection (two sellers each), then sends one signed ``refund.created``
webhook per order (signed as Stripe signs, with the platform secret) over HTTP. End to end means:
the webhook verified and stored (answered 2xx), its fact published to JetStream, consumed,
and the refund's ledger movement, entries, balances and ``payment.refunded`` committed (the relay publishes
that event from the outbox after the commit; the bench listens for it on JetStream instead of polling).

1. flat out: N webhooks from C concurrent senders (aiohttp); webhooks/s = N / (first send -> the last commit
   holding a refund's ledger entries and ``payment.refunded`` outbox row, by PostgreSQL's commit timestamp; on
   SQLite, -> the last ``payment.refunded`` received);
2. paced at half that rate (open loop) for about 10 s: latency per webhook = send -> the commit of the
   transaction holding its ledger entries and ``payment.refunded`` outbox row (PostgreSQL's commit timestamp:
   the issue's end point, decision 0320), and send -> that ``payment.refunded`` received from JetStream by
   this bench (published by the relay after that commit; on SQLite, which keeps no commit time, the only
   figure), p50/p99 (sent on aiohttp, up to 64 connections: decision 0311);
3. the same database, same driver: single-row INSERT transactions per second with C writers, right before
   and right after the flat-out run (their mean is the ratio's denominator), and single-row transactions
   alone at the paced rate, each one's latency (the floor under the paced p99).

    .venv/bin/python bench/payments_webhooks.py              # SQLite file (the embedded default)
    .venv/bin/python bench/payments_webhooks.py --postgres   # a throwaway PostgreSQL 15 cluster, fsync on
    .venv/bin/python bench/payments_webhooks.py --postgres --pg-fsync-off   # as the test suites run it

Targets (issue 12): webhooks/s >= 0.3 x the commit rate; p99 <= 200 ms at half load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import nats
import nats.aio.msg
import sqlalchemy as sa
from benchkit import CpuBudget, DiskStalls, commit_rate, paced_commit_latencies, wait_ready

from homecraft_shared.db import create_engine, utcnow
from homecraft_shared.identity import generate_keypair
from homecraft_shared.messaging.envelope import subject_for
from homecraft_shared.sqlite_checkpoint import WalIndex
from homecraft_shared.testing.infra import NatsServer, PostgresCluster, free_port

SECRET = "whsec_bench_platform"


def sign(payload: bytes) -> str:
    timestamp = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def refund_event(index: int, run: str) -> tuple[str, bytes]:
    event_id = f"evt_{run}_{index}"
    event = {
        "id": event_id, "object": "event", "type": "refund.created", "created": int(time.time()), "livemode": False,
        "api_version": "2026-10-28.endive", "pending_webhooks": 1,
        "data": {"object": {
            "id": f"re_{run}_{index}", "object": "refund", "amount": 1500, "currency": "usd", "status": "succeeded",
            "payment_intent": f"pi_bench_{index}", "charge": f"ch_bench_{index}",
            "metadata": {"order_id": f"bench-{index}"}}},
    }
    return event_id, json.dumps(event).encode()


async def load_orders(database_url: str, count: int) -> None:
    """Paid orders as the order.paid projection stores them: two sellers, 10 % fee."""
    from payments.models import PaidOrder, PaidOrderLine

    engine = create_engine(database_url)
    now = utcnow()
    orders, lines = [], []
    for i in range(count):
        orders.append(dict(order_id=f"bench-{i}", buyer_id="buyer", currency="usd", subtotal_cents=5000, tax_cents=0,
                           shipping_cents=0, total_cents=5000, marketplace_percent="10.00", payment_method="stripe",
                           checkout_session_id=f"cs_bench_{i}", payment_intent_id=f"pi_bench_{i}",
                           charge_id=f"ch_bench_{i}", paid_at=now, projected_at=now, refunded_cause=None))
        for position, (seller, gross) in enumerate((("seller-a", 2000), ("seller-b", 3000))):
            lines.append(dict(line_id=f"bench-{i}-{position}", order_id=f"bench-{i}", position=position, seller_id=seller,
                              product_id=f"p-{position}", title="Bench model", quantity=1, gross_cents=gross,
                              fee_cents=gross // 10, net_cents=gross - gross // 10))
    async with engine.begin() as connection:
        await connection.execute(sa.insert(PaidOrder.__table__), orders)
        await connection.execute(sa.insert(PaidOrderLine.__table__), lines)
    await engine.dispose()


async def processed_times(database_url: str, ids: list[str]) -> dict[str, float]:
    from payments.models import StripeEvent

    engine = create_engine(database_url)
    async with engine.connect() as connection:
        rows = (await connection.execute(sa.select(StripeEvent.event_id, StripeEvent.processed_at)
                                         .where(StripeEvent.event_id.in_(ids), StripeEvent.status == "processed"))).all()
    await engine.dispose()
    return {event_id: at.replace(tzinfo=dt.UTC).timestamp() if at.tzinfo is None else at.timestamp()
            for event_id, at in rows}


async def committed_times(database_url: str, refund_ids: list[str]) -> dict[str, float] | None:
    """When the transaction holding each refund's ledger movement committed (epoch seconds, by refund id), read
    from PostgreSQL's own commit timestamps (``track_commit_timestamp``, set on the bench's cluster): the end
    point issue 12 names ("ledger entries and events committed"). None on SQLite, which keeps no such time."""
    if not database_url.startswith("postgresql"):
        return None
    from payments.models import LedgerMovement

    engine = create_engine(database_url)
    async with engine.connect() as connection:
        committed_at = sa.func.pg_xact_commit_timestamp(sa.literal_column("xmin"))
        rows = (await connection.execute(sa.select(LedgerMovement.stripe_object_id, committed_at)
                                         .where(LedgerMovement.stripe_object_id.in_(refund_ids)))).all()
    await engine.dispose()
    return {refund_id: at.timestamp() for refund_id, at in rows}


async def all_published(published: dict[str, float], refund_ids: list[str], within: float = 300) -> None:
    """Until every one of these refunds' ``payment.refunded`` reached this process (``published_events``).
    Listening costs the machine next to nothing; polling the database for 2,000 ids every 50 ms took as
    much CPU as a third of the payments process's (decision 0315)."""
    deadline = time.monotonic() + within
    while any(refund_id not in published for refund_id in refund_ids):
        if time.monotonic() > deadline:
            missing = [refund_id for refund_id in refund_ids if refund_id not in published]
            raise SystemExit(f"{len(missing)} of {len(refund_ids)} payment.refunded events never arrived, e.g. {missing[0]}")
        await asyncio.sleep(0.05)


def refund_of(event_id: str) -> str:
    return "re_" + event_id.removeprefix("evt_")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


async def flat_out(urls: list[str], database_url: str, nats_url: str, indexes: range, concurrency: int,
                   client: str = "aiohttp") -> float:
    """N webhooks from ``concurrency`` senders (aiohttp by default); webhooks/s = N / (first send -> the last commit
    holding a refund's ledger entries, on PostgreSQL; on SQLite -> the last ``payment.refunded`` received, which the
    relay publishes after that commit). The bench listens for those events to know when all are in.
    (On httpx, the senders took ~5 ms of this machine's CPU per webhook, almost as much as the payments
    process: decision 0315.)"""
    run = uuid.uuid4().hex[:8]
    events = [refund_event(i, run) for i in indexes]
    queue = list(reversed(events))
    async with published_events(nats_url, with_relayed=False) as (published, _), \
            webhook_sender(urls, client, concurrency) as post:
        async def sender() -> None:
            while queue:
                _, payload = queue.pop()
                status, text = await post(payload)
                assert status == 200, text

        started = time.time()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        intake = time.time() - started
        refunds = [refund_of(event_id) for event_id, _ in events]
        await all_published(published, refunds)
        published_after = max(published[refund_id] for refund_id in refunds) - started
    done = await processed_times(database_url, [event_id for event_id, _ in events])
    if len(done) != len(events):
        raise SystemExit(f"{len(events) - len(done)} webhooks published their refund but are not marked processed")
    commits = await committed_times(database_url, refunds)
    # SQLite keeps no commit time: the later point stands in
    elapsed = published_after if commits is None else max(commits.values()) - started
    committed = "" if commits is None else f"all committed after {elapsed:.2f}s, "
    print(f"  {len(events)} webhooks: all answered (stored) after {intake:.2f}s, {committed}all processed and published "
          f"after {published_after:.2f}s")
    return len(events) / elapsed


class LoopLag:
    """The bench's own event loop lag while it sends (a stalled sender, e.g. starved of CPU by the other
    processes on the machine, inflates the latencies it measures: decision 0309)."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + 0.01
            await asyncio.sleep(0.01)
            self.lags.append((loop.time() - expected) * 1000)

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    def stop(self) -> str:
        if self._task is not None:
            self._task.cancel()
        worst = max(self.lags, default=0.0)
        return f"max {worst:.0f} ms, {sum(lag > 100 for lag in self.lags)} lags over 100 ms"


Post = Callable[[bytes], Awaitable[tuple[int, str]]]


@contextlib.asynccontextmanager
async def webhook_sender(urls: list[str], client: str, connections: int) -> AsyncIterator[Post]:
    """POST one signed webhook, on aiohttp (the default) or httpx, with at most ``connections`` open; to the
    payments replicas in turn when there are several (as a load balancer in front of them would)."""
    async with contextlib.AsyncExitStack() as stack:
        posts = [await stack.enter_async_context(_one_sender(url, client, max(1, connections // len(urls))))
                 for url in urls]
        turn = itertools.cycle(posts)
        yield lambda payload: next(turn)(payload)


@contextlib.asynccontextmanager
async def _one_sender(url: str, client: str, connections: int) -> AsyncIterator[Post]:
    if client == "aiohttp":
        async with aiohttp.ClientSession(base_url=url, timeout=aiohttp.ClientTimeout(total=30),
                                         connector=aiohttp.TCPConnector(limit=connections)) as session:
            async def post_aiohttp(payload: bytes) -> tuple[int, str]:
                async with session.post("/webhooks/stripe", data=payload,
                                        headers={"Stripe-Signature": sign(payload)}) as response:
                    return response.status, await response.text()

            yield post_aiohttp
        return
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=connections)) as httpx_client:
        async def post_httpx(payload: bytes) -> tuple[int, str]:
            response = await httpx_client.post("/webhooks/stripe", content=payload,
                                               headers={"Stripe-Signature": sign(payload)})
            return response.status_code, response.text

        yield post_httpx


@dataclass(frozen=True)
class Paced:
    """The paced phase's figures (ms): send -> committed (PostgreSQL only), send -> published, send -> 2xx,
    send -> the handler's stamp."""

    committed_p50: float | None
    committed_p99: float | None
    p50: float
    p99: float
    count: int
    answer_p50: float
    answer_p99: float
    stamped_p50: float
    stamped_p99: float
    sender_lag: str
    disk: str


@contextlib.asynccontextmanager
async def published_events(nats_url: str, with_relayed: bool) -> AsyncIterator[tuple[dict[str, float], dict[str, float]]]:
    """When each ``payment.refunded`` reached this process (epoch seconds, by refund id): the relay publishes
    it only after the consumer's transaction with the ledger entries committed, so it bounds the commit
    from above (``processed_at`` is stamped by the handler, before its batch's commit). And when each stored
    webhook's ``stripe.event_received`` did (by Stripe event id), when ``with_relayed``: where the relay's hop
    ends (``--dump``)."""
    refunded: dict[str, float] = {}
    relayed: dict[str, float] = {}

    async def record(message: nats.aio.msg.Msg) -> None:
        data = json.loads(message.data)["data"]
        if "refund_id" in data:
            refunded.setdefault(data["refund_id"], time.time())
        else:
            relayed.setdefault(data["stripe_event_id"], time.time())

    connection = await nats.connect(nats_url)
    await connection.subscribe(subject_for("payment.refunded", 1), cb=record)
    if with_relayed:  # only for --dump: one more message per webhook to this process, which shares the machine's CPU
        await connection.subscribe(subject_for("stripe.event_received", 1), cb=record)
    try:
        yield refunded, relayed
    finally:
        await connection.drain()


async def paced(urls: list[str], database_url: str, nats_url: str, indexes: range, rate: float, disk: DiskStalls,
                dump: Path | None = None, client: str = "httpx") -> Paced:
    run = uuid.uuid4().hex[:8]
    events = [refund_event(i, run) for i in indexes]
    sent_at: dict[str, float] = {}
    answered_at: dict[str, float] = {}
    answered: list[float] = []
    async with published_events(nats_url, with_relayed=dump is not None) as (published, relayed), webhook_sender(urls, client, 64) as post:
        async def send(event_id: str, payload: bytes) -> None:
            sent_at[event_id] = time.time()
            status, text = await post(payload)
            answered_at[event_id] = time.time()
            answered.append((answered_at[event_id] - sent_at[event_id]) * 1000)
            assert status == 200, text

        tasks = []
        lag = LoopLag()
        lag.start()
        start = time.perf_counter()
        for n, (event_id, payload) in enumerate(events):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(event_id, payload)))
        await asyncio.gather(*tasks)
        lag_text = lag.stop()
        await all_published(published, [refund_of(event_id) for event_id in sent_at])
    done = await processed_times(database_url, list(sent_at))
    commits = await committed_times(database_url, [refund_of(event_id) for event_id in sent_at])
    to_commit = None if commits is None else sorted((commits[refund_of(event_id)] - sent_at[event_id]) * 1000
                                                    for event_id in sent_at)
    if dump is not None:  # per webhook: sent, answered (2xx), relayed, stamped processed, published (epoch seconds)
        lines = "".join(json.dumps({"event": event_id, "sent": sent_at[event_id], "answered": answered_at[event_id],
                                    "relayed": relayed.get(event_id), "processed": done[event_id],
                                    "published": published[refund_of(event_id)]}) + "\n"
                        for event_id in sent_at)
        await asyncio.to_thread(dump.write_text, lines)
    latencies = sorted((published[refund_of(event_id)] - sent_at[event_id]) * 1000 for event_id in sent_at)
    slowest = sorted(sent_at, key=lambda event_id: published[refund_of(event_id)] - sent_at[event_id])
    slowest = slowest[len(slowest) - max(1, len(slowest) // 100):]
    during_stalls = sum(disk.overlaps(sent_at[event_id], published[refund_of(event_id)]) for event_id in slowest)
    stamped = sorted((done[event_id] - sent_at[event_id]) * 1000 for event_id in sent_at)
    answered.sort()
    return Paced(None if to_commit is None else statistics.median(to_commit),
                 None if to_commit is None else percentile99(to_commit),
                 statistics.median(latencies), percentile99(latencies), len(latencies), statistics.median(answered),
                 percentile99(answered), statistics.median(stamped), percentile99(stamped), lag_text,
                 f"{disk.summary()}; {during_stalls} of the slowest {len(slowest)} webhooks were under way during one")


def percentile99(ordered: list[float]) -> float:
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


class WalWatch:
    """How long the payments database's WAL grew (frames, from its wal-index header) and how often it was
    started again from its beginning, sampled every 10 ms from this process (decision 0310). ``database``
    None: not SQLite, nothing watched."""

    def __init__(self, database: str | None) -> None:
        self.database = database
        self.index: WalIndex | None = None
        self.longest = 0
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        last = 0
        assert self.index is not None
        while not self._stop.wait(0.01):
            frames = self.index.frames()
            if frames is None:
                continue
            if frames[0] < last:
                self.restarts += 1
            last = frames[0]
            self.longest = max(self.longest, last)

    def __enter__(self) -> WalWatch:
        # Opened once and closed after the runs: closing it releases this process's SQLite locks on the
        # -shm file (WalIndex), and the runs' engines are all disposed by then.
        if self.database is not None:
            self.index = WalIndex(self.database)
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self.index is not None:
            self._thread.join()
            self.index.close()


def checkpoint_counters(url: str) -> str:
    """The payments process's background checkpoints and pages (``/metrics``), as "N checkpoints, M pages"."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    values = {line.split("{", 1)[0]: line.rsplit(" ", 1)[1] for line in text.splitlines()
              if line.startswith("homecraft_sqlite_checkpoint")}
    return (f"{values.get('homecraft_sqlite_checkpoints_total', 'none')} checkpoints, "
            f"{values.get('homecraft_sqlite_checkpointed_pages_total', 'none')} pages")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    parser.add_argument("--paced-rate", type=float, help="pace at this rate instead of half the flat-out rate "
                                                         "(to compare latency of two versions at one rate)")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--pg-fsync-off", action="store_true", help="PostgreSQL with fsync=off, as the test suites "
                        "run it (default: fsync on, as in production)")
    parser.add_argument("--keep-log", type=Path, help="copy the payments process's log here")
    # aiohttp by default: httpx's pool turned the server's sub-second stalls into seconds-long backlogs of
    # its own in 3 of 7 runs, aiohttp in none (decision 0311); and it costs this machine's CPU much less (0315).
    parser.add_argument("--flat-client", choices=("httpx", "aiohttp"), default="aiohttp",
                        help="the HTTP client of the flat-out phase (httpx: to compare with earlier figures)")
    parser.add_argument("--paced-client", choices=("httpx", "aiohttp"), default="aiohttp",
                        help="the HTTP client of the paced phase (httpx: to compare with earlier figures)")
    parser.add_argument("--dump", type=Path, help="write each paced webhook's send, 2xx and processed times here "
                                                   "(JSON lines), to see how a tail is spread over the run")
    parser.add_argument("--replicas", type=int, default=1, help="run this many payments processes on the one "
                        "database (as replicas behind a load balancer: the senders take them in turn)")
    parser.add_argument("--log-level", default="WARNING", help="the payments process's log level (default WARNING)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="payments-bench-") as tmp:
        work = Path(tmp)
        nats = NatsServer(work / "nats")
        nats.start()
        cluster = None
        processes: list[subprocess.Popen[bytes]] = []
        try:
            if args.postgres:
                # Durable, as in production (every commit flushed), like SQLite's synchronous=FULL here;
                # --pg-fsync-off is the test suites' setting (decision 0314).
                cluster = PostgresCluster(work / "pg", durable=not args.pg_fsync_off,
                                          settings={"track_commit_timestamp": "on"})  # committed_times
                cluster.start()
                import asyncpg

                async def create() -> None:
                    connection = await asyncpg.connect(cluster.admin_url().replace("postgresql+asyncpg://", "postgresql://"))
                    await connection.execute('CREATE DATABASE "payments_bench"')
                    await connection.close()

                asyncio.run(create())
                database_url = cluster.admin_url("payments_bench")
            else:
                database_url = f"sqlite+aiosqlite:///{work / 'payments.db'}"
            env = {**os.environ, "PYTHONUNBUFFERED": "1", "PAYMENTS_DATABASE_URL": database_url,
                   "PAYMENTS_NATS_URL": nats.url, "PAYMENTS_IDENTITY_PUBLIC_KEY": generate_keypair()[1],
                   "PAYMENTS_STRIPE_WEBHOOK_SECRET": SECRET, "PAYMENTS_LOG_LEVEL": args.log_level,
                   "PAYMENTS_STRIPE_API_BASE": "http://127.0.0.1:9"}
            subprocess.run([sys.executable, "-m", "payments", "migrate"], env=env, check=True, capture_output=True)
            paced_count = 4000
            asyncio.run(load_orders(database_url, args.webhooks + paced_count))
            urls = []
            for replica in range(args.replicas):  # one after another: the first one's start creates the streams
                log = work / f"payments-{replica}.log"
                port = free_port()
                processes.append(subprocess.Popen([sys.executable, "-m", "payments", "serve", "--port", str(port)],
                                                  env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT))
                urls.append(f"http://127.0.0.1:{port}")
                wait_ready(urls[-1], processes[-1], log)
            asyncio.run(flat_out(urls, database_url, nats.url, range(0, 50), 4))  # warm-up (connections, streams, consumers)
            # The commit rate of this VM's disk moves by half between runs minutes apart (decision 0317): measured
            # right before and right after the flat-out run, the ratio's two sides share the same minutes.
            commits_before = asyncio.run(commit_rate(database_url, 2000, args.concurrency))
            load_before = load_average()
            sqlite_file = None if args.postgres else str(work / "payments.db")
            wal_flat, wal_paced = WalWatch(sqlite_file), WalWatch(sqlite_file)
            names = {"PostgreSQL": "postgres", "nats-server": "nats-server"} if args.postgres \
                else {"nats-server": "nats-server"}
            budget = CpuBudget({"payments": [process.pid for process in processes], "this bench": os.getpid()}, names)
            started = time.perf_counter()
            with wal_flat, budget:
                rate = asyncio.run(flat_out(urls, database_url, nats.url, range(50, args.webhooks), args.concurrency,
                                             args.flat_client))
            flat_seconds = time.perf_counter() - started
            cpu_ms = budget.used.get("payments", 0.0) * 1000 / (args.webhooks - 50)
            load_after = load_average()
            commits_after = asyncio.run(commit_rate(database_url, 2000, args.concurrency))
            commits = (commits_before + commits_after) / 2
            half = args.paced_rate or rate / 2
            count = min(paced_count, max(50, int(half * args.paced_seconds)))
            with wal_paced, DiskStalls(work) as disk:
                figures = asyncio.run(
                    paced(urls, database_url, nats.url, range(args.webhooks, args.webhooks + count), half, disk,
                          args.dump, args.paced_client))
            checkpoints = checkpoint_counters(urls[0])
            alone = asyncio.run(paced_commit_latencies(database_url, half, count))
            backend = ("PostgreSQL (fsync off)" if args.pg_fsync_off else "PostgreSQL (fsync on)") if args.postgres \
                else "SQLite"
            replicas = f", {args.replicas} payments processes" if args.replicas > 1 else ""
            print(f"payments webhook path on {backend} ({os.cpu_count()} CPUs{replicas})")
            print(f"signed webhooks end to end: {rate:8.1f} webhooks/s  ({args.webhooks - 50} refund.created, "
                  f"{args.concurrency} senders; each: verify, store, JetStream, consume, ledger + event commit)")
            if figures.committed_p50 is not None and figures.committed_p99 is not None:
                print(f"at half load ({half:.0f}/s, {figures.count} webhooks), send -> ledger entries and events committed "
                      f"(PostgreSQL's commit timestamp): p50 {figures.committed_p50:7.1f} ms   "
                      f"p99 {figures.committed_p99:7.1f} ms   (target p99 <= 200 ms)")
            print(f"at half load ({half:.0f}/s, {figures.count} webhooks), send -> payment.refunded published by the relay "
                  f"and received here: p50 {figures.p50:7.1f} ms   p99 {figures.p99:7.1f} ms"
                  + ("   (target p99 <= 200 ms: SQLite keeps no commit time, so this later point stands in)"
                     if figures.committed_p50 is None else "   (a later point than the target's)"))
            print(f"  of which the 2xx answer (stored): p50 {figures.answer_p50:7.1f} ms   p99 {figures.answer_p99:7.1f} ms")
            print(f"  (to the handler's processed_at stamp, before its commit: p50 {figures.stamped_p50:7.1f} ms   "
                  f"p99 {figures.stamped_p99:7.1f} ms)")
            print(f"  the bench's own event loop while sending: {figures.sender_lag} (a late sender inflates these)")
            print(f"  the disk meanwhile (a probe beside the database): {figures.disk}")
            print(f"  beside it, one single-row commit alone at the same rate: p50 {statistics.median(alone):7.1f} ms   "
                  f"p99 {percentile99(alone):7.1f} ms   max {alone[-1]:7.1f} ms (the disk's own tail in these minutes)")
            print(f"single-row commits:         {commits:8.1f} commits/s (same database and driver, {args.concurrency} writers; "
                  f"{commits_before:.1f} right before the flat-out run, {commits_after:.1f} right after it)")
            print(f"ratio:                      {rate / commits:8.2f}  (target >= 0.3)")
            print(f"payments CPU:               {cpu_ms:8.1f} ms per webhook during the flat-out run")
            print(f"  all CPU of that run: {budget.summary(args.webhooks - 50, 'webhook', flat_seconds)}")
            print(f"load average (1/5/15 min):  {load_before} before the flat-out run, {load_after} after it")
            if not args.postgres:
                print(f"SQLite WAL: longest {wal_flat.longest} frames flat out, {wal_paced.longest} at half load; started "
                      f"again {wal_flat.restarts} + {wal_paced.restarts} times; payments' background checkpointer: {checkpoints}")
        except BaseException:
            for log in sorted(work.glob("payments-*.log")):
                print(log.read_text()[-4000:])
            raise
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
            if args.keep_log is not None and (work / "payments-0.log").exists():
                args.keep_log.write_bytes((work / "payments-0.log").read_bytes())
            if cluster is not None:
                cluster.stop()
            nats.stop()


if __name__ == "__main__":
    main()

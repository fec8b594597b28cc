"""Benchmark the mail worker's send-time recipient lookup (decision 0602): lifecycle emails addressed
to a registered user's id, whose address the worker asks a real gateway process for just before each
SMTP send, against the same number of emails addressed directly (the baseline, same run, same
worker, same SMTP server).

Starts a nats-server and the gateway (its demo accounts, trusting a fresh "refunds" key) as real
processes, migrates a refunds SQLite database, runs a real SMTP server (aiosmtpd) in this process,
then for each kind queues N emails and times ``MailWorker.send_due`` until all are sent.

    .venv/bin/python bench/refunds_mail.py [--count 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchkit import wait_ready
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.db import create_engine, create_sessionmaker
from homecraft_shared.http_client import ServiceClient
from homecraft_shared.identity import ServiceSigner, generate_keypair
from homecraft_shared.migrations import upgrade_to_head
from homecraft_shared.outgoing_mail import HttpContactDirectory, MailWorker, OutgoingMail, SmtpSettings, queue_mail
from homecraft_shared.testing.infra import NatsServer, free_port
from homecraft_shared.testing.mail import smtp_server

REFUNDS_MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "refunds" / "src" / "refunds" / "migrations"
USERS = {"seller-ada": "ada", "buyer-demo": "buyer"}  # gateway.accounts.demo


def start_gateway(work: Path, nats_url: str, refunds_public: str) -> tuple[subprocess.Popen[bytes], str]:
    private, public = generate_keypair()
    port = free_port()
    env = {**os.environ, "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'gateway.db'}", "GATEWAY_NATS_URL": nats_url,
           "GATEWAY_IDENTITY_PRIVATE_KEY": private, "GATEWAY_IDENTITY_PUBLIC_KEY": public, "GATEWAY_LOG_LEVEL": "WARNING",
           "GATEWAY_TRUSTED_SERVICE_KEYS": json.dumps({"refunds": refunds_public}),
           "GATEWAY_DEMO_PASSWORDS": json.dumps({name: f"{name}-bench-password" for name in USERS.values()})}
    subprocess.run([sys.executable, "-m", "gateway", "seed-demo"], env=env, check=True, capture_output=True, timeout=120)
    log = work / "gateway.log"
    process = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(port)], env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, process, log)
    return process, url


async def send_all(worker: MailWorker, sessionmaker: async_sessionmaker[AsyncSession], count: int, *, to_users: bool, tag: str) -> float:
    """Queue ``count`` emails (to addresses, or to user ids) and send them all; returns emails per second."""
    async with sessionmaker() as session:
        for n in range(count):
            target = {"to_user": list(USERS)[n % 2]} if to_users else {"to": f"someone{n}@example.com"}
            await queue_mail(session, dedupe_key=f"{tag}:{n}", subject=f"bench {n}", body="bench", **target)
        await session.commit()
    started = time.perf_counter()
    while await worker.send_due():
        pass
    elapsed = time.perf_counter() - started
    async with sessionmaker() as session:
        sent = await session.scalar(select(func.count()).select_from(OutgoingMail).where(
            OutgoingMail.dedupe_key.like(f"{tag}:%"), OutgoingMail.sent_at.is_not(None)))
    if sent != count:
        raise SystemExit(f"{tag}: {sent} of {count} sent")
    return count / elapsed


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-refunds-mail-") as folder:
        work = Path(folder)
        nats = NatsServer(work / "nats")
        nats.start()
        refunds_private, refunds_public = generate_keypair()
        gateway, url = start_gateway(work, nats.url, refunds_public)
        database_url = f"sqlite+aiosqlite:///{work / 'refunds.db'}"
        await asyncio.to_thread(upgrade_to_head, REFUNDS_MIGRATIONS, database_url)
        engine = create_engine(database_url)
        client = ServiceClient(url, timeout=5)
        try:
            with smtp_server() as (mailbox, smtp_port):
                settings = SmtpSettings(port=smtp_port, batch=count)
                directory = HttpContactDirectory(client, ServiceSigner("refunds", refunds_private))
                worker = MailWorker(create_sessionmaker(engine), settings, directory)
                await send_all(worker, create_sessionmaker(engine), 20, to_users=True, tag="warm-up")
                direct = await send_all(worker, create_sessionmaker(engine), count, to_users=False, tag="direct")
                resolved = await send_all(worker, create_sessionmaker(engine), count, to_users=True, tag="resolved")
                assert len(mailbox.messages) == 20 + 2 * count
        finally:
            await client.aclose()
            await engine.dispose()
            gateway.terminate()
            gateway.wait(timeout=15)
            nats.stop()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores; {count} emails each, SQLite")
    print(f"  addressed directly (baseline):        {direct:7.1f} emails/s  ({1000 / direct:.1f} ms each)")
    print(f"  to a user id, resolved at the gateway: {resolved:7.1f} emails/s  ({1000 / resolved:.1f} ms each)")
    print(f"  the lookup costs {1000 / resolved - 1000 / direct:.1f} ms per email ({resolved / direct:.0%} of the baseline rate)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300)
    asyncio.run(main(parser.parse_args().count))

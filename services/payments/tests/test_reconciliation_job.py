"""Live reconciliation as a job (decisions 0304, 0305): it runs on its own every interval against the
stand-in, keeps the last clean run's time and the differences it finds (injected on purpose here), one
runner at a time across replicas (a lease row), and the operator's on-demand trigger stays."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from standin_support import Stand, order_paid, running_stand
from support import eventually
from test_payouts_flow import payouts_of

from homecraft_shared.testing import bearer
from payments.ledger import domain
from payments.ledger import repository as ledger
from payments.reconciliation import job, lease

INTERVAL = 0.5


@pytest.fixture
async def stand(database_url: str, nats_url: str, identity_keys: tuple[str, str]) -> AsyncIterator[Stand]:
    async with running_stand(database_url, nats_url, identity_keys,
                             reconciliation_interval_seconds=INTERVAL) as running:
        yield running


async def console(stand: Stand) -> dict[str, Any]:
    response = await stand.payments.client.get("/operator/reconciliation",
                                               headers=bearer(stand.private_key, "boss", "owner"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_scheduled_runs_keep_the_last_clean_time_and_report_injected_differences(stand: Stand) -> None:
    owner = bearer(stand.private_key, "boss", "owner", username="boss")
    await stand.ready_seller("ada")
    order = order_paid("j1", [("ada", 4000)], percent="12.5")
    pi, ch = await stand.paid_checkout(order)
    await stand.publish_order_paid(order.model_copy(update={"payment_intent_id": pi, "charge_id": ch}))
    await payouts_of(stand, "j1", 1)

    # a scheduled run (no one asked) finds the ledger and Stripe in agreement
    clean = await eventually(lambda: console(stand), lambda c: c["last_run"] is not None and c["last_run"]["clean"]
                             and c["last_run"]["trigger"] == "schedule", within=60)
    assert clean["scheduled_every_seconds"] == INTERVAL and clean["last_clean_at"] == clean["last_run"]["finished_at"]

    # injected: a PAYOUT entry whose transfer Stripe never made; a later scheduled run reports it, and the
    # time of the last clean run stays the one before it
    async with stand.payments.session() as session:
        assert await ledger.record(session, domain.payout("j-ghost", "ada", 5, "tr_never_made"))
    dirty = await eventually(lambda: console(stand), lambda c: not c["last_run"]["clean"], within=60)
    assert dirty["last_run"]["trigger"] == "schedule"
    assert [(d["kind"], d["object_id"]) for d in dirty["last_run"]["differences"]] == [
        ("entry_without_stripe", "tr_never_made")]
    assert dirty["last_clean_at"] is not None and dirty["last_clean_at"] < dirty["last_run"]["started_at"]

    # another replica holds the lease (a run in progress there): no run here, and the operator's trigger
    # is a clear 409 instead of a second run at once
    sessionmaker = stand.payments.sessionmaker
    assert await lease.acquire(sessionmaker, job.LEASE, "replica-b", ttl_seconds=600)
    held = await console(stand)
    assert held["running_since"] is not None
    busy = await stand.payments.client.post("/operator/reconciliation/runs", headers=owner)
    assert busy.status_code == 409 and "in progress" in busy.json()["detail"]
    await asyncio.sleep(INTERVAL * 4)  # several wake-ups of this replica's loop
    assert (await console(stand))["last_run"]["id"] == held["last_run"]["id"]
    await lease.release(sessionmaker, job.LEASE, "replica-b")
    # the on-demand trigger works again (and is recorded with its trigger); this replica's own schedule
    # (every 0.5 s here) may take the freed lease first, and while that run is in progress the answer is
    # the same 409 -- on a loaded machine the window is wide enough to hit, so ask until that run ends
    for _ in range(300):
        now = await stand.payments.client.post("/operator/reconciliation/runs", headers=owner)
        if now.status_code != 409:
            break
        await asyncio.sleep(0.1)
    assert now.status_code == 200 and now.json()["trigger"] == "operator" and not now.json()["clean"]


async def test_the_lease_has_one_holder_at_a_time_and_expires(stand: Stand) -> None:
    sessionmaker = stand.payments.sessionmaker
    got = await asyncio.gather(*(lease.acquire(sessionmaker, "test-lease", f"holder-{i}", 600) for i in range(5)))
    assert sorted(got) == [False, False, False, False, True]
    winner = f"holder-{got.index(True)}"
    assert await lease.acquire(sessionmaker, "test-lease", winner, 600)  # the holder renews it
    assert not await lease.acquire(sessionmaker, "test-lease", "late", 600)
    await lease.release(sessionmaker, "test-lease", "late")  # not the holder: changes nothing
    assert not await lease.acquire(sessionmaker, "test-lease", "late", 600)
    await lease.release(sessionmaker, "test-lease", winner)
    assert await lease.acquire(sessionmaker, "test-lease", "late", 0.01)
    await asyncio.sleep(0.05)  # a crashed holder: its lease runs out
    assert await lease.acquire(sessionmaker, "test-lease", "next", 600)

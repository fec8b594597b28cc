"""Planned payouts made at Stripe after their plan committed (P5, decision 0316): no Stripe call while
the plan's locks are held, a transfer made once however often its making is retried, a planned amount
reserved from the seller's next plan until it is made, and several made at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import stripe
from sqlalchemy import select, update
from standin_support import Stand, order_paid, running_stand
from support import eventually

from homecraft_shared.db import utcnow
from homecraft_shared.testing import bearer
from payments.deps import deps
from payments.ledger import service as ledger_service
from payments.models import LedgerEntry, Payout, SellerBalance


@pytest.fixture
async def stand(database_url: str, nats_url: str, identity_keys: tuple[str, str]) -> AsyncIterator[Stand]:
    # The maker looks for pending transfers often, so a transfer left pending is retried within the test.
    async with running_stand(database_url, nats_url, identity_keys, transfer_poll_seconds=0.2) as running:
        yield running


async def transfers_api(stand: Stand) -> Any:
    async with stand.payments.sessionmaker() as session:
        return deps(session).stripe.v1.transfers


async def payout(stand: Stand, order_id: str, seller_id: str, status: str) -> Payout:
    async def fetch() -> Payout | None:
        async with stand.payments.sessionmaker() as session:
            return await session.get(Payout, (order_id, seller_id))

    return await eventually(fetch, lambda row: row is not None and row.status == status, within=60)


async def pay(stand: Stand, order_id: str, lines: list[tuple[str, int]]) -> None:
    order = order_paid(order_id, lines, percent="12.5")
    payment_intent, charge = await stand.paid_checkout(order)
    await stand.publish_order_paid(order.model_copy(update={"payment_intent_id": payment_intent, "charge_id": charge}))


async def test_p5_no_transfer_is_asked_of_stripe_while_the_plans_transaction_holds_its_locks(
        stand: Stand, monkeypatch: pytest.MonkeyPatch) -> None:
    """While Stripe makes the transfer, another transaction writes the seller's balance row at once (in a
    plan's transaction that row is locked on PostgreSQL, and the whole database on SQLite). The row exists
    from an earlier order: PostgreSQL lets others pass a row a running transaction has only inserted."""
    await stand.ready_seller("ada")
    await pay(stand, "o0", [("ada", 1000)])
    await payout(stand, "o0", "ada", "transferred")
    api = await transfers_api(stand)
    create = api.create_async
    waited: list[str] = []

    async def create_while_another_writes(*args: Any, **kwargs: Any) -> Any:
        async def write() -> None:
            async with stand.payments.sessionmaker() as session:
                await session.execute(update(SellerBalance).where(SellerBalance.seller_id == "ada")
                                      .values(updated_at=utcnow()))
                await session.commit()

        try:
            await asyncio.wait_for(write(), timeout=5)
        except TimeoutError:
            waited.append("the balance row stayed locked during the Stripe call")
        return await create(*args, **kwargs)

    monkeypatch.setattr(api, "create_async", create_while_another_writes)
    await pay(stand, "o1", [("ada", 1000)])
    made = await payout(stand, "o1", "ada", "transferred")
    assert made.amount_cents == 875 and made.transfer_id
    assert waited == []


async def test_p5_a_transfer_whose_answer_was_lost_is_found_not_asked_for_again(
        stand: Stand, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stripe makes the transfer but the answer is lost, and then Stripe cannot be reached for a while: the
    payout stays pending, and reconciliation meanwhile sees the transfer as in flight, not as a
    difference. The next try looks for the transfer the first one made and records it; it does not ask
    again (after 24 hours Stripe would not know the idempotency key any more): one transfer, one entry."""
    account = await stand.ready_seller("ada")
    api = await transfers_api(stand)
    create, list_transfers = api.create_async, api.list_async
    keys: list[str] = []
    looked: list[str] = []
    unreachable = True

    async def answer_lost(params: dict[str, Any], options: dict[str, Any]) -> Any:
        keys.append(options["idempotency_key"])
        made = await create(params, options)
        if unreachable:
            raise stripe.APIConnectionError("the connection closed before the answer arrived")
        return made

    async def look(params: dict[str, Any], *args: Any) -> Any:
        if "transfer_group" in params:  # the maker's look (reconciliation lists every transfer)
            looked.append(params["transfer_group"])
            if unreachable:
                raise stripe.APIConnectionError("Stripe cannot be reached")
        return await list_transfers(params, *args)

    monkeypatch.setattr(api, "create_async", answer_lost)
    monkeypatch.setattr(api, "list_async", look)
    await pay(stand, "o1", [("ada", 1000)])

    async def tries() -> int:
        return len(looked)

    await eventually(tries, lambda times: times >= 1, within=60)  # made once, then looked for: still pending
    assert (await payout(stand, "o1", "ada", "pending")).transfer_id is None
    owner = bearer(stand.private_key, "boss", "owner", username="boss")
    run = (await stand.payments.client.post("/operator/reconciliation/runs", headers=owner)).json()
    assert run["clean"] is True, run["differences"]
    unreachable = False
    made = await payout(stand, "o1", "ada", "transferred")
    assert keys == ["transfer:o1:ada:1"], "the transfer was asked for again instead of looked for"
    at_stripe = (await stand.stripe.v1.transfers.list_async({"destination": account, "limit": 100})).data
    assert [t.id for t in at_stripe] == [made.transfer_id]
    async with stand.payments.sessionmaker() as session:
        entries = (await session.scalars(select(LedgerEntry).where(LedgerEntry.reason == "payout"))).all()
    assert [(e.seller_id, e.amount_cents, e.stripe_object_id) for e in entries] == [("ada", -875, made.transfer_id)]
    run = (await stand.payments.client.post("/operator/reconciliation/runs", headers=owner)).json()
    assert run["clean"] is True, run["differences"]


async def test_p5_a_planned_transfer_is_reserved_from_the_sellers_next_plan(
        stand: Stand, monkeypatch: pytest.MonkeyPatch) -> None:
    """ada's first transfer (875) is planned but Stripe cannot be reached; her second order's plan pays its
    own 1,750 only, not the 875 already planned. Once Stripe answers, both are made and her balance is 0."""
    account = await stand.ready_seller("ada")
    api = await transfers_api(stand)
    create = api.create_async
    unreachable = True

    async def unreachable_for_a_while(*args: Any, **kwargs: Any) -> Any:
        if unreachable:
            raise stripe.APIConnectionError("Stripe cannot be reached")
        return await create(*args, **kwargs)

    monkeypatch.setattr(api, "create_async", unreachable_for_a_while)
    await pay(stand, "o1", [("ada", 1000)])
    assert (await payout(stand, "o1", "ada", "pending")).amount_cents == 875
    seen = (await stand.payments.client.get("/payouts/me/orders/o1", headers=bearer(stand.private_key, "ada", "seller"))).json()
    assert (seen["status"], seen["transfer"]) == ("pending", None)
    assert "transfer of 875 cents to your Stripe account is on its way" in seen["explanation"]
    await pay(stand, "o2", [("ada", 2000)])
    second = await payout(stand, "o2", "ada", "pending")
    assert (second.amount_cents, second.balance_before_cents) == (1750, 1750)
    unreachable = False
    assert (await payout(stand, "o1", "ada", "transferred")).amount_cents == 875
    assert (await payout(stand, "o2", "ada", "transferred")).amount_cents == 1750
    at_stripe = (await stand.stripe.v1.transfers.list_async({"destination": account, "limit": 100})).data
    assert sorted(t.amount for t in at_stripe) == [875, 1750]
    async with stand.payments.sessionmaker() as session:
        summed, stored = await ledger_service.ledger_totals(session)
    assert summed == stored == {"ada": 0}


async def test_p5_planned_transfers_are_made_several_at_a_time(stand: Stand, monkeypatch: pytest.MonkeyPatch) -> None:
    """An order of three sellers plans three transfers in one commit; the maker's next pass makes them at
    once: each call waits (up to 5 s) for another one to be under way; one after another, none would."""
    for seller in ("ada", "bob", "cy"):
        await stand.ready_seller(seller)
    api = await transfers_api(stand)
    create = api.create_async
    under_way: set[str] = set()
    another = asyncio.Event()
    overlapped: list[bool] = []

    async def create_beside_another(params: dict[str, Any], options: dict[str, Any]) -> Any:
        seller = params["metadata"]["seller_id"]
        under_way.add(seller)
        if len(under_way) > 1:
            another.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(another.wait(), timeout=5)
        overlapped.append(another.is_set())
        try:
            return await create(params, options)
        finally:
            under_way.discard(seller)

    monkeypatch.setattr(api, "create_async", create_beside_another)
    await pay(stand, "o1", [("ada", 1000), ("bob", 1000), ("cy", 1000)])
    for seller in ("ada", "bob", "cy"):
        assert (await payout(stand, "o1", seller, "transferred")).amount_cents == 875
    assert overlapped == [True, True, True]

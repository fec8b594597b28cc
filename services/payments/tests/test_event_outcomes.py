"""P4/A4: the outcome of each processed Stripe event is written with its transaction, one statement for all the
events of that transaction (decision 0317): visible to later reads in the same transaction, committed with its
effects, forgotten with a rollback. A consumer transaction reads its stored events ahead, in one statement."""

from __future__ import annotations

import json
from typing import Any

from support import Payments, stripe_event

from homecraft_shared.db import utcnow
from homecraft_shared.testing.statements import rows_per_statement
from payments.models import StripeEvent
from payments.webhooks import processing


def stored(event_type: str, obj: dict[str, Any]) -> StripeEvent:
    """A stored event as the intake writes it, without its outbox fact: the consumer never runs it here."""
    payload = stripe_event(event_type, obj)
    return StripeEvent(event_id=payload["id"], type=event_type, endpoint="platform", account=None, livemode=False,
                       stripe_created=utcnow(), payload=json.dumps(payload), received_at=utcnow(), status="received",
                       outcome="")


async def statuses(payments: Payments, *event_ids: str) -> list[str]:
    async with payments.sessionmaker() as session:
        return [(await session.get(StripeEvent, event_id, populate_existing=True)).status  # type: ignore[union-attr]
                for event_id in event_ids]


async def test_p4_a_transactions_outcomes_are_written_together_at_its_commit(payments: Payments) -> None:
    unknown = stored("payout.paid", {"id": "po_1", "object": "payout"})
    orphan = stored("refund.created", {"id": "re_orphan", "object": "refund", "status": "succeeded", "amount": 100,
                                       "currency": "usd", "metadata": {"order_id": "never-paid"}})
    async with payments.sessionmaker() as session:
        session.add_all([unknown, orphan])
        await session.commit()
    engine = payments.sessionmaker.kw["bind"]

    with rows_per_statement(engine, "UPDATE stripe_events") as updates:
        async with payments.sessionmaker() as session:
            for event_id in (unknown.event_id, orphan.event_id):
                row = await processing.stored_event(session, event_id)
                assert row is not None and await processing.process(session, row) is not None
            # the same transaction sees the outcomes: a second run of an event already processed does nothing
            again = await processing.stored_event(session, unknown.event_id)
            assert again is not None and again.status == "ignored"
            assert await processing.process(session, again) is None
            assert updates == []  # nothing written yet ...
            await session.commit()
    assert updates == [2]  # ... then both outcomes in one statement, with the commit
    assert await statuses(payments, unknown.event_id, orphan.event_id) == ["ignored", "waiting"]


async def test_p4_a_rolled_back_transaction_leaves_no_outcome(payments: Payments) -> None:
    unknown = stored("payout.paid", {"id": "po_2", "object": "payout"})
    async with payments.sessionmaker() as session:
        session.add(unknown)
        await session.commit()
    async with payments.sessionmaker() as session:
        row = await processing.stored_event(session, unknown.event_id)
        assert row is not None and await processing.process(session, row) is not None
        await session.rollback()
        # the session goes on in a new transaction: the outcome of the rolled back one is not written by it
        assert (await processing.stored_event(session, unknown.event_id)).status == "received"  # type: ignore[union-attr]
        await session.commit()
    assert await statuses(payments, unknown.event_id) == ["received"]


async def test_p4_a_transactions_events_are_read_ahead_in_one_statement_for_that_transaction_only(
        payments: Payments) -> None:
    first, second = stored("payout.paid", {"id": "po_3", "object": "payout"}), stored("payout.paid", {"id": "po_4"})
    async with payments.sessionmaker() as session:
        session.add_all([first, second])
        await session.commit()
    engine = payments.sessionmaker.kw["bind"]
    with rows_per_statement(engine, "SELECT stripe_events.event_id") as reads:
        async with payments.sessionmaker() as session:
            await processing.read_ahead(session, [first.event_id, second.event_id])
            rows = [await processing.stored_event(session, e) for e in (first.event_id, second.event_id)]
    assert [(row.event_id, row.status) for row in rows if row is not None] == [
        (first.event_id, "received"), (second.event_id, "received")]
    assert reads == [1]  # one statement for both

    # read ahead in one transaction, used in the next: by then another transaction processed the event
    async with payments.sessionmaker() as session:
        await processing.read_ahead(session, [first.event_id])
        await session.commit()
        async with payments.sessionmaker() as other:
            row = await processing.stored_event(other, first.event_id)
            assert row is not None and await processing.process(other, row) is not None
            await other.commit()
        again = await processing.stored_event(session, first.event_id)
        assert again is not None and again.status == "ignored"

"""P4 and decision 0327: NATS holds a stored Stripe event's ``stripe.event_received`` fact in memory and loses
it when it restarts; the stored event is processed all the same, because its fact is sent again (under its
id) when the event is still not processed a while after it arrived. A fact the consumer dead-lettered is left
to the operator's replay."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js.errors import NotFoundError
from sqlalchemy import delete, select
from support import Payments, eventually, payments_settings, running_payments, stripe_event

from homecraft_shared.db import utcnow
from homecraft_shared.messaging.jetstream import stream_name
from homecraft_shared.messaging.tables import DeadLetter, OutboxEvent
from payments.models import StripeEvent
from payments.webhooks.service import LostFacts, fact_id

FACTS = stream_name("payments", in_memory=True)


@pytest.fixture
async def payments(database_url: str, nats_url: str, identity_keys: tuple[str, str]) -> AsyncIterator[Payments]:
    settings = payments_settings(database_url, nats_url, identity_keys[1], lost_fact_after_seconds=1.0)
    async with running_payments(settings, identity_keys[0]) as running:
        yield running


async def outbox_row(payments: Payments, stripe_event_id: str) -> OutboxEvent | None:
    async with payments.sessionmaker() as session:
        return await session.scalar(select(OutboxEvent).where(OutboxEvent.event_id == fact_id(stripe_event_id)))


async def test_p4_stored_events_whose_facts_nats_lost_are_processed_all_the_same(
    payments: Payments, nats_url: str
) -> None:
    admin = await nats.connect(nats_url)
    try:
        js = admin.jetstream()

        async def consumer_ready() -> bool:
            try:
                await js.consumer_info(FACTS, "payments")
                return True
            except NotFoundError:
                return False

        await eventually(consumer_ready, bool)
        # Nobody takes the facts for a while (the service's consumer sets itself up again only after its fetches
        # have kept failing), so that NATS acks them and then loses them before they are processed.
        await js.delete_consumer(FACTS, "payments")
        events = [stripe_event("customer.created", {"id": f"cus_lost_{n}", "object": "customer"}) for n in range(2)]
        for event in events:
            assert (await payments.webhook(event)).status_code == 200
        for event in events:
            await eventually(lambda e=event: outbox_row(payments, e["id"]), lambda row: row and row.published_at)
        # The second fact's outbox row is gone too (pruned after its retention): it is staged again.
        async with payments.sessionmaker() as session:
            await session.execute(delete(OutboxEvent).where(OutboxEvent.event_id == fact_id(events[1]["id"])))
            await session.commit()
        await js.delete_stream(FACTS)  # what a restart of NATS does to it: both facts are lost

        for event in events:
            done = await payments.processed(event["id"], statuses=("ignored",), within=40)
            assert "customer.created is not handled" in done.outcome
        first, second = [await outbox_row(payments, event["id"]) for event in events]
        assert first is not None and first.attempts >= 2  # published again under the same id
        assert second is not None and json.loads(second.payload)["data"]["stripe_event_id"] == events[1]["id"]
    finally:
        await admin.close()


async def test_a_fact_dead_lettered_is_left_to_the_operator_and_a_pending_one_is_sent_again_at_every_pass(
    payments: Payments,
) -> None:
    long_ago = utcnow() - dt.timedelta(hours=1)

    def stored(event_id: str) -> StripeEvent:
        return StripeEvent(event_id=event_id, type="customer.created", endpoint="platform", account=None,
                           livemode=False, stripe_created=long_ago, payload="{}", received_at=long_ago,
                           status="received", outcome="")

    pending = [f"evt_pending_{n}" for n in range(4)]
    # One transaction, never committed: the running service's own passes never see these rows.
    async with payments.sessionmaker() as session:
        session.add_all([stored("evt_parked"), *(stored(event_id) for event_id in pending)])
        session.add(DeadLetter(consumer="payments", event_id=fact_id("evt_parked"), subject="stripe.event_received.v1",
                               payload="{}", error="boom", attempts=3, failed_at=long_ago))
        await session.flush()
        lost = LostFacts("payments", dt.timedelta(seconds=30))
        lost.PAGE = 2  # the pass reads page after page

        assert await lost.send_again(session) == len(pending)
        staged = (await session.scalars(select(OutboxEvent.event_id).where(
            OutboxEvent.event_id.in_([fact_id(event_id) for event_id in ["evt_parked", *pending]])))).all()
        assert sorted(staged) == sorted(fact_id(event_id) for event_id in pending)
        # Still not processed: sent again at the next pass (the pass reads on from the oldest it sent).
        assert await lost.send_again(session) == len(pending)
        await session.rollback()

"""P4 and decisions 0327, 0328: a stored Stripe event's ``stripe.event_received`` fact has no outbox row, and NATS
holds it in memory and loses it when it restarts; the stored event is processed all the same, lost or never
published, because its fact is sent again (under its id) when the event is still not processed a while after
it arrived. A fact the consumer dead-lettered is left to the operator's replay."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import select
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


async def facts_held(js: JetStreamContext) -> int:
    return (await js.stream_info(FACTS)).state.messages


async def outbox_row(payments: Payments, stripe_event_id: str) -> OutboxEvent | None:
    async with payments.sessionmaker() as session:
        return await session.scalar(select(OutboxEvent).where(OutboxEvent.event_id == fact_id(stripe_event_id)))


async def test_p4_stored_events_whose_facts_nats_lost_or_never_got_are_processed_all_the_same(
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
        # have kept failing), so that NATS acks one and then loses it before it is processed.
        await js.delete_consumer(FACTS, "payments")
        published = stripe_event("customer.created", {"id": "cus_lost", "object": "customer"})
        assert (await payments.webhook(published)).status_code == 200
        await eventually(lambda: facts_held(js), lambda held: held == 1)
        assert await outbox_row(payments, published["id"]) is None  # published with no outbox row (decision 0328)
        # The other one was stored and never published: the process died right after its commit.
        never_published = stripe_event("customer.created", {"id": "cus_never", "object": "customer"})
        async with payments.sessionmaker() as session:
            session.add(StripeEvent(event_id=never_published["id"], type="customer.created", endpoint="platform",
                                    account=None, livemode=False, stripe_created=utcnow(),
                                    payload=json.dumps(never_published), received_at=utcnow(), status="received",
                                    outcome=""))
            await session.commit()
        await js.delete_stream(FACTS)  # what a restart of NATS does to it: the published fact is lost

        for event in (published, never_published):
            done = await payments.processed(event["id"], statuses=("ignored",), within=40)
            assert "customer.created is not handled" in done.outcome
            row = await outbox_row(payments, event["id"])  # sent again through the outbox, under the same id
            assert row is not None and json.loads(row.payload)["data"]["stripe_event_id"] == event["id"]
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

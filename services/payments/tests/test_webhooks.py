"""Webhook intake (P4): verified on the raw body, stored once by event id, answered 2xx, processed
through the outbox/inbox path; bad input is refused with nothing stored."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select
from support import Payments, sign, stripe_event

from homecraft_shared.messaging.tables import DeadLetter, OutboxEvent
from homecraft_shared.testing import bearer
from payments.webhooks.service import StoreEvent


async def test_p4_missing_signature_is_400_and_nothing_is_stored(payments: Payments) -> None:
    event = stripe_event("charge.refunded", {"id": "ch_1"})
    response = await payments.client.post("/webhooks/stripe", content=json.dumps(event).encode())
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Missing Stripe-Signature" in response.json()["detail"]
    assert await payments.stored_count() == 0


async def test_p4_wrong_secret_or_tampered_body_is_400_and_nothing_is_stored(payments: Payments) -> None:
    event = stripe_event("charge.refunded", {"id": "ch_1"})
    assert (await payments.webhook(event, secret="whsec_wrong")).status_code == 400
    payload = json.dumps(event).encode()
    header = sign(payload, "whsec_standin_platform_offline")
    tampered = payload.replace(b"ch_1", b"ch_2")
    response = await payments.client.post("/webhooks/stripe", content=tampered, headers={"Stripe-Signature": header})
    assert response.status_code == 400
    # the Connect endpoint has its own secret: the platform one does not open it
    assert (await payments.webhook(event, connect=True, secret="whsec_standin_platform_offline")).status_code == 400
    assert await payments.stored_count() == 0


async def test_p4_stale_timestamp_is_400(payments: Payments) -> None:
    event = stripe_event("charge.refunded", {"id": "ch_1"})
    response = await payments.webhook(event, timestamp=int(time.time()) - 3600)
    assert response.status_code == 400
    assert "timestamp" in response.json()["detail"].lower()
    assert await payments.stored_count() == 0


async def test_p4_signed_but_not_an_event_is_400(payments: Payments) -> None:
    payload = b'{"hello": "world"}'
    response = await payments.client.post("/webhooks/stripe", content=payload, headers={
        "Stripe-Signature": sign(payload, "whsec_standin_platform_offline")})
    assert response.status_code == 400
    assert await payments.stored_count() == 0


async def test_p4_unknown_type_is_stored_answered_and_ignored_duplicates_change_nothing(payments: Payments) -> None:
    event = stripe_event("customer.created", {"id": "cus_1", "object": "customer"})
    first = await payments.webhook(event)
    assert first.status_code == 200 and first.json() == {"received": True, "event_id": event["id"], "duplicate": False}
    second = await payments.webhook(event)
    assert second.status_code == 200 and second.json()["duplicate"] is True
    row = await payments.processed(event["id"])
    assert row.status == "ignored" and "not handled" in row.outcome
    assert await payments.stored_count() == 1


async def test_p4_malformed_payload_lands_in_dead_letters_not_a_crash_loop(payments: Payments) -> None:
    # signed and shaped like an event, but the refund in it has no amount
    event = stripe_event("refund.created", {"id": "re_bad", "object": "refund", "status": "succeeded",
                                            "metadata": {"order_id": "o-unknown"}})
    event["data"]["object"]["amount"] = "lots"
    assert (await payments.webhook(event)).status_code == 200

    async def dead() -> list[DeadLetter]:
        async with payments.sessionmaker() as session:
            return list((await session.scalars(select(DeadLetter))).all())

    # the order is unknown: it waits instead (never lost); a refund with a bad status is malformed
    row = await payments.processed(event["id"])
    assert row.status == "waiting" and row.waiting_for_order == "o-unknown"
    bad = stripe_event("refund.updated", {"id": "re_bad2", "object": "refund", "status": "exploded", "amount": 1})
    assert (await payments.webhook(bad)).status_code == 200
    from support import eventually

    letters = await eventually(dead, lambda rows: len(rows) == 1, within=60)
    assert "unknown status" in letters[0].error
    assert (await payments.stored(bad["id"])).status == "received"
    # the service is still healthy and processes the next event
    ok = stripe_event("customer.created", {"id": "cus_2"})
    assert (await payments.webhook(ok)).status_code == 200
    assert (await payments.processed(ok["id"])).status == "ignored"


async def test_a4_the_event_log_is_for_owners(payments: Payments, identity_keys: tuple[str, str]) -> None:
    event = stripe_event("customer.created", {"id": "cus_1"})
    await payments.webhook(event)
    await payments.processed(event["id"])
    denied = await payments.client.get("/operator/stripe-events", headers=bearer(identity_keys[0], "u1", "seller"))
    assert denied.status_code == 403
    page = await payments.client.get("/operator/stripe-events", params={"type": "customer.created"},
                                     headers=bearer(identity_keys[0], "boss", "owner"))
    assert page.status_code == 200
    body = page.json()
    assert body["total"] == 1 and body["items"][0]["event_id"] == event["id"]
    assert body["items"][0]["status"] == "ignored"


async def test_p4_webhooks_stored_together_store_each_event_once(payments: Payments) -> None:
    """The webhooks of one group-commit batch are stored in one statement (decision 0314): a second
    delivery of an event within the batch, and one of an event stored before, are duplicates. Their facts have no
    outbox row: the intake publishes the fact of each event this call stored (decision 0328)."""
    def work(event: dict[str, Any]) -> StoreEvent:
        return StoreEvent.of(event, json.dumps(event).encode(), "platform")

    earlier, first, second = (stripe_event("customer.created", {"id": f"cus_{n}", "object": "customer"})
                              for n in range(3))
    async with payments.sessionmaker() as session, session.begin():
        assert await work(earlier)(await session.connection()) is True
    async with payments.sessionmaker() as session, session.begin():
        stored = await StoreEvent.run_together(
            await session.connection(), [work(first), work(earlier), work(second), work(first)])
    assert stored == [True, False, True, False]
    assert await payments.stored_count() == 3
    async with payments.sessionmaker() as session:
        payloads = [json.loads(p) for p in (await session.scalars(select(OutboxEvent.payload))).all()]
    assert [p for p in payloads if p["type"] == "stripe.event_received"] == []

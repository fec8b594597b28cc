"""Webhook intake (P4): verify the signature on the raw body, store the event by its id, answer.

Nothing is processed here: the stored event's ``stripe.event_received`` fact goes out through the
outbox in the same transaction (shared, through the group commit, with the other webhooks of the
moment: decision 0307), and the consumer processes it (inbox, retries, dead letters). So a
Stripe retry of an event we already have changes nothing, and the answer is fast.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import stripe
from sqlalchemy.ext.asyncio import AsyncConnection

from homecraft_shared.db import utcnow
from homecraft_shared.errors import Problem
from homecraft_shared.events.payments import StripeEventReceivedV1
from homecraft_shared.group_commit import GroupCommit, WorkTogether
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.outbox import envelope_for, insert_outbox_rows, outbox_row, publish_committed
from payments.webhooks import repository

Endpoint = Literal["platform", "connect"]


class BadWebhook(Problem):
    status = 400
    title = "Webhook rejected"


@dataclass(frozen=True)
class Intake:
    event_id: str
    type: str
    stored: bool  # False: a duplicate delivery of an event already stored


def verify(payload: bytes, signature: str | None, secret: str, tolerance_seconds: int) -> dict[str, Any]:
    """The verified event, or 400 (missing or wrong signature, stale timestamp, not an event)."""
    if not signature:
        raise BadWebhook("Missing Stripe-Signature header.")
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance_seconds)
    except stripe.SignatureVerificationError as exc:
        raise BadWebhook(f"Stripe signature rejected: {exc.user_message or exc}") from exc
    try:
        event = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadWebhook("The body is not JSON.") from exc
    if not isinstance(event, dict) or event.get("object") != "event":
        raise BadWebhook("The body is not a Stripe event.")
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str) or not event_type:
        raise BadWebhook("The event has no id or type.")
    if not isinstance(created, int):
        raise BadWebhook("The event has no creation time.")
    return event


@dataclass(frozen=True)
class WebhookIntake:
    """What the webhook endpoints use, built once per process (decision 0307): the signing secrets and
    the group commit the stored events go through."""

    group: GroupCommit
    platform_secret: str
    connect_secret: str
    tolerance_seconds: int

    def secret(self, endpoint: Endpoint) -> str:
        return self.platform_secret if endpoint == "platform" else self.connect_secret


class StoreEvent(WorkTogether[bool]):
    """The group commit's work for one webhook: the event row once (by its id) and, when this call stored
    it, its ``stripe.event_received`` fact in the outbox; True when stored, False for a duplicate. The
    webhooks of one batch are stored together: one INSERT of their events, one of their facts."""

    def __init__(self, values: dict[str, object], envelope: EventEnvelope) -> None:
        self.values = values
        self.outbox_row = outbox_row(envelope)

    @classmethod
    async def run_together(cls, connection: AsyncConnection, members: Sequence[StoreEvent]) -> list[bool]:
        first: dict[object, StoreEvent] = {}  # a second delivery of an event within the batch is a duplicate
        for member in members:
            first.setdefault(member.values["event_id"], member)
        stored = await repository.insert_new(connection, [member.values for member in first.values()])
        if stored:
            await insert_outbox_rows(connection, [m.outbox_row for event_id, m in first.items() if event_id in stored])
        return [member.values["event_id"] in stored and first[member.values["event_id"]] is member for member in members]

    @classmethod
    def of(cls, event: dict[str, Any], payload: bytes, endpoint: Endpoint) -> StoreEvent:
        now = utcnow()
        values: dict[str, object] = {
            "event_id": event["id"], "type": event["type"], "endpoint": endpoint,
            "account": event.get("account") if isinstance(event.get("account"), str) else None,
            "livemode": bool(event.get("livemode")),
            "stripe_created": dt.datetime.fromtimestamp(event["created"], dt.UTC),
            "payload": payload.decode(), "received_at": now, "status": "received", "outcome": "",
        }
        return cls(values, envelope_for(StripeEventReceivedV1(
            stripe_event_id=event["id"], type=event["type"], endpoint=endpoint, received_at=now), subject_id=event["id"]))


async def store(group: GroupCommit, event: dict[str, Any], payload: bytes, endpoint: Endpoint) -> Intake:
    """Store a verified event with its outbox row, committed together with the other webhooks of this
    moment (decision 0307); returns once that commit holds them (the 2xx only after the row is durable)."""
    work = StoreEvent.of(event, payload, endpoint)
    stored = await group.run(work)
    if stored:
        publish_committed(group.database, [work.outbox_row])
    return Intake(event["id"], event["type"], stored)

"""Webhook intake (P4): verify the signature on the raw body, store the event by its id, answer.

Nothing is processed here: the event is stored (through the group commit, with the other webhooks of the
moment: decision 0307), its ``stripe.event_received`` fact is published once that commit holds it, and the
consumer processes it (inbox, retries, dead letters). So a Stripe retry of an event we already have changes
nothing, and the answer is fast.

The stored event is the durable record; its fact is not (decisions 0327, 0328). It has no outbox row, and
NATS holds it in memory (no fsync). A fact never published (NATS away, the process dying after the commit)
or lost (NATS restarted) is found by ``LostFacts``: a stored event still not processed a while after it
arrived has its fact sent again, through the outbox.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import stripe
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from homecraft_shared.background import run_passes
from homecraft_shared.connections import session_connection
from homecraft_shared.db import utcnow
from homecraft_shared.errors import Problem
from homecraft_shared.events.payments import StripeEventReceivedV1
from homecraft_shared.group_commit import GroupCommit, WorkTogether
from homecraft_shared.messaging.consumer import awaiting_replay_among
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.outbox import (
    envelope_for,
    publish_again,
    publish_unrecorded,
)
from payments.webhooks import repository

logger = logging.getLogger(__name__)

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
    """The group commit's work for one webhook: the event row once (by its id); True when this call stored
    it, False for a duplicate. The webhooks of one batch are stored together, in one INSERT."""

    def __init__(self, values: dict[str, object], fact: EventEnvelope) -> None:
        self.values = values
        self.fact = fact  # published once stored

    @classmethod
    async def run_together(cls, connection: AsyncConnection, members: Sequence[StoreEvent]) -> list[bool]:
        first: dict[object, StoreEvent] = {}  # a second delivery of an event within the batch is a duplicate
        for member in members:
            first.setdefault(member.values["event_id"], member)
        stored = await repository.insert_new(connection, [member.values for member in first.values()])
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
        return cls(values, received_fact(event["id"], event["type"], endpoint, now))


# A stored event's ``stripe.event_received`` fact has an id derived from the Stripe event's, so that sent
# again it is the same event to JetStream's duplicate window, to the consumer's inbox and to its dead letters.
_FACT_NAMESPACE = uuid.UUID("3c0f5a52-8d4e-4f0b-9a61-7e2b9d1c4a85")


def fact_id(stripe_event_id: str) -> uuid.UUID:
    return uuid.uuid5(_FACT_NAMESPACE, stripe_event_id)


def received_fact(stripe_event_id: str, event_type: str, endpoint: Endpoint, received_at: dt.datetime) -> EventEnvelope:
    """The ``stripe.event_received`` fact of a stored event."""
    return envelope_for(StripeEventReceivedV1(stripe_event_id=stripe_event_id, type=event_type, endpoint=endpoint,
                                              received_at=received_at),
                        subject_id=stripe_event_id, event_id=fact_id(stripe_event_id))


async def store(group: GroupCommit, event: dict[str, Any], payload: bytes, endpoint: Endpoint) -> Intake:
    """Store a verified event, committed together with the other webhooks of this moment (decision 0307), and
    publish its fact; returns once that commit holds the event (the 2xx only after it is durable)."""
    work = StoreEvent.of(event, payload, endpoint)
    stored = await group.run(work)
    if stored:
        publish_unrecorded(group.database, [work.fact])
    return Intake(event["id"], event["type"], stored)


class LostFacts:
    """Sends the ``stripe.event_received`` fact of a stored event again when the event is still not processed
    ``after`` it arrived (decision 0327): NATS holds those facts in memory and loses them when it restarts.

    Sent again under its id: JetStream drops the copy of a fact it still holds (an event only slow to be
    processed), the inbox of one already applied. Not a fact the consumer dead-lettered and nobody replayed:
    an operator's call. Each pass reads forward from the oldest event it sent again last time (an index range
    of the stored events, not the whole table); the first pass of a process reads from the beginning.
    """

    PAGE = 200

    def __init__(self, consumer: str, after: dt.timedelta) -> None:
        self.consumer = consumer
        self.after = after
        self._from: dt.datetime | None = None

    async def send_again(self, session: AsyncSession) -> int:
        """Stage the lost facts again in the session's transaction (the relay publishes them after its commit)."""
        until = utcnow() - self.after
        connection = await session_connection(session)
        oldest: dt.datetime | None = None
        sent = 0
        after: tuple[dt.datetime, str] | None = None
        while rows := await repository.still_received(connection, before=until, since=self._from, after=after,
                                                      limit=self.PAGE):
            by_fact = {fact_id(row.event_id): row for row in rows}
            parked = await awaiting_replay_among(session, self.consumer, list(by_fact))
            lost = {fact: row for fact, row in by_fact.items() if fact not in parked}
            if lost:
                oldest = oldest or min(row.received_at for row in lost.values())
                await publish_again(connection, [received_fact(row.event_id, row.type, row.endpoint, row.received_at)
                                                 for row in lost.values()])
                sent += len(lost)
            if len(rows) < self.PAGE:
                break
            after = (rows[-1].received_at, rows[-1].event_id)
        self._from = oldest or until
        if sent:
            logger.warning("stored Stripe events not processed in time: their facts are sent again",
                           extra={"events": sent, "after_seconds": self.after.total_seconds()})
        return sent

    async def run(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """A pass every ``after``, each in a transaction of its own, until cancelled (a backlog's facts are
        sent again at most once per ``after``)."""

        async def one_pass() -> int:
            async with sessionmaker() as session:
                sent = await self.send_again(session)
                if sent:
                    await session.commit()
            return sent

        # The first pass too waits ``after``: nothing that arrived since the start is due before that.
        await run_passes(one_pass, poll_seconds=self.after.total_seconds(), logger=logger, first_after_poll=True,
                         failure_message="looking for stored Stripe events whose fact was lost failed")

"""Webhook intake (P4): verify the signature on the raw body, store the event by its id, answer.

Nothing is processed here: the stored event's ``stripe.event_received`` fact goes out through the
outbox in the same transaction, and the consumer processes it (inbox, retries, dead letters). So a
Stripe retry of an event we already have changes nothing, and the answer is fast.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.db import utcnow
from homecraft_shared.errors import Problem
from homecraft_shared.events.payments import StripeEventReceivedV1
from homecraft_shared.messaging.outbox import record_event
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


async def store(session: AsyncSession, event: dict[str, Any], payload: bytes, endpoint: Endpoint) -> Intake:
    now = utcnow()
    stored = await repository.insert_once(session, {
        "event_id": event["id"], "type": event["type"], "endpoint": endpoint,
        "account": event.get("account") if isinstance(event.get("account"), str) else None,
        "livemode": bool(event.get("livemode")),
        "stripe_created": dt.datetime.fromtimestamp(event["created"], dt.UTC),
        "payload": payload.decode(), "received_at": now, "status": "received", "outcome": "",
    })
    if stored:
        record_event(session, StripeEventReceivedV1(stripe_event_id=event["id"], type=event["type"], endpoint=endpoint,
                                                    received_at=now), subject_id=event["id"])
    return Intake(event["id"], event["type"], stored)

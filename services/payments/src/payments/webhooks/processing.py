"""Processing a stored Stripe event (P4), from the consumer's transaction.

Every handler is idempotent and re-reads state instead of trusting arrival order: the same event
twice changes nothing (its row says it was processed, and the ledger's movement keys hold anyway),
and an event about an order this service has not seen paid yet waits (``status = waiting``) and
runs again when the order's ``order.paid`` arrives -- it is never dropped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.at_commit import WrittenAtCommit
from homecraft_shared.background import run_passes
from homecraft_shared.connections import execute, flush_pending, session_connection
from homecraft_shared.db import utcnow
from homecraft_shared.transaction_values import KeptForTransaction
from payments.models import PaidOrder
from payments.paid_orders.repository import OrderKeys, lock_ahead
from payments.webhooks import repository

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    status: str  # processed | ignored | waiting
    message: str
    waiting_for: str | None = None

    @classmethod
    def done(cls, message: str) -> Outcome:
        return cls("processed", message)

    @classmethod
    def ignored(cls, message: str) -> Outcome:
        return cls("ignored", message)

    @classmethod
    def wait(cls, key: str, message: str) -> Outcome:
        return cls("waiting", message, key)


@dataclass(frozen=True)
class StripeFact:
    """A stored Stripe event as the handlers see it."""

    event_id: str
    type: str
    created: dt.datetime
    object: dict[str, Any]
    account: str | None


Handler = Callable[[AsyncSession, StripeFact], Awaitable[Outcome]]


@functools.cache
def _registry() -> dict[str, Handler]:
    # Imported here, once: the feature modules import this module's Outcome.
    from payments.checkout.completion import on_checkout_completed
    from payments.connect.service import on_account_updated
    from payments.disputes.service import on_dispute
    from payments.refunds.observed import on_charge_refunded, on_refund

    return {
        "checkout.session.completed": on_checkout_completed,
        "charge.refunded": on_charge_refunded,
        "refund.created": on_refund,
        "refund.updated": on_refund,
        "charge.dispute.created": on_dispute,
        "charge.dispute.updated": on_dispute,
        "charge.dispute.closed": on_dispute,
        "account.updated": on_account_updated,
    }


@functools.cache
def _order_keys_registry() -> dict[str, Callable[[dict[str, Any]], OrderKeys]]:
    """The event types whose handler locks the paid order its object names: how to name it from the object.
    A consumer transaction locks those orders ahead, one statement per kind of key (decision 0324)."""
    from payments.refunds.observed import order_keys

    return {"refund.created": order_keys, "refund.updated": order_keys}


HANDLED_TYPES = frozenset({
    "checkout.session.completed", "charge.refunded", "refund.created", "refund.updated", "charge.dispute.created",
    "charge.dispute.updated", "charge.dispute.closed", "account.updated",
})


@dataclass(frozen=True)
class StoredEvent:
    """A stored Stripe event's columns the processing needs (read with Core, no ORM object: 0307)."""

    event_id: str
    type: str
    status: str
    payload: str
    stripe_created: dt.datetime
    account: str | None

    @functools.cached_property
    def data_object(self) -> dict[str, Any]:
        """The Stripe object the event is about (``data.object``), parsed once."""
        data_object = (json.loads(self.payload).get("data") or {}).get("object")
        if not isinstance(data_object, dict):
            raise ValueError(f"Stripe event {self.event_id} has no data.object")
        return data_object


_EVENTS = repository.STRIPE_EVENTS
_STORED_COLUMNS = (_EVENTS.c.event_id, _EVENTS.c.type, _EVENTS.c.status, _EVENTS.c.payload, _EVENTS.c.stripe_created,
                   _EVENTS.c.account)
# Built once (decision 0307): their cache keys are computed once, not per event.
_STORED_BY_ID = select(*_STORED_COLUMNS).where(_EVENTS.c.event_id == bindparam("event_id"))
_MARK = (update(_EVENTS).where(_EVENTS.c.event_id == bindparam("key"))
         .values(status=bindparam("status"), outcome=bindparam("outcome"),
                 waiting_for_order=bindparam("waiting_for_order"), processed_at=bindparam("processed_at")))
_WAITING_ORDER = (_EVENTS.c.stripe_created, _EVENTS.c.received_at)


# An event's outcome is written with the outcomes of the other events of its transaction, in one executemany
# UPDATE just before the commit (decision 0317): a consumer batch of N events sends one statement, not N. Reads
# of stored events in the same transaction see them: by id through ``kept``, by status after ``write_now``.
_OUTCOMES = WrittenAtCommit("stripe_event_outcomes", _MARK)


# The stored events a consumer transaction is about to process, read in one statement before its first
# handler (decision 0317), with the transaction they were read in: each serves one ``stored_event``.
_READ_AHEAD: KeptForTransaction[dict[str, StoredEvent]] = KeptForTransaction("stored_events_read_ahead")
_STORED_AMONG = select(*_STORED_COLUMNS).where(_EVENTS.c.event_id.in_(bindparam("event_ids", expanding=True)))


async def read_ahead(session: AsyncSession, event_ids: Sequence[str]) -> None:
    """Read the stored events ahead, then lock the paid orders those still to be processed are about (0324)."""
    rows = await execute(await session_connection(session), _STORED_AMONG, {"event_ids": list(event_ids)})
    stored = {found.event_id: StoredEvent(*found) for found in rows.all()}
    _READ_AHEAD.keep(session, stored)
    keys_of = _order_keys_registry()
    wanted = []
    for row in stored.values():
        if row.type in keys_of and row.status not in ("processed", "ignored"):
            try:
                wanted.append(keys_of[row.type](row.data_object))
            except (ValueError, TypeError, AttributeError):  # unreadable: its own processing fails it, alone
                continue
    await lock_ahead(session, wanted)


async def stored_event(session: AsyncSession, event_id: str) -> StoredEvent | None:
    """The stored event: read ahead in this transaction, else read now; with its outcome if this transaction
    already processed it."""
    row = (_READ_AHEAD.get(session) or {}).pop(event_id, None)
    if row is None:
        found = (await execute(await session_connection(session), _STORED_BY_ID, {"event_id": event_id})).first()
        if found is None:
            return None
        row = StoredEvent(*found)
    pending = _OUTCOMES.kept(session).get(event_id)
    return dataclasses.replace(row, status=pending["status"]) if pending is not None else row


async def process(session: AsyncSession, row: StoredEvent) -> Outcome | None:
    """Process one stored event unless it was already; the caller's transaction commits the result."""
    if row.status in ("processed", "ignored"):
        return None
    handler = _registry().get(row.type)
    if handler is None:
        outcome = Outcome.ignored(f"type {row.type} is not handled (stored for the record)")
    else:
        fact = StripeFact(row.event_id, row.type, row.stripe_created, row.data_object, row.account)
        outcome = await handler(session, fact)
    # Whatever the handler staged through the unit of work goes first (its reads ran on the same transaction).
    await flush_pending(session)
    await _OUTCOMES.keep(session, key=row.event_id, row={
        "key": row.event_id, "status": outcome.status, "outcome": outcome.message[:2000],
        "waiting_for_order": outcome.waiting_for,
        "processed_at": utcnow() if outcome.status != "waiting" else None})
    return outcome


async def resume_waiting(session: AsyncSession, order: PaidOrder) -> int:
    """Run the events that waited for this order (by order id, payment intent or charge)."""
    keys = [key for key in (order.order_id, order.payment_intent_id, order.charge_id) if key]
    await _OUTCOMES.write_now(session)
    rows = (await execute(await session_connection(session), select(*_STORED_COLUMNS).where(
        _EVENTS.c.status == "waiting", _EVENTS.c.waiting_for_order.in_(keys)).order_by(*_WAITING_ORDER))).all()
    for row in rows:
        await process(session, StoredEvent(*row))
    return len(rows)


async def sweep_waiting(session: AsyncSession) -> int:
    """Run the waiting events whose order is known by now.

    ``order.paid`` resumes the events waiting for it in its own transaction, but an event can start
    waiting concurrently (its transaction did not see the order yet; the order's did not see the
    event waiting yet). This sweep closes that window: nothing waits for a known order for long.
    """
    await _OUTCOMES.write_now(session)
    rows = (await execute(await session_connection(session), select(*_STORED_COLUMNS, _EVENTS.c.waiting_for_order)
                          .where(_EVENTS.c.status == "waiting").order_by(*_WAITING_ORDER).limit(200))).all()
    resumed = 0
    for row in rows:
        key = row.waiting_for_order
        if not key:
            continue
        known = await session.scalar(select(PaidOrder.order_id).where(or_(
            PaidOrder.order_id == key, PaidOrder.payment_intent_id == key, PaidOrder.charge_id == key)).limit(1))
        if known is not None:
            await process(session, StoredEvent(*row[:6]))
            resumed += 1
    return resumed


async def run_sweeper(sessionmaker: async_sessionmaker[AsyncSession], interval_seconds: float) -> None:
    """Sweep the waiting events every ``interval_seconds``, each sweep in a transaction of its own."""

    async def sweep() -> int:
        async with sessionmaker() as session:
            resumed = await sweep_waiting(session)
            if resumed:
                await session.commit()
        return resumed

    await run_passes(sweep, poll_seconds=interval_seconds, logger=logger,
                     failure_message="sweep of waiting Stripe events failed")

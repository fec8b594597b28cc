"""The transactional outbox and its relay to JetStream.

``record_event`` adds an event to the caller's session, so it commits with the state change or not
at all. The relay publishes unpublished rows in order with ``Nats-Msg-Id`` = event id and marks
them published only after JetStream acked; if it dies in between, the row is published again with
the same id and JetStream's duplicate window (then the consumer's inbox) drops the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import weakref

from nats.js import JetStreamContext
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from homecraft_shared.db import is_sqlite, utcnow
from homecraft_shared.messaging.contracts import CONTRACTS, EventData
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.observability import causation_id_var, current_correlation_id

logger = logging.getLogger(__name__)

_PENDING_FLAG = "outbox_pending"
# Relays to wake when a session that recorded events commits (cuts latency below the poll interval).
_wakers: weakref.WeakSet[asyncio.Event] = weakref.WeakSet()


def record_event(session: AsyncSession, data: EventData, *, subject_id: str) -> EventEnvelope:
    """Stage an event in the outbox, inside the caller's transaction."""
    contract = CONTRACTS.for_model(type(data))
    envelope = EventEnvelope(
        id=uuid.uuid4(),
        type=contract.type,
        version=contract.version,
        source=contract.producer,
        occurred_at=utcnow(),
        correlation_id=current_correlation_id(),
        causation_id=causation_id_var.get(),
        subject_id=subject_id,
        data=data.model_dump(mode="json"),
    )
    session.add(
        OutboxEvent(
            event_id=envelope.id,
            subject=envelope.subject,
            payload=envelope.model_dump_json(),
            created_at=envelope.occurred_at,
            attempts=0,
        )
    )
    session.info[_PENDING_FLAG] = True
    return envelope


def _wake_relays_after_commit(session: Session) -> None:
    if session.info.pop(_PENDING_FLAG, False):
        for waker in list(_wakers):
            waker.set()


def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_FLAG, None)


event.listen(Session, "after_commit", _wake_relays_after_commit)
event.listen(Session, "after_soft_rollback", lambda session, _tx: _forget_after_rollback(session))


class OutboxRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        js: JetStreamContext,
        *,
        batch_size: int = 200,
        poll_seconds: float = 0.5,
        publish_timeout: float = 5.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._js = js
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._publish_timeout = publish_timeout
        self._wake = asyncio.Event()
        _wakers.add(self._wake)

    async def run(self) -> None:
        """Publish forever; errors (NATS down, database busy) are logged and retried."""
        while True:
            try:
                published = await self.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("outbox relay pass failed; will retry", extra={"error": repr(exc)})
                published = 0
                await asyncio.sleep(self._poll_seconds)
            if published < self._batch_size:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
                # that arrives as the wait completes, and the service would never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_seconds):
                        await self._wake.wait()
                self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished events in order; returns how many were published."""
        async with self._sessionmaker() as session:
            query = (
                select(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None))
                .order_by(OutboxEvent.seq)
                .limit(self._batch_size)
            )
            if not is_sqlite(str(session.bind.url)):
                # Several relay replicas share the table without publishing the same row at once.
                query = query.with_for_update(skip_locked=True)
            rows = (await session.scalars(query)).all()
            published = 0
            try:
                for row in rows:
                    await self._publish(row)
                    row.published_at = utcnow()
                    row.attempts += 1
                    published += 1
            except Exception as exc:
                if rows[published:]:
                    failed = rows[published]
                    failed.attempts += 1
                    failed.last_error = repr(exc)[:2000]
                await session.commit()
                raise
            await session.commit()
            return published

    async def _publish(self, row: OutboxEvent) -> None:
        await self._js.publish(
            row.subject,
            row.payload.encode(),
            timeout=self._publish_timeout,
            headers={"Nats-Msg-Id": str(row.event_id)},
        )

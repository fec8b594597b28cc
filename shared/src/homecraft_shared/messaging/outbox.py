"""The transactional outbox and its relay to JetStream.

``record_event`` adds an event to the caller's session, so it commits with the state change or not
at all. The relay publishes unpublished rows in ``seq`` order with ``Nats-Msg-Id`` = event id and
marks them published only after JetStream acked; if it dies in between, the row is published again
with the same id and JetStream's duplicate window (then the consumer's inbox) drops the copy. The
order is not a guarantee consumers may rely on (decision 0002): an event JetStream refuses is
skipped and retried while later ones go on.

A service's events do not wait for a relay pass, though: the ``EagerPublisher`` of its process publishes
them as soon as the commit that holds them returns and marks them published (decision 0323). The relay then
only takes rows older than a grace period: the events of a process that died between its commit and that
publish, or of a moment NATS was away. Either way an event is published at least once, under its id.

An event of a contract held in memory (decision 0327) may skip the outbox altogether (``publish_unrecorded``,
decision 0328): its producer's own store already says whether it was applied, and the producer sends it again
(through the outbox) when it was not.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import PubAck
from sqlalchemy import URL, Table, Update, event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

from homecraft_shared.at_commit import WrittenAtCommit
from homecraft_shared.background import run_passes
from homecraft_shared.commit_signal import CommitSignal
from homecraft_shared.connections import execute
from homecraft_shared.db import dialect_of, utcnow
from homecraft_shared.group_commit import GroupCommit
from homecraft_shared.messaging.contracts import CONTRACTS, EventData
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.observability import causation_id_var, current_correlation_id
from homecraft_shared.upsert import insert_for

logger = logging.getLogger(__name__)

# Wakes this process's relays when a session that recorded events commits (cuts latency below the poll).
EVENTS_COMMITTED = CommitSignal("outbox")


def envelope_for(data: EventData, *, subject_id: str, event_id: uuid.UUID | None = None) -> EventEnvelope:
    """The envelope of an event of this process: its contract's type and producer, the current
    correlation and causation ids, a new event id unless given."""
    contract = CONTRACTS.for_model(type(data))
    return EventEnvelope(
        id=event_id or uuid.uuid4(),
        type=contract.type,
        version=contract.version,
        source=contract.producer,
        occurred_at=utcnow(),
        correlation_id=current_correlation_id(),
        causation_id=causation_id_var.get(),
        subject_id=subject_id,
        data=data.model_dump(mode="json"),
    )


def outbox_row(envelope: EventEnvelope) -> dict[str, object]:
    """The outbox row of an event, as column values."""
    return {"event_id": envelope.id, "subject": envelope.subject, "payload": envelope.model_dump_json(),
            "created_at": envelope.occurred_at, "attempts": 0}


def record_event(session: AsyncSession, data: EventData, *, subject_id: str) -> EventEnvelope:
    """Stage an event in the outbox, inside the caller's transaction."""
    envelope = envelope_for(data, subject_id=subject_id)
    row = outbox_row(envelope)
    session.add(OutboxEvent(**row))
    _publish_after_commit(session, row)
    return envelope


# Built once: its compiled form is cached under one key (decision 0307).
_INSERT_OUTBOX = insert(cast(Table, OutboxEvent.__table__))
# The outbox rows stage_event keeps on a session until just before its commit (one INSERT for all).
_STAGED_ROWS = WrittenAtCommit("outbox_staged_rows", _INSERT_OUTBOX)


async def publish_again(connection: AsyncConnection, envelopes: Sequence[EventEnvelope]) -> None:
    """Have the relay publish these events again, under their ids, once the caller's transaction commits: events
    NATS holds in memory that their producer found never applied (decisions 0327, 0328). JetStream drops the copy
    of an event it still holds (the duplicate window) and stores again one it lost. One upsert: an outbox row that
    is there is marked unpublished, one that is not (never written, decision 0328, or pruned) is written; once,
    even when several replicas of the producer do this at the same moment."""
    if envelopes:
        upsert = insert_for(connection, OutboxEvent.__table__).on_conflict_do_update(
            index_elements=["event_id"], set_={"published_at": None})
        await execute(connection, upsert, [outbox_row(envelope) for envelope in envelopes])


async def stage_event(session: AsyncSession, data: EventData, *, subject_id: str) -> EventEnvelope:
    """``record_event`` without the unit of work, for hot paths (decisions 0307, 0308): the event's outbox
    row is kept on the session and every row kept in the transaction is written by ONE INSERT just before
    its commit (the session's ``before_commit``), so a consumer batch that stages one event per message
    writes them all in one statement. Same transaction, and published the same way after the commit (eagerly,
    else by the relay: decision 0323); a rollback forgets them. Inside a savepoint (which could be rolled
    back alone) the row is written at once.
    Nothing may read the outbox inside the transaction expecting these rows (nothing does: only the relay
    reads it, after commits)."""
    envelope = envelope_for(data, subject_id=subject_id)
    row = outbox_row(envelope)
    await _STAGED_ROWS.keep(session, row)
    _publish_after_commit(session, row)
    return envelope


# The outbox rows of a session's transaction, handed to the eager publisher of its database when it commits.
_COMMITTING_ROWS = "outbox_rows_to_publish"
# Put there instead when a savepoint of the transaction was rolled back: which of its rows went with the
# savepoint is not tracked, so none is published eagerly (the relay publishes those that committed).
_SAVEPOINT_ROLLED_BACK = "savepoint rolled back"


def _publish_after_commit(session: AsyncSession, row: dict[str, object]) -> None:
    EVENTS_COMMITTED.flag(session)
    rows = session.info.setdefault(_COMMITTING_ROWS, [])
    if isinstance(rows, list):
        rows.append(row)


@event.listens_for(Session, "after_commit")
def _hand_committed_rows_over(session: Session) -> None:
    rows = session.info.pop(_COMMITTING_ROWS, None)
    if isinstance(rows, list) and rows and session.bind is not None:
        _hand_to_publishers(session.bind.engine.url, rows)  # the session's flag wakes the relays


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back_rows(session: Session, transaction: SessionTransaction) -> None:
    if not transaction.nested:
        session.info.pop(_COMMITTING_ROWS, None)
    elif _COMMITTING_ROWS in session.info:
        session.info[_COMMITTING_ROWS] = _SAVEPOINT_ROLLED_BACK


def publish_unrecorded(database: URL, envelopes: Sequence[EventEnvelope]) -> None:
    """Publish events that have no outbox row (decision 0328): only events of contracts held in memory, whose
    producer keeps what they say in its own store, committed before this call, and sends them again through
    the outbox when they were not applied in time (decision 0327). The eager publisher of ``database`` in this
    process sends them now and marks nothing. Whatever it does not get published (none runs, NATS is away,
    the process dies, a full queue) is not published at all until the producer sends it again."""
    for envelope in envelopes:
        if not CONTRACTS.get(envelope.type, envelope.version).held_in_memory:
            raise ValueError(f"{envelope.subject} is kept on disk: it is published through the outbox")
    _hand_to_publishers(database, [outbox_row(envelope) for envelope in envelopes], recorded=False)


def _hand_to_publishers(database: URL, rows: Sequence[dict[str, object]], *, recorded: bool = True) -> None:
    for publisher in _EAGER_PUBLISHERS:
        if publisher.database == database:
            publisher.take(rows, recorded=recorded)


# Errors after which JetStream (or the client) refused this one event: other events can still go.
# Anything else (a timeout, a lost connection) would fail every event alike and ends the pass.
ROW_SPECIFIC_ERRORS: tuple[type[Exception], ...] = (
    nats.js.errors.APIError,  # e.g. the message is larger than the stream accepts
    nats.js.errors.NoStreamResponseError,  # no stream stores the subject
    nats.errors.NoRespondersError,
    nats.errors.MaxPayloadError,  # larger than the server accepts
)
# A refused event is tried again after these delays (the last one repeats), in this process.
REFUSED_BACKOFF_SECONDS = (1.0, 5.0, 30.0, 60.0)


@dataclass
class RelayStats:
    """Counters of what the relay did (for tests, benchmarks and logs)."""

    published: int = 0
    publish_failures: int = 0  # attempts that raised: a timeout, NATS down, JetStream refused the event
    refused: int = 0  # of those, refusals of one event (it is skipped and retried later)
    duplicates: int = 0  # acks saying JetStream already had the event (a retry after a lost ack)


def _mark_published_statement(seqs: Sequence[int]) -> Update:
    return (update(OutboxEvent).where(OutboxEvent.seq.in_(seqs))
            .values(published_at=utcnow(), attempts=OutboxEvent.attempts + 1)
            .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class _MarkPublished:
    """A group commit's work: mark these acked rows published (idempotent: a re-run alone sets the same)."""

    seqs: list[int]

    async def __call__(self, connection: AsyncConnection) -> None:
        await execute(connection, _mark_published_statement(self.seqs))


def _mark_published_by_id_statement(event_ids: Sequence[uuid.UUID]) -> Update:
    # Not a row the relay published meanwhile (it counted its own attempt).
    return (update(OutboxEvent).where(OutboxEvent.event_id.in_(event_ids), OutboxEvent.published_at.is_(None))
            .values(published_at=utcnow(), attempts=OutboxEvent.attempts + 1)
            .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class _MarkPublishedByEventId:
    """A group commit's work: mark these eagerly published rows published."""

    event_ids: list[uuid.UUID]

    async def __call__(self, connection: AsyncConnection) -> None:
        await execute(connection, _mark_published_by_id_statement(self.event_ids))


# The eager publishers running in this process (one per service runtime), by the database they serve.
_EAGER_PUBLISHERS: set[EagerPublisher] = set()


class EagerPublisher:
    """Publishes a process's events as soon as the commit holding their outbox rows returns (decision 0323).

    Without it an event waits for the relay: for the pass under way to end (its acks, its marking commit),
    then for the next pass's SELECT. This takes the rows the commit hook hands over (every session that recorded
    or staged events), sends them at once on the one NATS connection
    (``Nats-Msg-Id`` = event id, pipelined like the relay's), and marks the acked ones published through the
    group commit, with the other writers of that moment. It reads nothing from the database.

    It is only a shortcut: the outbox row is committed before it gets here, and whatever it does not get
    published (NATS away, the process dying, a full queue) the relay publishes after its grace period. A row
    both publish is stored once by JetStream (the duplicate window) and applied once by the consumers (inbox).
    The one exception is an event with no outbox row (``publish_unrecorded``): it is published here or not at
    all, and has nothing to mark.
    """

    def __init__(self, database: URL, js: JetStreamContext, marks: GroupCommit, *, batch_size: int = 200,
                 publish_timeout: float = 5.0, max_waiting: int = 10_000) -> None:
        self.database = database
        self._js = js
        self._marks = marks
        self._batch_size = batch_size
        self._publish_timeout = publish_timeout
        # Beyond this many rows waiting (NATS slow or away) the oldest are left to the relay. Each row comes
        # with whether it is in the outbox (to be marked published once acked).
        self._waiting: deque[tuple[dict[str, Any], bool]] = deque(maxlen=max_waiting)
        self._ready = asyncio.Event()
        self.stats = RelayStats()

    def take(self, rows: Sequence[dict[str, Any]], *, recorded: bool = True) -> None:
        """Committed outbox rows to publish now (called from the commit hook: no I/O); not ``recorded``: the
        same for events with no outbox row (``publish_unrecorded``)."""
        self._waiting.extend((row, recorded) for row in rows)
        self._ready.set()

    async def run(self) -> None:
        """Publish what commits hand over, until cancelled; each failure is logged and left to the relay."""
        _EAGER_PUBLISHERS.add(self)
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while self._waiting:
                    batch = [self._waiting.popleft() for _ in range(min(len(self._waiting), self._batch_size))]
                    try:
                        await self._publish(batch)
                    except Exception as exc:
                        logger.warning("publishing committed events at once failed; the relay publishes them",
                                       extra={"events": len(batch), "error": repr(exc)})
        finally:
            _EAGER_PUBLISHERS.discard(self)

    async def _publish(self, rows: Sequence[tuple[dict[str, Any], bool]]) -> None:
        sent: list[tuple[uuid.UUID, asyncio.Future[PubAck]]] = []
        recorded: set[uuid.UUID] = set()
        failure: Exception | None = None
        for row, in_outbox in rows:
            try:
                future = await self._js.publish_async(str(row["subject"]), str(row["payload"]).encode(),
                                                      headers={"Nats-Msg-Id": str(row["event_id"])})
            except Exception as exc:  # e.g. NATS away: the rest of the batch is left to the relay too
                failure = exc
                break
            event_id = cast(uuid.UUID, row["event_id"])
            sent.append((event_id, future))
            if in_outbox:
                recorded.add(event_id)
        acked = [event_id for event_id in await self._acked(sent) if event_id in recorded]
        if acked:
            await self._marks.run(_MarkPublishedByEventId(acked))
        if failure is not None:
            raise failure

    async def _acked(self, sent: Sequence[tuple[uuid.UUID, asyncio.Future[PubAck]]]) -> list[uuid.UUID]:
        if not sent:
            return []
        _, late = await asyncio.wait([future for _, future in sent], timeout=self._publish_timeout)
        for future in late:
            future.cancel()
        acked: list[uuid.UUID] = []
        for event_id, future in sent:
            if future.cancelled() or future.exception() is not None:
                self.stats.publish_failures += 1
                continue
            acked.append(event_id)
            self.stats.published += 1
            if future.result().duplicate:
                self.stats.duplicates += 1
        return acked


class OutboxRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        js: JetStreamContext,
        *,
        batch_size: int = 200,
        poll_seconds: float = 0.5,
        publish_timeout: float = 5.0,
        marks: GroupCommit | None = None,
        grace_seconds: float = 0.0,
    ) -> None:
        """``grace_seconds``: only rows at least this old, beside an ``EagerPublisher`` (which publishes the
        newer ones; the relay is then not woken by commits either, it polls).

        ``marks``: a group commit on the same database (the runtime's) through which, on SQLite, the
        acked rows are marked published together with the other writers of that moment (a webhook's or a
        placement's rows): one commit, one fsync and one turn of the write lock fewer per pass
        (decision 0311). Not used on PostgreSQL, where the relay's own transaction holds the rows it
        publishes locked (``FOR UPDATE SKIP LOCKED``) until it marks them: another connection's UPDATE of
        them would wait for the relay, which would wait for it."""
        self._sessionmaker = sessionmaker
        self._marks = marks
        self._js = js
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._publish_timeout = publish_timeout
        self._grace = dt.timedelta(seconds=grace_seconds)
        self._wake = EVENTS_COMMITTED.waiter() if not grace_seconds else None
        self.stats = RelayStats()
        # Events JetStream refused: event id -> (refusals so far, monotonic time of the next try).
        self._refused: dict[uuid.UUID, tuple[int, float]] = {}

    async def run(self) -> None:
        """Publish forever: woken by commits of events, polling besides, at once again after a full batch;
        errors (NATS down, database busy) are logged and retried."""
        await run_passes(self.publish_pending, poll_seconds=self._poll_seconds, wake=self._wake, full=self._batch_size,
                         logger=logger, failure_message="outbox relay pass failed; will retry")

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished events in ``seq`` order; returns how many were published.

        The batch is pipelined: every row is sent in ``seq`` order on the one connection, then the
        acks are awaited together (one round trip and one fsync'd ack wait per batch instead of per
        event), and the acked rows are marked published in one statement, after the acks. An event
        JetStream refuses (its subject is in no stream, it is too large) is recorded on its row
        (``attempts``, ``last_error``), logged as an error and retried later with backoff, while the
        events after it go on: one bad event must not hold up every later one. A failure that is not
        about the event (timeout, NATS down) ends the pass after recording it and marking what was acked.
        """
        now = time.monotonic()
        waiting = [event_id for event_id, (_, retry_at) in self._refused.items() if retry_at > now]
        async with self._sessionmaker() as session:
            query = select(OutboxEvent).where(OutboxEvent.published_at.is_(None))
            if waiting:
                query = query.where(OutboxEvent.event_id.not_in(waiting))
            if self._grace:
                query = query.where(OutboxEvent.created_at <= utcnow() - self._grace)
            query = query.order_by(OutboxEvent.seq).limit(self._batch_size)
            if dialect_of(session) != "sqlite":
                # Several relay replicas share the table without publishing the same row at once.
                query = query.with_for_update(skip_locked=True)
            rows = (await session.scalars(query)).all()
            if not rows:
                return 0
            outcomes = await self._publish_batch(rows)
            acked: list[OutboxEvent] = []
            failure: Exception | None = None
            for row, outcome in zip(rows, outcomes, strict=True):
                if outcome is None:  # not sent: an earlier failure ended the pass
                    continue
                if isinstance(outcome, Exception):
                    self.stats.publish_failures += 1
                    row.attempts += 1
                    row.last_error = repr(outcome)[:2000]
                    if isinstance(outcome, ROW_SPECIFIC_ERRORS):
                        self._refuse(row, outcome)
                    elif failure is None:
                        failure = outcome
                    continue
                acked.append(row)
                self.stats.published += 1
                if outcome.duplicate:
                    self.stats.duplicates += 1
                self._refused.pop(row.event_id, None)
            if self._marks is not None and acked and dialect_of(session) == "sqlite":
                # Before the session's commit, which may write (a failed row's attempts): the relay must not
                # hold the write lock itself while the group waits for it.
                await self._marks.run(_MarkPublished([row.seq for row in acked]))
            else:
                await self._mark_published(session, acked)
            await session.commit()
            if failure is not None:
                raise failure
            return len(acked)

    async def _mark_published(self, session: AsyncSession, rows: Sequence[OutboxEvent]) -> None:
        """One UPDATE for the rows JetStream acked."""
        if rows:
            await session.execute(_mark_published_statement([row.seq for row in rows]))

    async def _publish_batch(self, rows: Sequence[OutboxEvent]) -> list[PubAck | Exception | None]:
        """Send every row in order, then wait for the acks together (bounded by the publish timeout).

        Per row: its ack, the error it got, or None when it was not sent (a failure that is not about
        one event, e.g. the connection closed, stops the sending)."""
        sent: list[asyncio.Future[PubAck] | Exception | None] = []
        for row in rows:
            try:
                sent.append(await self._send(row))
            except Exception as exc:
                sent.append(exc)
                if not isinstance(exc, ROW_SPECIFIC_ERRORS):
                    sent.extend([None] * (len(rows) - len(sent)))
                    break
        futures = [item for item in sent if isinstance(item, asyncio.Future)]
        if futures:
            _, late = await asyncio.wait(futures, timeout=self._publish_timeout)
            for future in late:
                future.cancel()
        outcomes: list[PubAck | Exception | None] = []
        for item in sent:
            if not isinstance(item, asyncio.Future):
                outcomes.append(item)
            elif item.cancelled():
                outcomes.append(nats.errors.TimeoutError())
            else:
                error = item.exception()
                outcomes.append(item.result() if error is None else _as_exception(error))
        return outcomes

    def _refuse(self, row: OutboxEvent, exc: Exception) -> None:
        refusals = self._refused.get(row.event_id, (0, 0.0))[0] + 1
        delay = REFUSED_BACKOFF_SECONDS[min(refusals, len(REFUSED_BACKOFF_SECONDS)) - 1]
        if len(self._refused) > 10_000:  # rows published meanwhile by another replica linger here
            self._refused.clear()
        self._refused[row.event_id] = (refusals, time.monotonic() + delay)
        self.stats.refused += 1
        logger.error(
            "JetStream refused an outbox event; later events go on, this one is retried",
            extra={"event_id": str(row.event_id), "subject": row.subject, "attempts": row.attempts,
                   "retry_in_seconds": delay, "error": repr(exc)},
        )

    async def _send(self, row: OutboxEvent) -> asyncio.Future[PubAck]:
        """Send one event (``Nats-Msg-Id`` = its event id); the future resolves with JetStream's ack."""
        return await self._js.publish_async(
            row.subject,
            row.payload.encode(),
            headers={"Nats-Msg-Id": str(row.event_id)},
        )


def _as_exception(error: BaseException) -> Exception:
    return error if isinstance(error, Exception) else RuntimeError(repr(error))

"""Durable JetStream pull consumers whose effects happen exactly once.

For each message the handler's changes, any events it records and an inbox row (consumer, event id)
commit in one transaction; the ack follows the commit. A redelivered event finds its inbox row and
changes nothing. A failing handler is retried with backoff (``nak`` with a delay) up to
``max_attempts`` deliveries, then the event is written to ``dead_letters`` and terminated; after a
fix, ``replay_dead_letters`` runs it through the same path.

Only the handler is blamed for a handler's failure: a failure of the commit itself (lock timeout,
serialization failure, the database going away) is retried without using up the event's attempts,
and an inbox-key violation counts as "another replica did it" only when the inbox row is really
there. While a batch or a single event is being handled its messages are kept alive with
``in_progress()``, so a slow handler is not redelivered to another replica mid-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from sqlalchemy import Table, Uuid, bindparam, column, func, insert, select, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.connections import Prepared, execute, flush_pending, session_connection
from homecraft_shared.db import utcnow, write_lock_held
from homecraft_shared.messaging.contracts import CONTRACTS, EventContract, EventData
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.jetstream import stream_of
from homecraft_shared.messaging.tables import DeadLetter, InboxEvent
from homecraft_shared.observability import correlation_scope

logger = logging.getLogger(__name__)

# Consecutive fetch failures (~0.5 s apart) before the consumer is set up again from scratch.
MAX_FETCH_FAILURES = 20
# How often "the producer's stream does not exist yet" is logged while the consumer waits for it.
STREAM_WAIT_LOG_SECONDS = 60.0
# Dead-letter ids of unreadable messages are derived from their place in the stream (stable across
# redeliveries, so a second delivery finds the first dead letter).
UNREADABLE_NAMESPACE = uuid.UUID("6f1d7c8e-3b0a-4d53-9d0e-2a7c5e1b9f40")

# PostgreSQL states that say "try again", not "this handler is wrong": serialization failure,
# deadlock, lock not available, statement timeout; class 08 is a lost connection.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014"})

HandlerFunc = Callable[[AsyncSession, EventData, EventEnvelope], Awaitable[None]]
E = TypeVar("E", bound=EventData)
TypedHandlerFunc = Callable[[AsyncSession, E, EventEnvelope], Awaitable[None]]
ReadAheadFunc = Callable[[AsyncSession, Sequence[E]], Awaitable[None]]


@dataclass(frozen=True)
class Handler:
    contract: EventContract
    func: HandlerFunc
    # The data fields this consumer reads; checked against the producer's schema in tests/contract.
    reads: tuple[str, ...]


@dataclass
class HandlerRegistry:
    """The one place a service registers what it consumes (cosmicpython's message bus shape)."""

    consumer_name: str
    _handlers: dict[tuple[str, int], Handler] = field(default_factory=dict)
    _read_aheads: dict[tuple[str, int], tuple[EventContract, ReadAheadFunc[Any]]] = field(default_factory=dict)

    def on(
        self, event: type[E], *, reads: Iterable[str]
    ) -> Callable[[TypedHandlerFunc[E]], TypedHandlerFunc[E]]:
        """Register the handler for an event contract's data model; ``reads`` names the fields it uses.

        Typed by the event: the handler takes ``event``'s data model (the consumer parses the data with
        that contract before calling it, so the narrowing below is sound).
        """
        contract = CONTRACTS.for_model(event)

        def register(func: TypedHandlerFunc[E]) -> TypedHandlerFunc[E]:
            if contract.key in self._handlers:
                raise ValueError(f"{self.consumer_name} already handles {contract.subject}")
            self._handlers[contract.key] = Handler(contract, cast(HandlerFunc, func), tuple(reads))
            return func

        return register

    def read_ahead_for(self, event: type[E]) -> Callable[[ReadAheadFunc[E]], ReadAheadFunc[E]]:
        """Register what reads ahead, for a batch's events of this contract, what their handlers will read one
        by one (e.g. one SELECT for all their rows instead of one per handler: decision 0317). It runs in the
        batch's transaction before the first handler, with the data of its events not applied yet. Only a
        shortcut: a handler still works without it (an event handled on its own is not read ahead)."""
        contract = CONTRACTS.for_model(event)

        def register(func: ReadAheadFunc[E]) -> ReadAheadFunc[E]:
            self._read_aheads[contract.key] = (contract, func)
            return func

        return register

    async def read_ahead(self, session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> dict[uuid.UUID, EventData]:
        """Run the registered read-aheads for these events, one call per contract; the data they were given, by
        event id, for the handlers (parsed once)."""
        parsed: dict[uuid.UUID, EventData] = {}
        if not self._read_aheads:
            return parsed
        grouped: dict[tuple[str, int], list[EventData]] = {}
        for envelope in envelopes:
            key = (envelope.type, envelope.version)
            if key in self._read_aheads:
                data = parsed[envelope.id] = self._read_aheads[key][0].parse(envelope.data)
                grouped.setdefault(key, []).append(data)
        for key, events in grouped.items():
            await self._read_aheads[key][1](session, events)
        return parsed

    def get(self, event_type: str, version: int) -> Handler | None:
        return self._handlers.get((event_type, version))

    def handlers(self) -> list[Handler]:
        return list(self._handlers.values())

    def streams(self) -> list[ConsumedStream]:
        """The streams this consumer reads, each with the subjects it handles there."""
        grouped: dict[tuple[str, str], list[str]] = {}
        for handler in self._handlers.values():
            grouped.setdefault((handler.contract.producer, stream_of(handler.contract)), []).append(
                handler.contract.subject)
        return [ConsumedStream(producer, stream, sorted(subjects)) for (producer, stream), subjects in grouped.items()]


@dataclass(frozen=True)
class ConsumedStream:
    producer: str
    stream: str
    subjects: list[str]


@dataclass(frozen=True)
class ConsumerSettings:
    max_attempts: int = 5
    ack_wait_seconds: float = 30.0
    backoff_seconds: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
    fetch_batch: int = 64
    max_ack_pending: int = 1000
    fetch_timeout_seconds: float = 1.0
    # SQLite: a batch's transaction that has held this process's write lock this long commits after the
    # event it is on, and the rest of the batch goes on in a new one, so the other writers of the process
    # (a webhook's group commit waiting to answer) wait at most about this long (decision 0309).
    max_write_hold_seconds: float = 0.15
    # Per producer (its streams): its events are applied in up to this many transactions at once, each on its own
    # connection, as by that many replicas, so that their statements' round trips overlap instead of queueing
    # on one connection (decision 0315); a fetch fills the transactions free at that moment, cut into parts,
    # without waiting for those under way (decision 0319). Unnamed streams: 1. Only for
    # handlers whose transactions cannot wait for each other in a cycle; never on SQLite (one writer at a
    # time: the parts would only take turns).
    parallel_transactions: Mapping[str, int] = field(default_factory=dict)

    def delay_after(self, attempt: int) -> float:
        if not self.backoff_seconds:
            return 0.0
        return self.backoff_seconds[max(1, min(attempt, len(self.backoff_seconds))) - 1]

    @property
    def keep_alive_seconds(self) -> float:
        """How often messages being handled are reported in progress: well inside the ack wait."""
        return self.ack_wait_seconds / 3


@dataclass
class ConsumerStats:
    """Counters of what the consumer did (for tests, benchmarks and logs)."""

    fetch_failures: int = 0
    applied: int = 0
    duplicates: int = 0  # already in the inbox: a redelivery, or another replica was first
    handler_failures: int = 0
    commit_failures: int = 0  # the transaction failed on the database (lock, lost connection): not an attempt
    dead_lettered: int = 0
    unhandled: int = 0  # no handler registered: recorded in the inbox and acked
    batch_transactions: int = 0  # committed transactions of fetched batches (more than one per batch when split)


def is_transient_database_error(exc: BaseException) -> bool:
    """A failure of the database rather than of the handler's logic (locks, lost connections)."""
    if isinstance(exc, OperationalError | ConnectionError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        origin: BaseException | None = exc.orig
        while origin is not None:
            sqlstate = getattr(origin, "sqlstate", None)
            if isinstance(sqlstate, str):
                return sqlstate in TRANSIENT_SQLSTATES or sqlstate.startswith("08")
            origin = origin.__cause__
    return False


async def already_applied(session: AsyncSession, consumer: str, event_id: uuid.UUID) -> bool:
    return await session.get(InboxEvent, (consumer, event_id)) is not None


_INBOX = cast(Table, InboxEvent.__table__)
# Built once (decision 0307): the batch's inbox check and its inbox rows, each ONE statement per batch.
_APPLIED_AMONG = select(_INBOX.c.event_id).where(
    _INBOX.c.consumer == bindparam("consumer"), _INBOX.c.event_id.in_(bindparam("event_ids", expanding=True)))
# PostgreSQL: one probe of the primary key per event id, whatever the table's statistics (decision 0326). A scalar
# subquery in WHERE stays a subplan run per id, each an equality on the whole key. With the IN list above, an
# inbox PostgreSQL had not analyzed yet (a new database's first minute; a restored or upgraded one until ANALYZE)
# was read through all of the consumer's rows: 0.5 ms per batch at 3,000 rows, 7 ms at 30,000.
_WANTED = func.unnest(bindparam("event_ids", type_=postgresql.ARRAY(Uuid))).table_valued(
    column("event_id", Uuid)).render_derived(name="wanted")
_APPLIED_AMONG_PROBED = Prepared(select(_WANTED.c.event_id).where(
    select(true()).where(_INBOX.c.consumer == bindparam("consumer"), _INBOX.c.event_id == _WANTED.c.event_id)
    .scalar_subquery()))
_INSERT_INBOX = insert(_INBOX)


async def applied_among(session: AsyncSession, consumer: str, event_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these events this consumer already applied (its inbox rows): one statement for a batch."""
    if not event_ids:
        return set()
    connection = await session_connection(session)
    statement = _APPLIED_AMONG_PROBED if connection.dialect.name == "postgresql" else _APPLIED_AMONG
    rows = await execute(connection, statement, {"consumer": consumer, "event_ids": list(event_ids)})
    return set(rows.scalars())


async def add_inbox_rows(session: AsyncSession, registry: HandlerRegistry, envelopes: Sequence[EventEnvelope]) -> None:
    """The inbox rows of a batch's applied events, one INSERT on the session's connection (0307).

    Another replica's row for one of them fails this statement (``IntegrityError``), as no handler's fault."""
    if envelopes:
        now = utcnow()
        await execute(await session_connection(session), _INSERT_INBOX, [
            {"consumer": registry.consumer_name, "event_id": envelope.id, "event_type": envelope.type,
             "processed_at": now} for envelope in envelopes])


async def run_handler(session: AsyncSession, registry: HandlerRegistry, envelope: EventEnvelope,
                      parsed: EventData | None = None) -> bool:
    """Run the registered handler and flush what it wrote, so its own errors (constraint violations
    included) surface here, as the handler's; False when nothing is registered for the event. ``parsed``: the
    event's data as its read-ahead parsed it (the same contract), not parsed again."""
    handler = registry.get(envelope.type, envelope.version)
    if handler is None:
        logger.warning(
            "no handler registered for this event; recorded as handled",
            extra={"consumer": registry.consumer_name, "event_id": str(envelope.id), "type": envelope.type,
                   "version": envelope.version},
        )
        return False
    data = parsed if parsed is not None else handler.contract.parse(envelope.data)
    with correlation_scope(envelope.correlation_id, str(envelope.id)):
        await handler.func(session, data, envelope)
        await flush_pending(session)
    return True


def add_inbox_row(session: AsyncSession, registry: HandlerRegistry, envelope: EventEnvelope) -> None:
    session.add(
        InboxEvent(
            consumer=registry.consumer_name,
            event_id=envelope.id,
            event_type=envelope.type,
            processed_at=utcnow(),
        )
    )


async def apply_event(
    session: AsyncSession, registry: HandlerRegistry, envelope: EventEnvelope
) -> bool:
    """Run the handler for ``envelope`` in ``session`` unless this consumer already did.

    Returns False for an event already in the inbox. The caller commits.
    """
    if await already_applied(session, registry.consumer_name, envelope.id):
        return False
    await run_handler(session, registry, envelope)
    add_inbox_row(session, registry, envelope)
    return True


class _NeedsOneByOne(Exception):
    """A message in the batch must take the one-by-one path (e.g. it is past its attempts)."""


class _HandlerFailed(Exception):
    """Wraps an exception raised by a handler (as opposed to by the commit)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(repr(error))
        self.error = error


@dataclass(frozen=True)
class BatchFailure:
    index: int  # the message whose handler failed, or -1 when no single handler is to blame
    envelope: EventEnvelope | None
    error: Exception
    start: int = 0  # the messages before it were committed (and acked) in an earlier transaction of the batch


class EventConsumer:
    """Consumes every subject a registry handles, one durable consumer per producer stream."""

    def __init__(
        self,
        registry: HandlerRegistry,
        sessionmaker: async_sessionmaker[AsyncSession],
        js: JetStreamContext,
        settings: ConsumerSettings | None = None,
    ) -> None:
        self.registry = registry
        self._sessionmaker = sessionmaker
        self._js = js
        self.settings = settings or ConsumerSettings()
        self.stats = ConsumerStats()
        # Deliveries of an event that ended in a commit failure, not a handler failure: they do not
        # count as attempts. In memory (bounded): after a restart they count again, which can only
        # dead-letter an event earlier, never apply it twice.
        self._not_attempts: OrderedDict[uuid.UUID, int] = OrderedDict()

    async def run(self) -> None:
        await asyncio.gather(*(self._consume(consumed) for consumed in self.registry.streams()))

    async def _consume(self, consumed: ConsumedStream) -> None:
        """Wait for the producer's stream, set up the durable consumer and fetch; set it up again
        whenever that keeps failing (NATS not ready yet, the stream or consumer deleted on the server,
        a stream held in memory lost by a restart of NATS).

        The consumer never creates or changes the producer's stream: only the producer knows its
        subjects and replica count (decision 0002)."""
        task = asyncio.current_task()
        if task is not None:  # named in the logs (e.g. as the holder of the SQLite write lock: decision 0309)
            task.set_name(f"consumer:{self.registry.consumer_name}:{consumed.stream}")
        stream = consumed.stream
        while True:
            subscription = None
            try:
                await self._wait_for_stream(stream)
                subscription = await self._subscribe(stream, consumed.subjects)
                await self._fetch_loop(subscription, stream,
                                       self.settings.parallel_transactions.get(consumed.producer, 1))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("consumer setup or fetch keeps failing; setting up again",
                               extra={"stream": stream, "error": repr(exc)})
                await asyncio.sleep(1.0)
            finally:
                if subscription is not None:
                    with contextlib.suppress(Exception):
                        await subscription.unsubscribe()

    async def _wait_for_stream(self, stream: str) -> None:
        last_log = -STREAM_WAIT_LOG_SECONDS
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self._js.stream_info(stream)
                return
            except NotFoundError:
                if loop.time() - last_log >= STREAM_WAIT_LOG_SECONDS:
                    last_log = loop.time()
                    logger.info("waiting for the producer to create its stream", extra={"stream": stream})
                await asyncio.sleep(1.0)

    async def _subscribe(self, stream: str, subjects: list[str]) -> JetStreamContext.PullSubscription:
        durable = self.registry.consumer_name
        config = ConsumerConfig(
            durable_name=durable,
            filter_subjects=subjects,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.settings.ack_wait_seconds,
            # Unbounded on the server: the bound is ours, so a poison event always reaches dead letters.
            max_deliver=-1,
            max_ack_pending=self.settings.max_ack_pending,
        )
        await self._js.add_consumer(stream, config)
        return await self._js.pull_subscribe_bind(durable=durable, stream=stream)

    async def _fetch_loop(self, subscription: JetStreamContext.PullSubscription, stream: str, parts: int = 1) -> None:
        """Fetch and apply, up to ``parts`` transactions at once (decision 0319). A fetch takes what is there
        for the transactions free at that moment and cuts it into that many parts; it does not wait for the
        transactions still under way, so an event that arrives meanwhile waits for the first free one,
        not for the slowest part of the batch before it. Ends (to be set up again) after fetches kept failing,
        or at once when NATS says the durable is gone."""
        free = asyncio.Semaphore(parts)
        part_size = max(1, -(-self.settings.fetch_batch // parts))
        failures = 0
        task = asyncio.current_task()
        async with asyncio.TaskGroup() as running:
            while True:
                await free.acquire()
                taken = 1
                while not free.locked():  # every other transaction free right now
                    await free.acquire()
                    taken += 1
                if task is not None and task.cancelling():
                    # nats-py's fetch can swallow a cancellation that races its own timeout; honour it.
                    raise asyncio.CancelledError
                try:
                    messages = await subscription.fetch(taken * part_size, timeout=self.settings.fetch_timeout_seconds)
                    failures = 0
                except TimeoutError:  # nats' own, or the bare one nats-py raises when its probe used the deadline
                    self._release(free, taken)
                    if self._js._nc.is_connected:  # an idle stream, nothing to fetch
                        failures = 0
                        continue
                    exc: Exception = ConnectionError("fetch timed out while disconnected from NATS")
                    failures += 1
                    self.stats.fetch_failures += 1
                    if failures >= MAX_FETCH_FAILURES:
                        raise exc from None
                    logger.warning("fetch failed; retrying", extra={"error": repr(exc)})
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # connection lost, server restarting: keep trying for a while
                    self._release(free, taken)
                    failures += 1
                    self.stats.fetch_failures += 1
                    if failures >= MAX_FETCH_FAILURES or await self._durable_gone(stream):
                        raise
                    logger.warning("fetch failed; retrying", extra={"error": repr(exc)})
                    await asyncio.sleep(0.5)
                    continue
                # The parts are as independent as two replicas' batches: each commits, acks and falls back
                # to one by one on its own.
                size = -(-len(messages) // taken) or 1
                batches = [messages[start:start + size] for start in range(0, len(messages), size)]
                self._release(free, taken - len(batches))  # each part's task releases its own
                for batch in batches:
                    running.create_task(self._handle_part(batch, free))

    async def _durable_gone(self, stream: str) -> bool:
        """NATS answers and says this consumer's durable, or its stream, is not there: a stream held in memory
        that a restart of NATS lost (decision 0327), or a durable deleted. Not asked while disconnected."""
        if not self._js._nc.is_connected:
            return False
        try:
            await self._js.consumer_info(stream, self.registry.consumer_name, timeout=1.0)
        except NotFoundError:
            return True
        except Exception:  # no answer: count it as one more failed fetch
            return False
        return False

    @staticmethod
    def _release(free: asyncio.Semaphore, count: int) -> None:
        for _ in range(count):
            free.release()

    async def _handle_part(self, messages: Sequence[Msg], free: asyncio.Semaphore) -> None:
        try:
            await self.handle_batch(messages)
        finally:
            free.release()

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        """Apply a fetched batch in one transaction; on failure, handle its messages one by one."""
        async with self._keep_alive(messages):
            failure = await self._apply_batch(messages)
            if failure is None:
                return
            for index, message in enumerate(messages):
                if index < failure.start:  # committed and acked in an earlier transaction of the batch
                    continue
                try:
                    if index == failure.index and failure.envelope is not None:
                        # Its handler already ran and failed in the batch: once per delivery.
                        await self._handle_failure(message, failure.envelope, failure.error, handler_failed=True)
                    else:
                        await self._handle_one(message)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # E.g. the database is down while dead-lettering. The message stays unacked and
                    # comes back after ack_wait; one bad moment must not stop the consumer for good.
                    logger.exception("handling a message failed; it will be redelivered",
                                     extra={"subject": message.subject, "error": repr(exc)})

    @contextlib.asynccontextmanager
    async def _keep_alive(self, messages: Sequence[Msg]) -> AsyncIterator[None]:
        """Tell JetStream the messages are still being worked on, so a slow batch is not redelivered
        to another replica while it runs (the ack wait restarts at each ``in_progress``)."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(self.settings.keep_alive_seconds)
                for message in messages:
                    if not message.is_acked:
                        with contextlib.suppress(Exception):
                            await message.in_progress()

        task = asyncio.create_task(beat(), name="consumer-keep-alive")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _attempt(self, message: Msg, event_id: uuid.UUID | None) -> int:
        """Deliveries of this event that may have been the handler's fault."""
        excused = self._not_attempts.get(event_id, 0) if event_id is not None else 0
        return message.metadata.num_delivered - excused

    def _excuse_delivery(self, event_id: uuid.UUID) -> None:
        self._not_attempts[event_id] = self._not_attempts.get(event_id, 0) + 1
        self._not_attempts.move_to_end(event_id)
        while len(self._not_attempts) > 10_000:
            self._not_attempts.popitem(last=False)

    async def _apply_batch(self, messages: Sequence[Msg]) -> BatchFailure | None:
        """Apply a fetched batch in ONE transaction (on SQLite, in as few as the write-lock bound allows:
        ``max_write_hold_seconds``), acking each message after the commit holding it; None when that worked."""
        try:
            # Unreadable messages first (the batch then goes one by one).
            envelopes = [EventEnvelope.model_validate_json(message.data) for message in messages]
        except ValidationError as exc:
            return BatchFailure(-1, None, exc)
        start = 0
        while start < len(messages):
            failure, start = await self._apply_part(messages, envelopes, start)
            if failure is not None:
                return failure
        return None

    async def _apply_part(self, messages: Sequence[Msg], envelopes: Sequence[EventEnvelope],
                          start: int) -> tuple[BatchFailure | None, int]:
        """Apply the batch from ``start`` in ONE transaction, then ack those messages; (None, where the next
        transaction starts) when that worked. On SQLite the transaction commits early, after the event it
        is on, once it has held the write lock ``max_write_hold_seconds`` (decision 0309).

        Exactly-once still holds: every effect and inbox row commit together and the acks follow
        the commit. If a handler fails, nothing of this transaction is kept and the caller handles its
        messages and the rest one by one (each retried, backed off and dead-lettered on its own), except the
        failing one, which goes straight to failure handling so its handler runs once per delivery.
        A failure of the commit is no handler's fault (index -1).
        """
        index = -1
        envelope: EventEnvelope | None = None
        applied = duplicates = unhandled = 0
        committing = False
        end = len(messages)
        try:
            async with self._sessionmaker() as session:
                # The inbox check for the whole rest of the batch in ONE statement (decision 0307).
                done = await applied_among(session, self.registry.consumer_name, [e.id for e in envelopes[start:]])
                parsed = await self.registry.read_ahead(session, [e for e in envelopes[start:] if e.id not in done])
                inbox: list[EventEnvelope] = []
                for position in range(start, len(messages)):
                    message = messages[position]
                    index, envelope = position, envelopes[position]
                    if envelope.id in done:
                        duplicates += 1
                        continue
                    if self._attempt(message, envelope.id) > self.settings.max_attempts:
                        raise _NeedsOneByOne()
                    try:
                        handled = await run_handler(session, self.registry, envelope, parsed.get(envelope.id))
                    except Exception as exc:
                        raise _HandlerFailed(exc) from exc
                    done.add(envelope.id)  # a second copy later in this batch is a duplicate
                    inbox.append(envelope)
                    applied += 1
                    unhandled += not handled
                    if write_lock_held() > self.settings.max_write_hold_seconds:
                        end = position + 1  # commit these now; the rest of the batch in the next transaction
                        break
                # One INSERT for the batch's inbox rows: another replica's row for one of these events fails
                # here, as no handler's fault (the batch then goes one by one).
                index, envelope = -1, None
                await add_inbox_rows(session, self.registry, inbox)
                committing = True
                await session.commit()
        except asyncio.CancelledError:
            raise
        except _HandlerFailed as exc:
            return BatchFailure(index, envelope, exc.error, start), start
        except Exception as exc:
            # An unreadable message, one past its attempts, or the commit: each one by one.
            if isinstance(exc, IntegrityError):
                logger.info("an event of the batch was applied meanwhile by another replica; "
                            "handling the batch one by one", extra={"error": repr(exc)[:500]})
            elif committing:
                self.stats.commit_failures += 1
                logger.warning("committing a batch failed; handling its events one by one", extra={"error": repr(exc)})
            return BatchFailure(-1, None, exc, start), start
        self.stats.applied += applied
        self.stats.duplicates += duplicates
        self.stats.unhandled += unhandled
        self.stats.batch_transactions += 1
        for message in messages[start:end]:
            await self._ack(message)
        return None, end

    async def handle_message(self, message: Msg) -> None:
        """Handle one message on its own (kept alive while it runs)."""
        async with self._keep_alive([message]):
            await self._handle_one(message)

    async def _handle_one(self, message: Msg) -> None:
        try:
            envelope = EventEnvelope.model_validate_json(message.data)
        except ValidationError as exc:
            await self._dead_letter(message, None, f"unreadable envelope: {exc}", message.metadata.num_delivered)
            return
        outcome = "applied"
        handler_failed = handled = False
        attempt = self._attempt(message, envelope.id)
        try:
            async with self._sessionmaker() as session:
                # The inbox before the attempt limit: an applied event whose ack was lost is acked,
                # never dead-lettered.
                if await already_applied(session, self.registry.consumer_name, envelope.id):
                    outcome = "duplicate"
                elif attempt > self.settings.max_attempts:
                    # Delivered again after we stopped trying (e.g. the process died mid-handler each time).
                    outcome = "exhausted"
                else:
                    handler_failed = True
                    handled = await run_handler(session, self.registry, envelope)
                    handler_failed = False
                    add_inbox_row(session, self.registry, envelope)
                    await session.commit()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._handle_failure(message, envelope, exc, handler_failed=handler_failed)
            return
        if outcome == "exhausted":
            await self._dead_letter(message, envelope, "delivery attempts exhausted", attempt)
            return
        if outcome == "duplicate":
            self.stats.duplicates += 1
            logger.info("duplicate event ignored", extra={"event_id": str(envelope.id), "type": envelope.type})
        else:
            self.stats.applied += 1
            self.stats.unhandled += not handled
        await self._ack(message)

    async def _handle_failure(
        self, message: Msg, envelope: EventEnvelope, exc: Exception, *, handler_failed: bool
    ) -> None:
        """After the event's transaction failed: retry later with backoff, or dead-letter.

        If the inbox key was violated outside the handler and the inbox row is there, another
        replica applied the event first (ack). A failure of the database itself (a lock or
        serialization timeout, a lost connection), in the handler or at the commit, is retried
        without using up an attempt. Anything else counts as an attempt."""
        if not handler_failed and isinstance(exc, IntegrityError) and await self._already_processed(envelope):
            self.stats.duplicates += 1
            logger.info("event already applied by another replica",
                        extra={"event_id": str(envelope.id), "type": envelope.type})
            await self._ack(message)
            return
        if is_transient_database_error(exc):
            self.stats.commit_failures += 1
            self._excuse_delivery(envelope.id)
            logger.warning(
                "the event's transaction failed on the database; retrying (not counted as an attempt)",
                extra={"event_id": str(envelope.id), "type": envelope.type, "error": repr(exc)},
            )
            await message.nak(delay=self.settings.delay_after(message.metadata.num_delivered))
            return
        attempt = self._attempt(message, envelope.id)
        self.stats.handler_failures += 1
        logger.warning(
            "event handler failed",
            extra={"event_id": str(envelope.id), "type": envelope.type, "attempt": attempt, "error": repr(exc)},
        )
        if attempt >= self.settings.max_attempts:
            await self._dead_letter(message, envelope, repr(exc), attempt)
        else:
            await message.nak(delay=self.settings.delay_after(attempt))

    async def _already_processed(self, envelope: EventEnvelope) -> bool:
        async with self._sessionmaker() as session:
            return await already_applied(session, self.registry.consumer_name, envelope.id)

    async def _ack(self, message: Msg) -> None:
        try:
            await message.ack()
        except Exception as exc:  # the effect is committed; a redelivery will hit the inbox
            logger.warning("ack failed", extra={"error": repr(exc)})

    async def _dead_letter(
        self, message: Msg, envelope: EventEnvelope | None, error: str, attempts: int
    ) -> None:
        event_id = envelope.id if envelope else dead_letter_id(message)
        async with self._sessionmaker() as session:
            existing = await session.scalar(
                select(DeadLetter).where(
                    DeadLetter.consumer == self.registry.consumer_name, DeadLetter.event_id == event_id
                )
            )
            if existing is None:
                session.add(
                    DeadLetter(
                        consumer=self.registry.consumer_name,
                        event_id=event_id,
                        subject=message.subject,
                        payload=message.data.decode(errors="replace"),
                        error=error[:4000],
                        attempts=attempts,
                        failed_at=utcnow(),
                    )
                )
                try:
                    await session.commit()
                except IntegrityError:  # another replica dead-lettered it at the same moment
                    await session.rollback()
        self.stats.dead_lettered += 1
        logger.error(
            "event moved to dead letters",
            extra={"event_id": str(event_id), "subject": message.subject, "attempts": attempts, "error": error},
        )
        await message.term()


def dead_letter_id(message: Msg) -> uuid.UUID:
    """The event id of a message: its UUID ``Nats-Msg-Id``, or for a message without one an id
    derived from its stream and stream sequence, the same on every redelivery."""
    with contextlib.suppress(ValueError):
        return uuid.UUID((message.headers or {}).get("Nats-Msg-Id", ""))
    metadata = message.metadata
    return uuid.uuid5(UNREADABLE_NAMESPACE, f"{metadata.stream}:{metadata.sequence.stream}")


async def awaiting_replay_among(session: AsyncSession, consumer: str, event_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of ``event_ids`` that the consumer dead-lettered and nobody replayed yet."""
    if not event_ids:
        return set()
    found = await session.scalars(select(DeadLetter.event_id).where(
        DeadLetter.consumer == consumer, DeadLetter.event_id.in_(event_ids), DeadLetter.replayed_at.is_(None)))
    return set(found)


@dataclass(frozen=True)
class ReplayResult:
    replayed: int
    failed: int
    # Dead letters whose event the inbox shows was applied already: closed without running it again.
    already_applied: int = 0


async def replay_dead_letters(
    sessionmaker: async_sessionmaker[AsyncSession],
    registry: HandlerRegistry,
    *,
    event_ids: Iterable[uuid.UUID] | None = None,
) -> ReplayResult:
    """Run dead-lettered events through the handler again (exactly-once, via the inbox)."""
    wanted = set(event_ids) if event_ids is not None else None
    async with sessionmaker() as session:
        letters = (
            await session.scalars(
                select(DeadLetter)
                .where(DeadLetter.consumer == registry.consumer_name, DeadLetter.replayed_at.is_(None))
                .order_by(DeadLetter.id)
            )
        ).all()
    replayed = failed = skipped = 0
    for letter in letters:
        if wanted is not None and letter.event_id not in wanted:
            continue
        try:
            envelope = EventEnvelope.model_validate_json(letter.payload)
            async with sessionmaker() as session:
                applied = await apply_event(session, registry, envelope)
                row = await session.get(DeadLetter, letter.id)
                assert row is not None
                row.replayed_at = utcnow()
                await session.commit()
            if applied:
                replayed += 1
            else:
                skipped += 1
                logger.info("dead letter's event was already applied; closed without running it",
                            extra={"event_id": str(letter.event_id)})
        except Exception as exc:
            failed += 1
            logger.warning("replay failed", extra={"event_id": str(letter.event_id), "error": repr(exc)})
            async with sessionmaker() as session:
                row = await session.get(DeadLetter, letter.id)
                if row is not None:
                    row.error = repr(exc)[:4000]
                    row.attempts += 1
                    await session.commit()
    return ReplayResult(replayed=replayed, failed=failed, already_applied=skipped)

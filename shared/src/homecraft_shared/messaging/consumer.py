"""Durable JetStream pull consumers whose effects happen exactly once.

For each message the handler's changes, any events it records and an inbox row (consumer, event id)
commit in one transaction; the ack follows the commit. A redelivered event finds its inbox row and
changes nothing. A failing handler is retried with backoff (``nak`` with a delay) up to
``max_attempts`` deliveries, then the event is written to ``dead_letters`` and terminated; after a
fix, ``replay_dead_letters`` runs it through the same path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.db import utcnow
from homecraft_shared.messaging.contracts import CONTRACTS, EventContract, EventData
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.jetstream import ensure_stream, stream_name
from homecraft_shared.messaging.tables import DeadLetter, InboxEvent
from homecraft_shared.observability import correlation_scope

logger = logging.getLogger(__name__)

# Consecutive fetch failures (~0.5 s apart) before the consumer is set up again from scratch.
MAX_FETCH_FAILURES = 20

HandlerFunc = Callable[[AsyncSession, EventData, EventEnvelope], Awaitable[None]]


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

    def on(self, event: type[EventData], *, reads: Iterable[str]) -> Callable[[HandlerFunc], HandlerFunc]:
        """Register the handler for an event contract's data model; ``reads`` names the fields it uses."""
        contract = CONTRACTS.for_model(event)

        def register(func: HandlerFunc) -> HandlerFunc:
            if contract.key in self._handlers:
                raise ValueError(f"{self.consumer_name} already handles {contract.subject}")
            self._handlers[contract.key] = Handler(contract, func, tuple(reads))
            return func

        return register

    def get(self, event_type: str, version: int) -> Handler | None:
        return self._handlers.get((event_type, version))

    def handlers(self) -> list[Handler]:
        return list(self._handlers.values())

    def subjects_by_producer(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for handler in self._handlers.values():
            grouped.setdefault(handler.contract.producer, []).append(handler.contract.subject)
        return {producer: sorted(subjects) for producer, subjects in grouped.items()}


@dataclass(frozen=True)
class ConsumerSettings:
    max_attempts: int = 5
    ack_wait_seconds: float = 30.0
    backoff_seconds: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
    fetch_batch: int = 64
    max_ack_pending: int = 1000

    def delay_after(self, attempt: int) -> float:
        if not self.backoff_seconds:
            return 0.0
        return self.backoff_seconds[max(1, min(attempt, len(self.backoff_seconds))) - 1]


async def apply_event(
    session: AsyncSession, registry: HandlerRegistry, envelope: EventEnvelope
) -> bool:
    """Run the handler for ``envelope`` in ``session`` unless this consumer already did.

    Returns False for an event already in the inbox. The caller commits.
    """
    already = await session.get(InboxEvent, (registry.consumer_name, envelope.id))
    if already is not None:
        return False
    handler = registry.get(envelope.type, envelope.version)
    if handler is not None:
        data = handler.contract.parse(envelope.data)
        with correlation_scope(envelope.correlation_id, str(envelope.id)):
            await handler.func(session, data, envelope)
    session.add(
        InboxEvent(
            consumer=registry.consumer_name,
            event_id=envelope.id,
            event_type=envelope.type,
            processed_at=utcnow(),
        )
    )
    return True


class _NeedsOneByOne(Exception):
    """A message in the batch must take the one-by-one path (e.g. it is past its attempts)."""


@dataclass(frozen=True)
class BatchFailure:
    index: int  # the message whose handler failed, or -1 when no single handler is to blame
    envelope: EventEnvelope | None
    error: Exception


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

    async def run(self) -> None:
        await asyncio.gather(
            *(self._consume(producer, subjects) for producer, subjects in self.registry.subjects_by_producer().items())
        )

    async def _consume(self, producer: str, subjects: list[str]) -> None:
        """Set up the durable consumer and fetch; set it up again whenever that keeps failing
        (NATS not ready yet, the stream or consumer deleted on the server)."""
        while True:
            subscription = None
            try:
                await ensure_stream(self._js, producer)
                subscription = await self._subscribe(producer, subjects)
                await self._fetch_loop(subscription)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("consumer setup or fetch keeps failing; setting up again",
                               extra={"stream": stream_name(producer), "error": repr(exc)})
                await asyncio.sleep(1.0)
            finally:
                if subscription is not None:
                    with contextlib.suppress(Exception):
                        await subscription.unsubscribe()

    async def _subscribe(self, producer: str, subjects: list[str]) -> JetStreamContext.PullSubscription:
        stream = stream_name(producer)
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

    async def _fetch_loop(self, subscription: JetStreamContext.PullSubscription) -> None:
        failures = 0
        task = asyncio.current_task()
        while True:
            if task is not None and task.cancelling():
                # nats-py's fetch can swallow a cancellation that races its own timeout; honour it.
                raise asyncio.CancelledError
            try:
                messages = await subscription.fetch(self.settings.fetch_batch, timeout=1.0)
                failures = 0
            except nats.errors.TimeoutError:
                failures = 0
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost, server restarting: keep trying for a while
                failures += 1
                if failures >= MAX_FETCH_FAILURES:
                    raise
                logger.warning("fetch failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(0.5)
                continue
            failure = await self._apply_batch(messages)
            for index, message in enumerate(messages if failure else []):
                try:
                    if index == failure.index:  # its handler already ran and failed in the batch
                        await self._handle_failure(message, failure.envelope, failure.error)
                    else:
                        await self.handle_message(message)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # E.g. the database is down while dead-lettering. The message stays unacked and
                    # comes back after ack_wait; one bad moment must not stop the consumer for good.
                    logger.exception("handling a message failed; it will be redelivered",
                                     extra={"subject": message.subject, "error": repr(exc)})

    async def _apply_batch(self, messages: list[Msg]) -> BatchFailure | None:
        """Apply a fetched batch in ONE transaction, then ack each message; None when that worked.

        Exactly-once still holds: every effect and inbox row commit together and the acks follow
        the commit. If a handler fails, nothing of the batch is kept and the caller handles the
        messages one by one (each retried, backed off and dead-lettered on its own), except the
        failing one, which goes straight to failure handling so its handler runs once per delivery.
        """
        index = -1
        envelope: EventEnvelope | None = None
        try:
            async with self._sessionmaker() as session:
                for position, message in enumerate(messages):
                    index, envelope = position, None
                    if message.metadata.num_delivered > self.settings.max_attempts:
                        raise _NeedsOneByOne()
                    envelope = EventEnvelope.model_validate_json(message.data)
                    await apply_event(session, self.registry, envelope)
                await session.commit()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            handler_failed = envelope is not None and not isinstance(exc, IntegrityError)
            return BatchFailure(index if handler_failed else -1, envelope, exc)
        for message in messages:
            await self._ack(message)
        return None

    async def handle_message(self, message: Msg) -> None:
        attempt = message.metadata.num_delivered
        try:
            envelope = EventEnvelope.model_validate_json(message.data)
        except ValidationError as exc:
            await self._dead_letter(message, None, f"unreadable envelope: {exc}", attempt)
            return
        if attempt > self.settings.max_attempts:
            # Delivered again after we stopped trying (e.g. the process died mid-handler each time).
            await self._dead_letter(message, envelope, "delivery attempts exhausted", attempt)
            return
        try:
            async with self._sessionmaker() as session:
                applied = await apply_event(session, self.registry, envelope)
                await session.commit()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._handle_failure(message, envelope, exc)
            return
        if not applied:
            logger.info("duplicate event ignored", extra={"event_id": str(envelope.id), "type": envelope.type})
        await self._ack(message)

    async def _handle_failure(self, message: Msg, envelope: EventEnvelope, exc: Exception) -> None:
        """After the handler's transaction failed: retry later with backoff, or dead-letter."""
        attempt = message.metadata.num_delivered
        if isinstance(exc, IntegrityError) and await self._already_processed(envelope):
            await self._ack(message)  # another replica committed it first
            return
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
            return await session.get(InboxEvent, (self.registry.consumer_name, envelope.id)) is not None

    async def _ack(self, message: Msg) -> None:
        try:
            await message.ack()
        except Exception as exc:  # the effect is committed; a redelivery will hit the inbox
            logger.warning("ack failed", extra={"error": repr(exc)})

    async def _dead_letter(
        self, message: Msg, envelope: EventEnvelope | None, error: str, attempts: int
    ) -> None:
        event_id = envelope.id if envelope else _event_id_from_headers(message)
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
                await session.commit()
        logger.error(
            "event moved to dead letters",
            extra={"event_id": str(event_id), "subject": message.subject, "attempts": attempts, "error": error},
        )
        await message.term()


def _event_id_from_headers(message: Msg) -> uuid.UUID:
    try:
        return uuid.UUID((message.headers or {}).get("Nats-Msg-Id", ""))
    except ValueError:
        return uuid.uuid4()


@dataclass(frozen=True)
class ReplayResult:
    replayed: int
    failed: int


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
    replayed = failed = 0
    for letter in letters:
        if wanted is not None and letter.event_id not in wanted:
            continue
        try:
            envelope = EventEnvelope.model_validate_json(letter.payload)
            async with sessionmaker() as session:
                await apply_event(session, registry, envelope)
                row = await session.get(DeadLetter, letter.id)
                assert row is not None
                row.replayed_at = utcnow()
                await session.commit()
            replayed += 1
        except Exception as exc:
            failed += 1
            logger.warning("replay failed", extra={"event_id": str(letter.event_id), "error": repr(exc)})
            async with sessionmaker() as session:
                row = await session.get(DeadLetter, letter.id)
                if row is not None:
                    row.error = repr(exc)[:4000]
                    row.attempts += 1
                    await session.commit()
    return ReplayResult(replayed=replayed, failed=failed)

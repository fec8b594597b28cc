"""What a running service holds: database, its group commit, NATS, outbox relay, consumers, identity
verifier, and its own per-process resources (``Resources``: clients, caches, storage), built once, found by type.

``ServiceRuntime.start`` / ``stop`` are driven by the app's lifespan (``homecraft_shared.app``), and
the same runtime serves the service's CLI commands (migrate, replay dead letters, seed).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import homecraft_shared.events  # noqa: F401  (registers every event contract)
from homecraft_shared import heap
from homecraft_shared.db import create_engine, create_sessionmaker, is_sqlite, ping
from homecraft_shared.group_commit import GroupCommit
from homecraft_shared.identity import IdentityVerifier, ServiceSigner
from homecraft_shared.messaging import jetstream
from homecraft_shared.messaging.consumer import ConsumerSettings, EventConsumer, HandlerRegistry
from homecraft_shared.messaging.contracts import CONTRACTS
from homecraft_shared.messaging.outbox import EagerPublisher, OutboxRelay
from homecraft_shared.messaging.retention import RetentionPolicy, run_pruner
from homecraft_shared.migrations import upgrade_to_head
from homecraft_shared.observability import watch_loop_lag
from homecraft_shared.settings import ServiceSettings

logger = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 10.0

Hook = Callable[["ServiceRuntime"], Awaitable[None]]
R = TypeVar("R")


class Resources:
    """The per-process objects of one service (HTTP clients, caches, storage), one per type.

    A service adds them when it builds its runtime (or in an ``on_start`` hook when they need the
    event loop); endpoints get them with ``homecraft_shared.dependencies.resource(Type)``. Those given
    a ``close`` are closed when the runtime stops, last added first.
    """

    def __init__(self) -> None:
        self._items: dict[type[Any], Any] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def add(self, value: R, *, close: Callable[[], Awaitable[None]] | None = None) -> R:
        """Register ``value`` under its type, replacing an earlier one of that type."""
        self._items[type(value)] = value
        if close is not None:
            self._closers.append(close)
        return value

    def get(self, kind: type[R]) -> R:
        value = self._items.get(kind)
        if not isinstance(value, kind):
            raise LookupError(f"no {kind.__name__} among this service's resources; add it when building the runtime")
        return value

    async def aclose(self) -> None:
        while self._closers:
            close = self._closers.pop()
            try:
                await close()
            except Exception:
                logger.exception("closing a resource failed")


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        migrations: Path,
        handlers: HandlerRegistry | None = None,
        on_start: list[Hook] | None = None,
        on_stop: list[Hook] | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.migrations = migrations
        self.handlers = handlers
        self._on_start = on_start or []
        self._on_stop = on_stop or []
        self.engine: AsyncEngine = create_engine(settings.database_url)
        self.sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(self.engine)
        # The writers of this process that only add or mark rows (a webhook's stored event, a placement, the
        # relay's marks on SQLite) commit together through it (decisions 0204, 0311); its own two connections.
        self.group = GroupCommit.own_pool(settings.database_url)
        key = settings.identity_public_key
        trusted = settings.trusted_service_keys
        self.identity_verifier = (IdentityVerifier(key.get_secret_value() if key else None, trusted)
                                  if key or trusted else None)
        own = settings.service_private_key
        self.service_signer = ServiceSigner(self.name, own.get_secret_value()) if own else None
        self.nats: NATS | None = None
        self.js: JetStreamContext | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.resources = Resources()
        # Background loop health flags (``<loop>_crashed``), read by ``readiness``.
        self.state: dict[str, Any] = {}

    @property
    def produces_events(self) -> bool:
        return bool(CONTRACTS.for_producer(self.name))

    async def migrate(self) -> None:
        await asyncio.to_thread(upgrade_to_head, self.migrations, self.settings.database_url)

    async def start(self) -> None:
        if self.settings.run_migrations_on_start:
            await self.migrate()
        self.nats = await jetstream.connect(self.settings.nats_url, name=self.name)
        self.js = self.nats.jetstream()
        if self.produces_events:
            await jetstream.ensure_stream(self.js, self.name, self.settings.stream_replicas)
            if any(contract.held_in_memory for contract in CONTRACTS.for_producer(self.name)):
                self._spawn(jetstream.keep_in_memory_streams(self.js, self.name, self.settings.stream_replicas),
                            "in-memory-stream-keeper")
            eager = self.settings.outbox_eager_publishing
            if eager:
                self._spawn(EagerPublisher(self.engine.url, self.js, self.group).run(), "outbox-eager-publisher")
            relay = OutboxRelay(self.sessionmaker, self.js, poll_seconds=self.settings.relay_poll_seconds,
                                marks=self.group, grace_seconds=self.settings.relay_grace_seconds if eager else 0.0)
            self._spawn(relay.run(), "outbox-relay")
        if self.handlers and self.handlers.handlers():
            consumer = EventConsumer(self.handlers, self.sessionmaker, self.js, self.consumer_settings())
            self._spawn(consumer.run(), "event-consumer")
        self._spawn(
            run_pruner(self.sessionmaker, self.retention_policy(), self.settings.retention_interval_seconds),
            "messaging-pruner",
        )
        if self.settings.loop_lag_warning_seconds > 0:
            self._spawn(watch_loop_lag(self.settings.loop_lag_warning_seconds), "loop-lag-watch")
        for hook in self._on_start:
            await hook(self)
        # Full collections then skip what start-up built (decision 0312); once more after warm-up. Young
        # collections run less often (0325).
        heap.collect_young_less_often()
        frozen = heap.freeze(full_collection=True)
        if self.settings.heap_freeze_after_seconds > 0:
            self._spawn(heap.freeze_after_warm_up(self.settings.heap_freeze_after_seconds), "heap-freeze")
        logger.info("service started", extra={"database": self.engine.url.render_as_string(), "frozen_objects": frozen})

    def retention_policy(self) -> RetentionPolicy:
        return RetentionPolicy(
            published_outbox_days=self.settings.retention_published_outbox_days,
            inbox_days=self.settings.retention_inbox_days,
            replayed_dead_letter_days=self.settings.retention_replayed_dead_letter_days,
        )

    def consumer_settings(self) -> ConsumerSettings:
        return ConsumerSettings(
            max_attempts=self.settings.consumer_max_attempts,
            ack_wait_seconds=self.settings.consumer_ack_wait_seconds,
            backoff_seconds=self.settings.consumer_backoff_seconds,
            max_write_hold_seconds=self.settings.consumer_max_write_hold_seconds,
            parallel_transactions={} if is_sqlite(self.settings.database_url)
            else dict(self.settings.consumer_parallel_transactions),
        )

    def spawn(self, coro: Awaitable[None], name: str) -> None:
        """Run one of the service's own background loops (from an ``on_start`` hook) like the relay and
        consumers: a crash is logged and fails readiness; ``stop`` cancels it after the ``on_stop`` hooks."""
        self._spawn(coro, name)

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        async def supervised() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                # A background loop dying silently would stop event flow; make it loud and visible.
                logger.exception("background task crashed", extra={"task": name})
                self.state[f"{name}_crashed"] = True

        def close_if_never_started(_: asyncio.Task[None]) -> None:
            # A task cancelled before its first step (a service stopped right after starting) never
            # awaits ``coro``; closing it avoids a "coroutine was never awaited" warning at shutdown.
            if inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
                coro.close()

        task = asyncio.create_task(supervised(), name=f"{self.name}:{name}")
        task.add_done_callback(close_if_never_started)
        self._tasks.append(task)

    async def stop(self) -> None:
        for hook in self._on_stop:
            with contextlib.suppress(Exception):
                await hook(self)
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: a loop that ignores cancellation must not keep the process from stopping.
            _, stuck = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_SECONDS)
            for task in stuck:
                logger.error("background task did not stop in time", extra={"task": task.get_name()})
        self._tasks.clear()
        await self.resources.aclose()
        await self.group.aclose()
        if self.nats is not None and not self.nats.is_closed:
            with contextlib.suppress(Exception):
                await self.nats.close()
        await self.engine.dispose()

    async def readiness(self) -> dict[str, str]:
        """Each dependency's state; the service is ready when every one is 'ok'."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ping(self.engine), timeout=2.0)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {exc.__class__.__name__}"
        checks["nats"] = "ok" if self.nats is not None and self.nats.is_connected else "disconnected"
        crashed = [key for key in self.state if key.endswith("_crashed")]
        checks["background"] = "ok" if not crashed else f"crashed: {', '.join(crashed)}"
        return checks

    async def session(self) -> AsyncIterator[AsyncSession]:
        """FastAPI dependency: one transaction per request, committed by the request, not the service."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

"""NATS connection and the JetStream streams: one stream per producing service, and a second one, held in
memory, for a producer with contracts ``held_in_memory``.

Streams are file-backed; the server runs with ``sync_interval: always`` (fsync before ack) — see
devstack's nats config. The duplicate window is far longer than the relay's retry horizon, and the
consumer's inbox table is the second line of defence for anything older.

A stream held in memory costs no fsync, and NATS loses it when it restarts (decision 0327): it only carries
events whose producer keeps what they say in its own database and sends them again when they are lost, and
the producer creates it again when it finds it gone (``keep_in_memory_streams``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from homecraft_shared.background import run_passes
from homecraft_shared.messaging.contracts import CONTRACTS, EventContract

logger = logging.getLogger(__name__)

DUPLICATE_WINDOW_SECONDS = 2 * 60 * 60
STREAM_MAX_AGE_SECONDS = 30 * 24 * 60 * 60
# A stream held in memory keeps its events as long as it can drop them again (their ids stay in the duplicate
# window after they are gone) and takes at most this much of the server's memory; an event dropped before it
# was applied is one its producer sends again (decision 0327).
IN_MEMORY_STREAM_MAX_BYTES = 64 * 1024 * 1024
# How often a producer looks whether NATS lost its stream held in memory (a restart).
IN_MEMORY_STREAM_CHECK_SECONDS = 2.0


def stream_name(producer: str, *, in_memory: bool = False) -> str:
    return f"EVENTS_{producer.upper()}" + ("_IN_MEMORY" if in_memory else "")


def stream_of(contract: EventContract) -> str:
    """The name of the stream that holds the contract's events."""
    return stream_name(contract.producer, in_memory=contract.held_in_memory)


def stream_config(producer: str, replicas: int = 1, *, in_memory: bool = False) -> StreamConfig:
    """The producer's stream on disk, or (``in_memory``) the one held in memory."""
    contracts = CONTRACTS.for_producer(producer)
    if not contracts:
        raise ValueError(f"{producer} produces no registered event contracts")
    subjects = sorted(c.subject for c in contracts if c.held_in_memory == in_memory)
    if not subjects:
        raise ValueError(f"{producer} has no event contracts {'held in memory' if in_memory else 'kept on disk'}")
    return StreamConfig(
        name=stream_name(producer, in_memory=in_memory),
        subjects=subjects,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.MEMORY if in_memory else StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=DUPLICATE_WINDOW_SECONDS if in_memory else STREAM_MAX_AGE_SECONDS,
        max_bytes=IN_MEMORY_STREAM_MAX_BYTES if in_memory else None,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
    )


def stream_configs(producer: str, replicas: int = 1) -> list[StreamConfig]:
    """Every stream of the producer: the one on disk, and the one held in memory when it needs one."""
    # On disk first; a producer with no contracts at all is stream_config's error to raise.
    storages = sorted({c.held_in_memory for c in CONTRACTS.for_producer(producer)}) or [False]
    return [stream_config(producer, replicas, in_memory=in_memory) for in_memory in storages]


async def ensure_stream(js: JetStreamContext, producer: str, replicas: int = 1) -> None:
    """Create the producer's streams, or bring them up to date: add the subjects of new contracts, move a
    subject whose contract changed storage to its new stream, and correct the replica count, duplicate
    window and age limit.

    Called by the producing service only (a consumer waits for the stream instead): the producer is
    the one that knows its contracts and replica count. Subjects are never removed here except to move
    them to the producer's other stream, so a replica still running older code during a rolling deploy
    cannot drop a newer one's subject.
    """
    configs = stream_configs(producer, replicas)
    missing: list[StreamConfig] = []
    # Existing streams first, so that a subject moving between them leaves one before the other claims it.
    for config in configs:
        try:
            info = await js.stream_info(str(config.name))
        except NotFoundError:
            missing.append(config)
            continue
        elsewhere = {subject for other in configs if other is not config for subject in other.subjects or []}
        wanted = stream_update(info.config, config, elsewhere)
        if wanted is not None:
            await js.update_stream(wanted)
            logger.info("updated stream", extra={"stream": config.name, "subjects": wanted.subjects,
                                                 "replicas": wanted.num_replicas})
    for config in missing:
        await js.add_stream(config)
        logger.info("created stream", extra={"stream": config.name, "subjects": config.subjects})


def stream_update(current: StreamConfig, desired: StreamConfig,
                  elsewhere: frozenset[str] | set[str] = frozenset()) -> StreamConfig | None:
    """The configuration to update an existing stream to, or None when it already is as desired;
    ``elsewhere``: subjects the producer's other stream holds now (they leave this one)."""
    subjects = sorted((set(current.subjects or []) | set(desired.subjects or [])) - elsewhere)
    if (
        subjects == sorted(current.subjects or [])
        and current.num_replicas == desired.num_replicas
        and current.duplicate_window == desired.duplicate_window
        and current.max_age == desired.max_age
        and (current.max_bytes or -1) == (desired.max_bytes or -1)  # the server says -1 for "no limit"
    ):
        return None
    return replace(desired, subjects=subjects)


async def keep_in_memory_streams(js: JetStreamContext, producer: str, replicas: int = 1,
                                 *, check_seconds: float = IN_MEMORY_STREAM_CHECK_SECONDS) -> None:
    """Create the producer's stream held in memory again whenever NATS lost it (it restarted), until cancelled.

    What it held is lost with it; the producer sends that again from its own store (decision 0327). Meanwhile
    its publishes are refused (no stream) and retried by the outbox relay, and its consumers set up again."""
    configs = [config for config in stream_configs(producer, replicas) if config.storage == StorageType.MEMORY]

    async def check() -> int:
        created = 0
        for config in configs:
            try:
                await js.stream_info(str(config.name))
            except NotFoundError:
                await js.add_stream(config)
                created += 1
                logger.warning("created again a stream held in memory that NATS lost (a restart); what it held is "
                               "sent again from its producer's store", extra={"stream": config.name})
        return created

    await run_passes(check, poll_seconds=check_seconds, logger=logger,
                     failure_message="looking for a lost stream held in memory failed")


async def connect(url: str, name: str, *, wait_seconds: float = 30.0) -> NATS:
    """Connect, retrying the first connection for ``wait_seconds``, then reconnect forever."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            return await nats.connect(
                url,
                name=name,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.25,
                connect_timeout=2,
                error_cb=_log_error,
                disconnected_cb=_log_disconnected,
                reconnected_cb=_log_reconnected,
            )
        except Exception as exc:  # nats raises several unrelated types on a refused connection
            if asyncio.get_running_loop().time() > deadline:
                raise
            logger.warning("nats not reachable yet, retrying", extra={"error": str(exc)})
            await asyncio.sleep(0.5)


async def _log_error(exc: Exception) -> None:
    logger.warning("nats error", extra={"error": repr(exc)})


async def _log_disconnected() -> None:
    logger.warning("nats disconnected")


async def _log_reconnected() -> None:
    logger.info("nats reconnected")

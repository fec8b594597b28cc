"""NATS connection and the JetStream streams: one stream per producing service.

Streams are file-backed; the server runs with ``sync_interval: always`` (fsync before ack) — see
devstack's nats config. The duplicate window is far longer than the relay's retry horizon, and the
consumer's inbox table is the second line of defence for anything older.
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

from homecraft_shared.messaging.contracts import CONTRACTS

logger = logging.getLogger(__name__)

DUPLICATE_WINDOW_SECONDS = 2 * 60 * 60
STREAM_MAX_AGE_SECONDS = 30 * 24 * 60 * 60


def stream_name(producer: str) -> str:
    return f"EVENTS_{producer.upper()}"


def stream_config(producer: str, replicas: int = 1) -> StreamConfig:
    subjects = sorted(c.subject for c in CONTRACTS.for_producer(producer))
    if not subjects:
        raise ValueError(f"{producer} produces no registered event contracts")
    return StreamConfig(
        name=stream_name(producer),
        subjects=subjects,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=STREAM_MAX_AGE_SECONDS,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
    )


async def ensure_stream(js: JetStreamContext, producer: str, replicas: int = 1) -> None:
    """Create the producer's stream, or bring it up to date: add the subjects of new contracts and
    correct the replica count, duplicate window and age limit.

    Called by the producing service only (a consumer waits for the stream instead): the producer is
    the one that knows its contracts and replica count. Subjects are never removed here, so a
    replica still running older code during a rolling deploy cannot drop a newer one's subject.
    """
    config = stream_config(producer, replicas)
    try:
        info = await js.stream_info(stream_name(producer))
    except NotFoundError:
        await js.add_stream(config)
        logger.info("created stream", extra={"stream": config.name, "subjects": config.subjects})
        return
    current = info.config
    wanted = stream_update(current, config)
    if wanted is not None:
        await js.update_stream(wanted)
        logger.info("updated stream", extra={"stream": config.name, "subjects": wanted.subjects,
                                             "replicas": wanted.num_replicas})


def stream_update(current: StreamConfig, desired: StreamConfig) -> StreamConfig | None:
    """The configuration to update an existing stream to, or None when it already is as desired."""
    subjects = sorted(set(current.subjects or []) | set(desired.subjects or []))
    if (
        subjects == sorted(current.subjects or [])
        and current.num_replicas == desired.num_replicas
        and current.duplicate_window == desired.duplicate_window
        and current.max_age == desired.max_age
    ):
        return None
    return replace(desired, subjects=subjects)


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

"""E1 from the storefront: product views, card clicks and adds to cart sent to engagement's ingestion,
fire and forget (decision 0501, 0701).

A page only appends to an in-memory queue (never awaits engagement); a background loop of the
runtime sends what is waiting in batches, signed with the gateway's own service identity (decision
0201). A slow or down engagement costs the page nothing: a full queue drops new events, a failed batch
is dropped, both counted. The visitor is the session row's key hash (the cookie's key itself never
leaves the gateway); engagement hashes it again before use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Literal

import httpx

from gateway.clients import ServiceClients
from homecraft_shared.dependencies import resource
from homecraft_shared.http_client import ServiceClient, ServiceUnavailable
from homecraft_shared.identity import ServiceSigner
from homecraft_shared.runtime import ServiceRuntime

logger = logging.getLogger(__name__)

Kind = Literal["VIEW", "CLICK", "ADD_TO_CART"]
INGEST_PATH = "/internal/engagement-events"


@dataclass
class RecorderStats:
    queued: int = 0
    sent: int = 0
    dropped_full: int = 0
    dropped_failed: int = 0
    batches: int = 0


@dataclass
class EngagementRecorder:
    """The gateway's per-process outbox of engagement events: ``record`` is synchronous and O(1)."""

    client: ServiceClient
    signer: ServiceSigner | None
    flush_seconds: float = 0.25
    max_batch: int = 500  # engagement takes up to 1000 per call
    max_pending: int = 10_000
    send_timeout: float = 2.0
    stats: RecorderStats = field(default_factory=RecorderStats)
    _pending: list[dict[str, str]] = field(default_factory=list)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def enabled(self) -> bool:
        return self.signer is not None

    def record(self, kind: Kind, product_id: str, visitor: str | None) -> None:
        """Queue one event; never raises, never waits. No visitor (no session) → nothing to throttle by: skipped."""
        if not self.enabled or not visitor:
            return
        if len(self._pending) >= self.max_pending:
            self.stats.dropped_full += 1
            return
        self._pending.append({"type": kind, "product_id": product_id, "visitor": visitor})
        self.stats.queued += 1
        if len(self._pending) >= self.max_batch:
            self._wake.set()

    async def flush(self) -> None:
        """Send everything waiting, in batches; a failed batch is dropped (best effort, E1)."""
        while self._pending and self.signer is not None:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch:]
            self.stats.batches += 1
            try:
                response = await asyncio.wait_for(
                    self.client.post(INGEST_PATH, json={"events": batch}, headers=self.signer.authorization()),
                    self.send_timeout)
            except (ServiceUnavailable, TimeoutError, httpx.HTTPError) as exc:
                self.stats.dropped_failed += len(batch)
                logger.info("engagement events dropped", extra={"count": len(batch), "error": repr(exc)})
                continue
            if response.status_code == 202:
                self.stats.sent += len(batch)
            else:
                self.stats.dropped_failed += len(batch)
                logger.warning("engagement refused events", extra={"status": response.status_code,
                                                                   "count": len(batch), "body": response.text[:300]})

    async def run(self) -> None:
        """The background loop: wake every ``flush_seconds`` (or when a batch is full) and send."""
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
                self._wake.clear()
                await self.flush()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.flush(), self.send_timeout)  # what is left at shutdown


async def open_recorder(runtime: ServiceRuntime) -> None:
    """Start-up hook (after ``open_clients``): the recorder and its sending loop."""
    clients = runtime.resources.get(ServiceClients)
    recorder = runtime.resources.add(EngagementRecorder(clients.engagement, runtime.service_signer))
    if recorder.enabled:
        runtime.spawn(recorder.run(), "engagement-recorder")
    else:
        logger.warning("views, clicks and adds to cart are not recorded: GATEWAY_SERVICE_PRIVATE_KEY is not set "
                       "(the gateway's own service identity, decision 0201)")


engagement_recorder = resource(EngagementRecorder)

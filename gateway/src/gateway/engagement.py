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
import logging
from typing import Literal

from gateway.clients import ServiceClients
from homecraft_shared.batching import BatchDrain
from homecraft_shared.dependencies import resource
from homecraft_shared.http_client import ServiceClient
from homecraft_shared.identity import ServiceSigner
from homecraft_shared.runtime import ServiceRuntime

logger = logging.getLogger(__name__)

Kind = Literal["VIEW", "CLICK", "ADD_TO_CART"]
INGEST_PATH = "/internal/engagement-events"


class EngagementRefused(Exception):
    """Engagement answered a batch with something other than 202 (the batch is dropped)."""


class EngagementRecorder:
    """The gateway's per-process outbox of engagement events: ``record`` is synchronous and O(1)."""

    def __init__(
        self,
        client: ServiceClient,
        signer: ServiceSigner | None,
        *,
        flush_seconds: float = 0.25,
        max_batch: int = 500,  # engagement takes up to 1000 per call
        max_pending: int = 10_000,
        send_timeout: float = 2.0,
    ) -> None:
        self.client = client
        self.signer = signer
        self.send_timeout = send_timeout
        self.drain: BatchDrain[dict[str, str]] = BatchDrain(
            self._send, name="gateway-engagement-events", max_pending=max_pending, max_batch=max_batch,
            flush_seconds=flush_seconds, final_flush_seconds=send_timeout)

    @property
    def enabled(self) -> bool:
        return self.signer is not None

    def record(self, kind: Kind, product_id: str, visitor: str | None) -> None:
        """Queue one event; never raises, never waits. No visitor (no session) → nothing to throttle by: skipped."""
        if self.enabled and visitor:
            self.drain.offer(({"type": kind, "product_id": product_id, "visitor": visitor},))

    async def flush(self) -> None:
        """Send everything waiting, in batches; a failed batch is dropped (best effort, E1)."""
        await self.drain.flush()

    async def run(self) -> None:
        await self.drain.run()

    async def _send(self, batch: list[dict[str, str]]) -> None:
        assert self.signer is not None  # record() queues nothing without the gateway's identity
        response = await asyncio.wait_for(
            self.client.post(INGEST_PATH, json={"events": batch}, headers=self.signer.authorization()),
            self.send_timeout)
        if response.status_code != 202:
            raise EngagementRefused(f"engagement answered {response.status_code}: {response.text[:300]}")


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

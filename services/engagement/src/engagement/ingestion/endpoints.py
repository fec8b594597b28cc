"""Engagement event ingestion (E1): the gateway fires and forgets; this answers 202 at once.

Times are the service's own (when it received the events): a caller cannot back- or forward-date
engagement. The visitor key is the gateway's session id; the throttles apply per visitor session.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, status

from engagement.ingestion.domain import Incoming
from engagement.ingestion.schemas import EngagementAccepted, EngagementBatchIn, IngestionStats
from engagement.web import Buffer
from homecraft_shared.db import utcnow
from homecraft_shared.dependencies import OwnerIdentity, ServiceIdentity
from homecraft_shared.openapi import problems

router = APIRouter(prefix="/internal", tags=["ingestion"])


@router.post(
    "/engagement-events",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Queue VIEW / CLICK / ADD_TO_CART events (the gateway; role 'service')",
    responses=problems(403),
)
async def ingest(body: EngagementBatchIn, buffer: Buffer, _: ServiceIdentity) -> EngagementAccepted:
    now = utcnow()
    queued = buffer.offer(Incoming(e.type, e.product_id, e.visitor, now) for e in body.events)
    return EngagementAccepted(queued=queued, dropped=len(body.events) - queued)


@router.get(
    "/engagement-events/stats", summary="Ingestion counters of this process (owners, staff)", responses=problems(403)
)
async def stats(buffer: Buffer, _: OwnerIdentity) -> IngestionStats:
    drained = buffer.drain.stats
    return IngestionStats(pending=buffer.pending, **asdict(buffer.recorded), dropped_full=drained.dropped_full,
                          dropped_failed=drained.dropped_failed, batches=drained.batches)

"""Recording engagement events (E1): throttle per visitor, log, add to the day's aggregates, and
mark the products' trending scores for recomputation. Never commits: the caller does (the
ingestion buffer, one transaction per batch)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from engagement import aggregates
from engagement.ingestion import domain, repository
from engagement.ingestion.domain import Incoming
from engagement.models import EventKind

DAY_COLUMN = {EventKind.VIEW: "views", EventKind.CLICK: "clicks", EventKind.ADD_TO_CART: "add_to_cart"}


@dataclass(frozen=True)
class BatchOutcome:
    received: int
    recorded: int
    throttled: int
    unknown_product: int


async def record_batch(session: AsyncSession, events: Sequence[Incoming], *, session_life: dt.timedelta) -> BatchOutcome:
    """Record what E1 lets through of ``events`` (any order, any time span)."""
    if not events:
        return BatchOutcome(0, 0, 0, 0)
    listed = await repository.listed_products(session, {e.product_id for e in events})
    known = [e for e in events if e.product_id in listed]
    # E1 per (visitor, kind, product): walk each key's events in time order from its stored block,
    # then store the new blocks atomically (a key another replica moved meanwhile counts nothing).
    grouped = domain.by_key(known)
    stored = await repository.throttle_marks(session, list(grouped))
    walked = {key: domain.throttle_walk(evs, stored.get(key), session_life) for key, evs in grouped.items()}
    claims = {key: (domain.epoch(accepted[0].at), until) for key, (accepted, until) in walked.items()
              if accepted and until is not None}
    claimed = await repository.claim_throttle_marks(session, claims)
    accepted = sorted((e for key in claimed for e in walked[key][0]), key=lambda e: e.at)
    await repository.add_raw_events(
        session, [{"product_id": e.product_id, "kind": e.kind, "occurred_at": e.at} for e in accepted]
    )
    increments: dict[tuple[str, dt.date], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for event in accepted:
        increments[(event.product_id, event.at.astimezone(dt.UTC).date())][DAY_COLUMN[event.kind]] += 1
    await aggregates.add_to_days(session, increments)
    await aggregates.mark_dirty(session, {e.product_id for e in accepted})
    return BatchOutcome(
        received=len(events),
        recorded=len(accepted),
        throttled=len(known) - len(accepted),
        unknown_product=len(events) - len(known),
    )

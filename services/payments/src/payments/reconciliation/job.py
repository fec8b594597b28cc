"""Live reconciliation as a job (decision 0304, 0305): every replica wakes up now and then and, when a
run is due (none yet, or the last one started an interval ago), takes the lease and runs it; the
operator's on-demand trigger takes the same lease. So one run at a time across replicas, and about one
scheduled run per interval however many replicas there are."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.background import run_passes
from homecraft_shared.db import utcnow
from homecraft_shared.errors import Conflict
from payments.deps import Deps
from payments.models import ReconciliationRun
from payments.reconciliation import lease, service

logger = logging.getLogger(__name__)

LEASE = "reconciliation"


async def _due(sessionmaker: async_sessionmaker[AsyncSession], interval_seconds: float, since: dt.datetime) -> bool:
    """Whether the last run (or, before any, ``since``: the replica's start) began an interval ago."""
    async with sessionmaker() as session:
        last = await session.scalar(select(ReconciliationRun.started_at).order_by(ReconciliationRun.id.desc()).limit(1))
    return (last or since) <= utcnow() - dt.timedelta(seconds=interval_seconds)


async def run_if_due(sessionmaker: async_sessionmaker[AsyncSession], deps: Deps, holder: str,
                     since: dt.datetime) -> ReconciliationRun | None:
    """A scheduled run when one is due and no one else is running one; None otherwise."""
    settings = deps.settings
    if not await _due(sessionmaker, settings.reconciliation_interval_seconds, since):
        return None
    if not await lease.acquire(sessionmaker, LEASE, holder, settings.reconciliation_lease_seconds):
        return None
    try:
        if not await _due(sessionmaker, settings.reconciliation_interval_seconds, since):  # another replica ran it
            return None
        return await service.run(sessionmaker, deps, trigger="schedule", runner=holder)
    finally:
        await lease.release(sessionmaker, LEASE, holder)


async def run_now(sessionmaker: async_sessionmaker[AsyncSession], deps: Deps, holder: str) -> ReconciliationRun:
    """The operator's trigger: now, unless a run is in progress somewhere (409)."""
    if not await lease.acquire(sessionmaker, LEASE, holder, deps.settings.reconciliation_lease_seconds):
        raise Conflict("A reconciliation run is in progress; its result shows here when it ends. Try again then.")
    try:
        return await service.run(sessionmaker, deps, trigger="operator", runner=holder)
    finally:
        await lease.release(sessionmaker, LEASE, holder)


async def run_loop(sessionmaker: async_sessionmaker[AsyncSession], deps: Deps) -> None:
    """Wake every min(interval, 60 s); run when due (the first time an interval after start, unless a run
    already exists). Errors are logged and the loop goes on."""
    holder = lease.holder_id("schedule")
    interval = deps.settings.reconciliation_interval_seconds
    since = utcnow()
    async def wake_up() -> int:
        ran = await run_if_due(sessionmaker, deps, holder, since)
        if ran is None:
            return 0
        logger.info("scheduled reconciliation ran", extra={"run_id": ran.id, "clean": ran.clean})
        return 1

    # A database hiccup is logged and tried again at the next wake-up.
    await run_passes(wake_up, poll_seconds=min(interval, 60.0), logger=logger, first_after_poll=True,
                     failure_message="scheduled reconciliation failed")

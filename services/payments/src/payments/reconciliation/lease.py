"""A named lease in this service's database: one holder at a time across replicas (decision 0305).

Taken by one conditional UPDATE (free, expired, or already ours) or, the very first time, by the
INSERT of its row (the primary key decides a race). Released by expiring it; a holder that crashed
lets it expire on its own.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from typing import Any, cast

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.db import utcnow
from payments.models import JobLease


def holder_id(kind: str) -> str:
    """Who holds a lease: this process (host and pid) and a random part, so two runtimes never match."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:200]


async def acquire(sessionmaker: async_sessionmaker[AsyncSession], name: str, holder: str, ttl_seconds: float) -> bool:
    now = utcnow()
    expires = now + dt.timedelta(seconds=ttl_seconds)
    async with sessionmaker() as session:
        result = cast(Any, await session.execute(
            update(JobLease)
            .where(JobLease.name == name, or_(JobLease.expires_at <= now, JobLease.holder == holder))
            .values(holder=holder, acquired_at=now, expires_at=expires)))
        if result.rowcount == 1:
            await session.commit()
            return True
        if await session.get(JobLease, name) is not None:
            await session.rollback()
            return False
        session.add(JobLease(name=name, holder=holder, acquired_at=now, expires_at=expires))
        try:
            await session.commit()
        except IntegrityError:  # another replica inserted it first
            return False
        return True


async def release(sessionmaker: async_sessionmaker[AsyncSession], name: str, holder: str) -> None:
    async with sessionmaker() as session:
        await session.execute(update(JobLease).where(JobLease.name == name, JobLease.holder == holder)
                              .values(expires_at=utcnow()))
        await session.commit()


async def current(session: AsyncSession, name: str) -> JobLease | None:
    """The lease while someone holds it (not expired), else None."""
    row = await session.get(JobLease, name)
    return row if row is not None and row.expires_at > utcnow() else None

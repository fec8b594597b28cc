"""Q&A queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from engagement.models import QaMessage, QaReport, QaThread, ReportStatus


async def thread(session: AsyncSession, thread_id: uuid.UUID) -> QaThread | None:
    return await session.get(QaThread, thread_id)


async def message(session: AsyncSession, message_id: uuid.UUID) -> QaMessage | None:
    return await session.get(QaMessage, message_id)


async def report(session: AsyncSession, report_id: uuid.UUID) -> QaReport | None:
    return await session.get(QaReport, report_id, with_for_update=True)


async def threads_of_product(session: AsyncSession, product_id: str, limit: int) -> tuple[list[QaThread], int]:
    count = await session.scalar(select(func.count()).select_from(QaThread).where(QaThread.product_id == product_id))
    rows = await session.scalars(
        select(QaThread)
        .where(QaThread.product_id == product_id)
        .order_by(QaThread.last_activity_at.desc(), QaThread.id.desc())
        .limit(limit)
    )
    return list(rows.all()), int(count or 0)


async def messages_of(session: AsyncSession, thread_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[QaMessage]]:
    grouped: dict[uuid.UUID, list[QaMessage]] = {tid: [] for tid in thread_ids}
    if thread_ids:
        rows = await session.scalars(
            select(QaMessage).where(QaMessage.thread_id.in_(thread_ids)).order_by(QaMessage.created_at, QaMessage.id)
        )
        for row in rows:
            grouped[row.thread_id].append(row)
    return grouped


async def reports(session: AsyncSession, status: ReportStatus | None, *, offset: int, limit: int
                  ) -> tuple[list[tuple[QaReport, QaMessage, QaThread]], int]:
    conditions = [QaReport.status == status] if status else []
    total = await session.scalar(select(func.count()).select_from(QaReport).where(*conditions))
    rows = await session.execute(
        select(QaReport, QaMessage, QaThread)
        .join(QaMessage, QaMessage.id == QaReport.message_id)
        .join(QaThread, QaThread.id == QaMessage.thread_id)
        .where(*conditions)
        .order_by(QaReport.created_at.desc(), QaReport.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [(r, m, t) for r, m, t in rows], int(total or 0)

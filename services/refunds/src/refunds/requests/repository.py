"""Queries of the refund requests feature (no rules, no commits)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.inputs import Page
from refunds.domain import Status
from refunds.models import PaidLine, PaidOrder, RefundRequest, RequestTransition


async def order(session: AsyncSession, order_id: str) -> PaidOrder | None:
    return await session.get(PaidOrder, order_id)


async def order_lines(session: AsyncSession, order_id: str) -> Sequence[PaidLine]:
    query = sa.select(PaidLine).where(PaidLine.order_id == order_id).order_by(PaidLine.position)
    return (await session.scalars(query)).all()


async def request(session: AsyncSession, request_id: str, *, for_update: bool = False) -> RefundRequest | None:
    query = sa.select(RefundRequest).where(RefundRequest.id == request_id)
    if for_update:
        # Fresh from the database, not the session's copy read before a slow call (the refund call waits
        # on payments while the consumer may apply the same refund).
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def move_status(session: AsyncSession, request_id: str, expected: Status, target: Status) -> bool:
    """Compare-and-set of a request's status: False when another transaction moved it first. SQLite has no
    row locks, so ``FOR UPDATE`` alone does not keep two transactions from applying one transition twice."""
    result = await session.execute(
        sa.update(RefundRequest)
        .where(RefundRequest.id == request_id, RefundRequest.status == expected)
        .values(status=target)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def request_of_line(session: AsyncSession, line_id: str) -> RefundRequest | None:
    return await session.scalar(sa.select(RefundRequest).where(RefundRequest.line_id == line_id))


async def requests_of_order(session: AsyncSession, order_id: str) -> Sequence[RefundRequest]:
    query = sa.select(RefundRequest).where(RefundRequest.order_id == order_id).order_by(RefundRequest.created_at)
    return (await session.scalars(query)).all()


async def open_amount(session: AsyncSession, order_id: str) -> int:
    """What requests of the order still waiting for a decision or a refund would take (R1)."""
    query = sa.select(sa.func.coalesce(sa.func.sum(RefundRequest.amount_cents), 0)).where(
        RefundRequest.order_id == order_id, RefundRequest.status.in_([Status.REQUESTED, Status.APPROVED]))
    return int(await session.scalar(query) or 0)


async def history(session: AsyncSession, request_id: str) -> list[RequestTransition]:
    query = sa.select(RequestTransition).where(RequestTransition.request_id == request_id).order_by(RequestTransition.id)
    return list((await session.scalars(query)).all())


async def queue(session: AsyncSession, *, buyer_id: str | None = None, seller_id: str | None = None,
                status: Status | None = None, escalated_only: bool = False, escalated_first: bool = False,
                page: Page) -> tuple[list[RefundRequest], int]:
    where: list[sa.ColumnElement[bool]] = []
    if buyer_id is not None:
        where.append(RefundRequest.buyer_id == buyer_id)
    if seller_id is not None:
        where.append(RefundRequest.seller_id == seller_id)
    if status is not None:
        where.append(RefundRequest.status == status)
    if escalated_only:
        where.append(RefundRequest.escalated_at.is_not(None))
    order_by: list[Any] = []
    if escalated_first:
        # Escalated and still waiting first (R4 staff queue), then the newest.
        order_by.append(sa.case((sa.and_(RefundRequest.escalated_at.is_not(None),
                                          RefundRequest.status == Status.REQUESTED), 0), else_=1))
    order_by += [RefundRequest.created_at.desc(), RefundRequest.id]
    total = int(await session.scalar(sa.select(sa.func.count()).select_from(RefundRequest).where(*where)) or 0)
    rows = (await session.scalars(
        sa.select(RefundRequest).where(*where).order_by(*order_by).offset(page.offset).limit(page.limit))).all()
    return list(rows), total


async def due_for_escalation(session: AsyncSession, created_before: dt.datetime, limit: int = 200) -> Sequence[RefundRequest]:
    query = (sa.select(RefundRequest)
             .where(RefundRequest.status == Status.REQUESTED, RefundRequest.escalated_at.is_(None),
                    RefundRequest.created_at < created_before)
             .order_by(RefundRequest.created_at).limit(limit))
    return (await session.scalars(query)).all()

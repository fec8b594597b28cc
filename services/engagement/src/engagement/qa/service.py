"""Q&A (Q1-Q3): threads on listed products by any signed-in user; replies only by the thread's
buyer (its starter), the product's seller or staff; soft delete by the author within 30 minutes and
by staff at any time; reports with a reason, never hiding anything, resolved by staff (who, when).
Posting (threads, replies, reports) is rate-limited per user. Never commits.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from engagement.models import QaMessage, QaReport, QaThread, ReportStatus, shown_name
from engagement.projections.repository import product as product_fact
from engagement.qa import repository
from engagement.qa.schemas import (
    MessageOut,
    ProductThreads,
    ReplyIn,
    ReportIn,
    ReportOut,
    ReportQueue,
    ThreadIn,
    ThreadOut,
)
from homecraft_shared.db import utcnow
from homecraft_shared.errors import Conflict, Forbidden, NotFound
from homecraft_shared.identity import Identity
from homecraft_shared.ratelimit import RateLimiter

AUTHOR_DELETE_WINDOW = dt.timedelta(minutes=30)  # Q2
THREADS_ON_PAGE = 20  # C9
POST_KEY = "qa-post"


def message_out(message: QaMessage) -> MessageOut:
    deleted = message.deleted_at is not None
    return MessageOut(id=message.id, thread_id=message.thread_id, author_id=message.author_id,
                      author_name=message.author_name, body="" if deleted else message.body,
                      created_at=message.created_at, deleted=deleted, deleted_at=message.deleted_at)


def thread_out(thread: QaThread, messages: list[QaMessage]) -> ThreadOut:
    return ThreadOut(id=thread.id, product_id=thread.product_id, author_id=thread.author_id,
                     author_name=thread.author_name, subject=thread.subject, created_at=thread.created_at,
                     last_activity_at=thread.last_activity_at, messages=[message_out(m) for m in messages])


async def create_thread(session: AsyncSession, identity: Identity, product_id: str, data: ThreadIn,
                        limiter: RateLimiter) -> ThreadOut:
    """Q1: any signed-in user, on a product that is listed."""
    product = await product_fact(session, product_id)
    if product is None:
        raise NotFound(f"Product {product_id} does not exist.")
    if not product.is_listed:
        raise Conflict("This product is not listed: questions can only be asked about products on sale.")
    await limiter.hit(POST_KEY, identity.user_id)
    now = utcnow()
    thread = QaThread(id=uuid.uuid4(), product_id=product_id, author_id=identity.user_id,
                      author_name=shown_name(identity.username), subject=data.subject, created_at=now, last_activity_at=now)
    first = QaMessage(id=uuid.uuid4(), thread_id=thread.id, author_id=identity.user_id,
                      author_name=shown_name(identity.username), body=data.body, created_at=now)
    session.add(thread)
    await session.flush()
    session.add(first)
    return thread_out(thread, [first])


async def may_reply(session: AsyncSession, identity: Identity, thread: QaThread) -> bool:
    if identity.is_staff or identity.user_id == thread.author_id:
        return True
    product = await product_fact(session, thread.product_id)
    return product is not None and product.seller_id == identity.user_id


async def reply(session: AsyncSession, identity: Identity, thread_id: uuid.UUID, data: ReplyIn,
                limiter: RateLimiter) -> MessageOut:
    """Q1: replies only by the thread's buyer, the product's seller, or staff."""
    thread = await repository.thread(session, thread_id)
    if thread is None:
        raise NotFound(f"Thread {thread_id} does not exist.")
    if not await may_reply(session, identity, thread):
        raise Forbidden("Only the person who asked, the product's seller or staff can reply in this thread.")
    await limiter.hit(POST_KEY, identity.user_id)
    now = utcnow()
    message = QaMessage(id=uuid.uuid4(), thread_id=thread.id, author_id=identity.user_id,
                        author_name=shown_name(identity.username), body=data.body, created_at=now)
    session.add(message)
    thread.last_activity_at = now
    return message_out(message)


async def delete_message(session: AsyncSession, identity: Identity, message_id: uuid.UUID, *,
                         now: dt.datetime | None = None) -> MessageOut:
    """Q2: soft delete by the author within 30 minutes; by staff at any time."""
    message = await repository.message(session, message_id)
    if message is None:
        raise NotFound(f"Message {message_id} does not exist.")
    if message.deleted_at is not None:
        return message_out(message)
    now = now or utcnow()
    is_author = message.author_id == identity.user_id
    if not identity.is_staff:
        if not is_author:
            raise Forbidden("Only the message's author (within 30 minutes) or staff can delete it.")
        if now - message.created_at > AUTHOR_DELETE_WINDOW:
            raise Forbidden("Messages can be deleted by their author only within 30 minutes of posting; ask staff.")
    message.deleted_at = now
    message.deleted_by = identity.user_id
    return message_out(message)


async def report_message(session: AsyncSession, identity: Identity, message_id: uuid.UUID, data: ReportIn,
                         limiter: RateLimiter) -> ReportOut:
    """Q3: any signed-in user; never hides the message; deleted messages can't be reported."""
    message = await repository.message(session, message_id)
    if message is None:
        raise NotFound(f"Message {message_id} does not exist.")
    if message.deleted_at is not None:
        raise Conflict("This message was deleted; there is nothing left to report.")
    await limiter.hit(POST_KEY, identity.user_id)
    thread = await repository.thread(session, message.thread_id)
    assert thread is not None
    report = QaReport(id=uuid.uuid4(), message_id=message.id, reporter_id=identity.user_id, reason=data.reason,
                      details=data.details, status=ReportStatus.OPEN, created_at=utcnow())
    session.add(report)
    return report_out(report, message, thread)


def report_out(report: QaReport, message: QaMessage, thread: QaThread) -> ReportOut:
    return ReportOut(id=report.id, message_id=message.id, thread_id=thread.id, product_id=thread.product_id,
                     message_body=message.body, message_deleted=message.deleted_at is not None,
                     reporter_id=report.reporter_id, reason=report.reason, details=report.details,
                     status=report.status, created_at=report.created_at, resolved_at=report.resolved_at,
                     resolved_by=report.resolved_by)


def ensure_staff(identity: Identity) -> None:
    if not identity.is_staff:
        raise Forbidden("Only staff can see and resolve reports.")


async def report_queue(session: AsyncSession, identity: Identity, status: ReportStatus | None, *,
                       offset: int, limit: int) -> ReportQueue:
    ensure_staff(identity)
    rows, total = await repository.reports(session, status, offset=offset, limit=limit)
    return ReportQueue(total=total, reports=[report_out(r, m, t) for r, m, t in rows])


async def resolve_report(session: AsyncSession, identity: Identity, report_id: uuid.UUID) -> ReportOut:
    """Q3: staff resolve a report; who and when are recorded (once: resolving again changes nothing)."""
    ensure_staff(identity)
    report = await repository.report(session, report_id)
    if report is None:
        raise NotFound(f"Report {report_id} does not exist.")
    if report.status is not ReportStatus.RESOLVED:
        report.status = ReportStatus.RESOLVED
        report.resolved_at = utcnow()
        report.resolved_by = identity.user_id
    message = await repository.message(session, report.message_id)
    assert message is not None
    thread = await repository.thread(session, message.thread_id)
    assert thread is not None
    return report_out(report, message, thread)


async def product_threads(session: AsyncSession, product_id: str) -> ProductThreads:
    threads, count = await repository.threads_of_product(session, product_id, THREADS_ON_PAGE)
    messages = await repository.messages_of(session, [t.id for t in threads])
    return ProductThreads(product_id=product_id, count=count,
                          threads=[thread_out(t, messages[t.id]) for t in threads])

"""Operator adjustments (P6's Σ adjustments; A3): owner-only, signed, with a reason, recorded with who
and when, append-only, once per the operator's client key (Idempotency-Key)."""

from __future__ import annotations

from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.errors import Conflict, FieldErrors
from homecraft_shared.identity import Identity
from homecraft_shared.inputs import Page
from payments.adjustments.schemas import AdjustmentCreate
from payments.ledger import domain
from payments.ledger import repository as ledger
from payments.models import LedgerAdjustment, LedgerEntry, OperatorAction, PaidOrderLine, SellerAccount


async def _known_seller(session: AsyncSession, seller_id: str) -> bool:
    """A seller payments knows: a Connect account, a paid line or a ledger entry."""
    found = await session.scalar(select(or_(
        exists().where(SellerAccount.seller_id == seller_id),
        exists().where(PaidOrderLine.seller_id == seller_id),
        exists().where(LedgerEntry.seller_id == seller_id))))
    return bool(found)


async def add(session: AsyncSession, identity: Identity, body: AdjustmentCreate,
              client_key: str) -> tuple[LedgerAdjustment, bool]:
    """(the adjustment, recorded now?). The same key again: the first one (200); with other values: 409."""
    errors = FieldErrors()
    problem = domain.check_adjustment(body.amount_cents)
    if problem:
        errors.add("amount_cents", problem)
    reason = body.reason.strip()
    if len(reason) < 3:
        errors.add("reason", "say why (at least 3 characters besides spaces): the seller sees it")
    existing = await session.scalar(select(LedgerAdjustment).where(LedgerAdjustment.client_key == client_key))
    if existing is not None:
        if (existing.seller_id, existing.amount_cents, existing.reason) != (body.seller_id, body.amount_cents, reason):
            raise Conflict("This Idempotency-Key was used for another adjustment; use a new key for a new adjustment.")
        return existing, False
    if not errors and not await _known_seller(session, body.seller_id):
        errors.add("seller_id", f"payments knows no seller {body.seller_id!r} (no Connect account, sale or entry)")
    errors.raise_if_any()
    movement = domain.adjustment(client_key, body.seller_id, body.amount_cents, reason)
    row = LedgerAdjustment(client_key=client_key, seller_id=body.seller_id, amount_cents=body.amount_cents,
                           reason=reason, movement_key=movement.key, actor_id=identity.user_id,
                           actor_name=identity.username)
    try:
        await ledger.record(session, movement)
        session.add(row)
        session.add(OperatorAction(actor_id=identity.user_id, actor_name=identity.username, action="ledger_adjustment",
                                   target=body.seller_id, detail=f"{body.amount_cents:+d} cents: {reason}"))
        await session.flush()
    except IntegrityError as exc:  # the same key recorded by a concurrent request
        raise Conflict("An adjustment with this Idempotency-Key is being recorded by another request; "
                       "repeat this one to get it.") from exc
    return row, True


async def listing(session: AsyncSession, seller_id: str | None, page: Page) -> tuple[list[LedgerAdjustment], int]:
    query = select(LedgerAdjustment)
    if seller_id:
        query = query.where(LedgerAdjustment.seller_id == seller_id)
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = await session.scalars(query.order_by(LedgerAdjustment.id.desc()).offset(page.offset).limit(page.limit))
    return list(rows.all()), total


async def adjusted_total(session: AsyncSession, seller_id: str) -> int:
    """Σ of the operator's adjustments of a seller (P6's Σ adjustments)."""
    return int(await session.scalar(select(func.coalesce(func.sum(LedgerAdjustment.amount_cents), 0))
                                    .where(LedgerAdjustment.seller_id == seller_id)) or 0)

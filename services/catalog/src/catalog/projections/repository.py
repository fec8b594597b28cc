"""Queries behind the projections of other services' events."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Product, SellerPayoutStatus, SellerRating


async def payout_status(session: AsyncSession, seller_id: str) -> SellerPayoutStatus | None:
    return await session.get(SellerPayoutStatus, seller_id, with_for_update=True)


async def seller_rating(session: AsyncSession, seller_id: str) -> SellerRating | None:
    return await session.get(SellerRating, seller_id, with_for_update=True)


async def product(session: AsyncSession, product_id: uuid.UUID) -> Product | None:
    return await session.get(Product, product_id, with_for_update=True)


def _not_newer_than(computed_at: dt.datetime, *, strictly_older: bool) -> ColumnElement[bool]:
    older = Product.trending_as_of < computed_at if strictly_older else Product.trending_as_of <= computed_at
    return or_(Product.trending_as_of.is_(None), older)


async def zero_trending_scores_older_than(session: AsyncSession, computed_at: dt.datetime) -> None:
    await session.execute(
        update(Product)
        .where(_not_newer_than(computed_at, strictly_older=True))
        .values(trending_score=0.0, trending_as_of=computed_at)
        .execution_options(synchronize_session=False)
    )


async def set_trending_scores(
    session: AsyncSession, scores: Sequence[tuple[uuid.UUID, float]], computed_at: dt.datetime
) -> None:
    for product_id, score in scores:
        await session.execute(
            update(Product)
            .where(Product.id == product_id, _not_newer_than(computed_at, strictly_older=False))
            .values(trending_score=score, trending_as_of=computed_at)
            .execution_options(synchronize_session=False)
        )

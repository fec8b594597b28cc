"""Seller analytics (roadmap phase 5): per listing and per day — views, clicks, add-to-cart,
purchases, revenue, conversion — for a chosen period, from the same daily aggregates as trending.
A seller sees their own listings; owners and staff may ask for any seller."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from engagement.analytics import repository
from engagement.analytics.schemas import DayFigures, Figures, ListingFigures, SellerAnalytics
from engagement.models import ProductDay
from homecraft_shared.errors import Forbidden, invalid_field
from homecraft_shared.identity import Identity

MAX_PERIOD_DAYS = 366
DEFAULT_PERIOD_DAYS = 30
FIELDS = ("views", "clicks", "add_to_cart", "purchases", "revenue_cents")


def conversion(purchases: int, views: int) -> float | None:
    return round(purchases / views, 4) if views else None


def _figures(totals: dict[str, int]) -> Figures:
    return Figures(**totals, conversion=conversion(totals["purchases"], totals["views"]))


def period(first: dt.date | None, last: dt.date | None, today: dt.date) -> tuple[dt.date, dt.date]:
    last = last or today
    first = first or last - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if first > last:
        raise invalid_field("from", "The period's first day (from) is after its last day (to).")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise invalid_field("from", f"A period can be at most {MAX_PERIOD_DAYS} days long.")
    return first, last


async def seller_analytics(session: AsyncSession, identity: Identity, seller_id: str | None,
                           first: dt.date, last: dt.date) -> SellerAnalytics:
    target = seller_id or identity.user_id
    if target != identity.user_id and not identity.is_owner:
        raise Forbidden("Only marketplace owners and staff may see another seller's analytics.")
    rows = await repository.seller_days(session, target, first, last)
    listings: dict[str, ListingFigures] = {}
    sums: dict[str, dict[str, int]] = {}
    overall = dict.fromkeys(FIELDS, 0)
    for product, day in rows:
        values = {name: int(getattr(day, name)) for name in FIELDS}
        listing = listings.get(product.product_id)
        if listing is None:
            listing = listings[product.product_id] = ListingFigures(
                product_id=product.product_id, title=product.title, totals=Figures(), days=[])
            sums[product.product_id] = dict.fromkeys(FIELDS, 0)
        listing.days.append(_day(day, values))
        for name, value in values.items():
            sums[product.product_id][name] += value
            overall[name] += value
    for product_id, listing in listings.items():
        listing.totals = _figures(sums[product_id])
    return SellerAnalytics(seller_id=target, first_day=first, last_day=last, totals=_figures(overall),
                           listings=sorted(listings.values(), key=lambda item: (-item.totals.revenue_cents,
                                                                                 -item.totals.views, item.product_id)))


def _day(day: ProductDay, values: dict[str, int]) -> DayFigures:
    return DayFigures(day=day.day, **values, conversion=conversion(values["purchases"], values["views"]))

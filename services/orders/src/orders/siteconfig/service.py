"""S1: the one site configuration. Owners edit it; everything reads it through a per-process cache
a couple of seconds old at most, so an edit is in force everywhere within seconds. Orders copy the
percent at placement (O2), so an edit never changes an existing order."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from homecraft_shared.caching import TTLCache
from homecraft_shared.db import utcnow
from homecraft_shared.identity import Identity
from homecraft_shared.upsert import insert_for
from orders.domain import clamp_percent
from orders.models import DEFAULT_PERCENT, SiteConfig
from orders.siteconfig.schemas import SiteConfigUpdate

CONFIG_ID = 1
CACHE_KEY = "site-config"


@dataclass(frozen=True)
class CurrentConfig:
    marketplace_percent: Decimal
    default_currency: str
    allowed_countries: tuple[str, ...]


async def load(session: AsyncSession) -> SiteConfig:
    """The row, created with the defaults (10.00 %, usd, ["US"]) the first time it is read.

    Two first reads can race to create it: the loser's insert does nothing and it reads the winner's row
    (a plain INSERT made the loser a 500)."""
    config = await session.get(SiteConfig, CONFIG_ID)
    if config is None:
        await session.execute(insert_for(session, SiteConfig).values(
            id=CONFIG_ID, marketplace_percent=DEFAULT.marketplace_percent, default_currency=DEFAULT.default_currency,
            allowed_countries=list(DEFAULT.allowed_countries), updated_at=utcnow(), updated_by=None,
        ).on_conflict_do_nothing(index_elements=[SiteConfig.id]))
        config = await session.get_one(SiteConfig, CONFIG_ID)
    return config


class SiteConfigCache(TTLCache[str, CurrentConfig]):
    """The per-process cache the configuration is read through (``ORDERS_SITE_CONFIG_CACHE_SECONDS``)."""


DEFAULT = CurrentConfig(DEFAULT_PERCENT, "usd", ("US",))  # what ``load`` creates the row with


_CURRENT = select(SiteConfig.marketplace_percent, SiteConfig.default_currency, SiteConfig.allowed_countries).where(
    SiteConfig.id == CONFIG_ID)


async def current(engine: AsyncEngine, cache: SiteConfigCache) -> CurrentConfig:
    """Read only (never creates the row: the defaults are what it would be created with), so a placement
    writes nothing outside the group commit (decision 0204). A connection is taken from the pool only when
    the cache has to load (decision 0205): a placement within the cache's seconds touches no database
    before its write."""
    async def fetch() -> CurrentConfig:
        async with engine.connect() as connection:
            row = (await connection.execute(_CURRENT)).first()
        if row is None:
            return DEFAULT
        return CurrentConfig(Decimal(row.marketplace_percent), row.default_currency, tuple(row.allowed_countries))

    return await cache.get_or_load(CACHE_KEY, fetch)


async def update(session: AsyncSession, cache: SiteConfigCache, owner: Identity, change: SiteConfigUpdate) -> SiteConfig:
    config = await load(session)
    if change.marketplace_percent is not None:
        config.marketplace_percent = clamp_percent(change.marketplace_percent)
    if change.default_currency is not None:
        config.default_currency = change.default_currency
    if change.allowed_countries is not None:
        config.allowed_countries = change.allowed_countries
    config.updated_at = utcnow()
    config.updated_by = owner.user_id
    cache.invalidate()
    return config

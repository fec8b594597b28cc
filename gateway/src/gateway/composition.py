"""What every page shares and may be a little stale: the category tree of the header and the site
configuration, each cached per process for ``CACHE_SECONDS`` (decision 0701). A failed load is
remembered for ``FAILED_SECONDS`` so a slow or down service is not asked on every page."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.service import seller_labels
from gateway.calls import Call, call
from gateway.clients import ServiceClients
from gateway.settings import GatewaySettings
from homecraft_shared.caching import RefreshingCache, TTLCache
from homecraft_shared.dependencies import resource
from homecraft_shared.runtime import ServiceRuntime

CACHE_SECONDS = 30.0
FAILED_SECONDS = 5.0
READ_CACHE_SECONDS = 5.0  # the catalog's public answers (home, browse, product) as the pages read them
READ_STALE_SECONDS = 5.0  # ... then served while ONE background refresh per key runs (decision 0702)


class SharedPageData:
    def __init__(self, clients: ServiceClients, ttl_seconds: float = CACHE_SECONDS, *,
                 read_seconds: float = READ_CACHE_SECONDS, read_stale_seconds: float = READ_STALE_SECONDS) -> None:
        self._clients = clients
        self._fresh: TTLCache[str, Any] = TTLCache(ttl_seconds, max_entries=8)
        self._failed: TTLCache[str, bool] = TTLCache(min(FAILED_SECONDS, ttl_seconds), max_entries=8)
        self.reads: RefreshingCache[tuple[str, str, str], Call] = RefreshingCache(
            read_seconds, read_stale_seconds, max_entries=2048, keep=lambda result: result.ok)
        self._labels: TTLCache[str, str | None] = TTLCache(READ_CACHE_SECONDS, max_entries=4096)

    async def seller_labels(self, db: AsyncSession, seller_ids: Iterable[str]) -> dict[str, str]:
        """Sellers' public labels (I2: the shop name, else the username) as product pages show them,
        cached ``READ_CACHE_SECONDS`` like the catalog's answers they sit beside (a renamed shop shows
        at most that late; an unknown id is remembered as unknown too). Public, the same for every
        visitor: no private data. The cart and orders read them fresh."""
        labels: dict[str, str] = {}
        missing: list[str] = []
        for seller_id in {i for i in seller_ids if i}:
            hit, label = self._labels.get(seller_id)
            if not hit:
                missing.append(seller_id)
            elif label is not None:
                labels[seller_id] = label
        if missing:
            fresh = await seller_labels(db, missing)
            for seller_id in missing:
                self._labels.put(seller_id, fresh.get(seller_id))
            labels.update(fresh)
        return labels

    async def read(self, client: str, path: str, params: dict[str, Any] | None = None, *,
                   within: float = 3.0) -> Call:
        """A public GET that is the same for every visitor, kept ``READ_CACHE_SECONDS`` when it
        answered 2xx (errors and not-founds are asked again) and then served for up to
        ``READ_STALE_SECONDS`` more while ONE background call per key refreshes it; concurrent misses
        share one call (decision 0702). What it shows may be that much behind: nothing is decided on
        it (the cart and the placement read fresh facts)."""
        return await self.reads.get(
            self._key(client, path, params), lambda: call(getattr(self._clients, client), "GET", path, params=params, within=within))

    async def read_fresh(self, client: str, path: str, params: dict[str, Any] | None = None, *,
                         within: float = 3.0) -> Call:
        """The same GET asked now (read-your-writes, decision 0703); a 2xx answer replaces what
        ``read`` keeps, so everyone in this process sees it from then on."""
        result = await call(getattr(self._clients, client), "GET", path, params=params, within=within)
        self.reads.put(self._key(client, path, params), result)
        return result

    def forget(self, client: str, path: str, params: dict[str, Any] | None = None) -> None:
        """Drop a kept answer: a write this process took changed it."""
        self.reads.invalidate(self._key(client, path, params))

    @staticmethod
    def _key(client: str, path: str, params: dict[str, Any] | None) -> tuple[str, str, str]:
        return client, path, repr(sorted((params or {}).items()))

    async def _cached(self, key: str, client: str, path: str) -> Any:
        hit, value = self._fresh.get(key)
        if hit:
            return value
        if self._failed.get(key)[0]:
            return None
        result = await call(getattr(self._clients, client), "GET", path, within=1.5)
        if not result.ok:
            self._failed.put(key, True)
            return None
        self._fresh.put(key, result.data)
        return result.data

    async def category_nav(self) -> list[dict[str, Any]] | None:
        """The header's category links: each tree (3D Models, 3D Files) with its top categories."""
        data = await self._cached("categories", "catalog", "/categories")
        if not isinstance(data, dict):
            return None
        return [{"label": tree["label"], "type": tree["type"],
                 "categories": [{"id": c["id"], "name": c["name"]} for c in tree["categories"]]}
                for tree in data.get("trees", [])]

    async def site_config(self) -> dict[str, Any] | None:
        """The site configuration in force (S1: currency, the countries shipped to)."""
        data = await self._cached("site-config", "orders", "/site-config")
        return data if isinstance(data, dict) else None


async def open_shared_page_data(runtime: ServiceRuntime) -> None:
    """Start-up hook (after ``open_clients``)."""
    settings = runtime.settings
    assert isinstance(settings, GatewaySettings)
    runtime.resources.add(SharedPageData(runtime.resources.get(ServiceClients), read_seconds=settings.read_cache_seconds,
                                         read_stale_seconds=settings.read_cache_seconds))


shared_page_data = resource(SharedPageData)

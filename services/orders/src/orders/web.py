"""FastAPI dependencies of the orders service: settings, the catalog client, the site-config cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from homecraft_shared.dependencies import resource, runtime_of, settings_of
from homecraft_shared.group_commit import GroupCommit
from homecraft_shared.http_client import ServiceClient
from homecraft_shared.identity import ServiceSigner
from homecraft_shared.inputs import Page, QueryText, paging
from orders.settings import OrdersSettings
from orders.siteconfig.service import SiteConfigCache
from orders.views.schemas import PAGE_SIZE


# Coroutines, not plain functions: FastAPI runs a plain function dependency in its thread pool, a
# thread hand-off per dependency on every request (homecraft_shared.dependencies).
async def get_signer(request: Request) -> ServiceSigner | None:
    return runtime_of(request).service_signer


Settings = Annotated[OrdersSettings, Depends(settings_of(OrdersSettings))]
Catalog = Annotated[ServiceClient, Depends(resource(ServiceClient))]
Signer = Annotated[ServiceSigner | None, Depends(get_signer)]
ConfigCache = Annotated[SiteConfigCache, Depends(resource(SiteConfigCache))]


@dataclass(frozen=True)
class PlacingParts:
    """What placing an order uses, built once per process and handed over as one dependency (decision
    0204): the engine its two reads run on, the sessionmaker for a repeat, the catalog client, the site
    configuration cache, orders' service signer and the group commit new orders' rows go through."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    catalog: ServiceClient
    config_cache: SiteConfigCache
    signer: ServiceSigner | None
    group: GroupCommit


# O1: a guest reaches an order only with ?t=<token>.
GuestToken = Annotated[QueryText | None, Query(alias="t", max_length=128, description="The guest order token (O1).")]
# O8: a buyer's and a seller's lists, 20 a page; the operator's reconciliation list (A1), 50 by default.
ViewPage = Annotated[Page, Depends(paging(default_size=PAGE_SIZE, max_size=PAGE_SIZE))]
ReconPaging = Annotated[Page, Depends(paging(default_size=50, max_size=200))]

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# Ids in paths are lower-case UUIDs: anything else is a 422 before it reaches the database.
OrderId = Annotated[str, Path(pattern=UUID_PATTERN, description="The order's id (a UUID).")]
AssetId = Annotated[str, Path(pattern=UUID_PATTERN, description="A digital asset's id (a UUID).")]

"""FastAPI dependencies of the orders service: settings, the catalog client, the site-config cache."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Path, Query, Request

from homecraft_shared.caching import TTLCache
from homecraft_shared.dependencies import runtime_of
from homecraft_shared.http_client import ServiceClient
from homecraft_shared.identity import ServiceSigner
from orders.settings import OrdersSettings


def get_settings(request: Request) -> OrdersSettings:
    settings = runtime_of(request).settings
    assert isinstance(settings, OrdersSettings)
    return settings


def get_catalog(request: Request) -> ServiceClient:
    return cast(ServiceClient, runtime_of(request).state["catalog_client"])


def get_signer(request: Request) -> ServiceSigner | None:
    return runtime_of(request).service_signer


def get_config_cache(request: Request) -> TTLCache[str, object]:
    return cast("TTLCache[str, object]", runtime_of(request).state["site_config_cache"])


Settings = Annotated[OrdersSettings, Depends(get_settings)]
Catalog = Annotated[ServiceClient, Depends(get_catalog)]
Signer = Annotated[ServiceSigner | None, Depends(get_signer)]
ConfigCache = Annotated[TTLCache[str, object], Depends(get_config_cache)]
# O1: a guest reaches an order only with ?t=<token>.
GuestToken = Annotated[str | None, Query(alias="t", max_length=128, description="The guest order token (O1).")]
Page = Annotated[int, Query(ge=1, le=100_000, description="1-based page number.")]

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# Ids in paths are lower-case UUIDs: anything else is a 422 before it reaches the database.
OrderId = Annotated[str, Path(pattern=UUID_PATTERN, description="The order's id (a UUID).")]
AssetId = Annotated[str, Path(pattern=UUID_PATTERN, description="A digital asset's id (a UUID).")]

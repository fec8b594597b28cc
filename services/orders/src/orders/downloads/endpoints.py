from __future__ import annotations

from fastapi import APIRouter

from homecraft_shared.dependencies import DbSession, OptionalIdentity
from homecraft_shared.openapi import problems
from orders.downloads import service
from orders.downloads.schemas import DownloadGrant, DownloadList
from orders.web import AssetId, Catalog, GuestToken, OrderId, Settings, Signer

router = APIRouter(prefix="/orders/{order_id}/downloads", tags=["downloads"], responses=problems(403, 404, 409, 503))


@router.get("", summary="The 3D files of a paid order's FILE lines (O6)")
async def list_downloads(order_id: OrderId, session: DbSession, identity: OptionalIdentity, catalog: Catalog,
                         signer: Signer, t: GuestToken = None) -> DownloadList:
    return await service.list_downloads(session, catalog, signer, identity, t, order_id)


@router.post("/{asset_id}/grant", summary="A short-lived grant the catalog accepts for this one file (O6)")
async def download_grant(order_id: OrderId, asset_id: AssetId, session: DbSession, identity: OptionalIdentity, catalog: Catalog,
                         signer: Signer, settings: Settings, t: GuestToken = None) -> DownloadGrant:
    return await service.grant(session, catalog, signer, settings.download_grant_seconds, identity, t, order_id, asset_id)

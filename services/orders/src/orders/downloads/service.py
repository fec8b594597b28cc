"""O6: downloads only for a paid order, by its buyer, the token holder or an owner, only assets of
FILE products on that order, and never for a refunded line or a charged-back order.

Orders decides; the catalog streams. A download is a short-lived grant, signed with the orders
service's own key, naming one asset (and the order, for the catalog's log); the catalog checks the
signature against orders' trusted public key, the audience and the expiry, and serves that one
file. The asset is never public and no user token ever reaches the catalog's file endpoint.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.errors import Conflict, Forbidden, NotFound, Problem
from homecraft_shared.http_client import ServiceClient
from homecraft_shared.identity import DOWNLOAD_GRANT_AUDIENCE, Identity, ServiceSigner
from orders import access, catalog_client
from orders.domain import Status
from orders.downloads.schemas import DownloadGrant, DownloadItem, DownloadList
from orders.models import Order, OrderLine


class NoServiceKey(Problem):
    status = 503
    title = "Downloads unavailable"


def _signer(signer: ServiceSigner | None) -> ServiceSigner:
    if signer is None:
        raise NoServiceKey("This orders service has no signing key (ORDERS_SERVICE_PRIVATE_KEY); downloads are off.")
    return signer


async def entitled_order(session: AsyncSession, identity: Identity | None, token: str | None, order_id: str) -> Order:
    order = await access.order_for(session, order_id, identity, token)
    if order.status == Status.REFUNDED:
        raise Forbidden("This order was refunded or charged back; its downloads have ended (O6).")
    if order.status != Status.PAID:
        raise Conflict(f"This order is {order.status}; downloads open once it is paid (O6).")
    return order


def downloadable_lines(order: Order) -> list[OrderLine]:
    return [line for line in order.lines if line.is_digital and line.refunded_at is None]


async def list_downloads(session: AsyncSession, catalog: ServiceClient, signer: ServiceSigner | None,
                         identity: Identity | None, token: str | None, order_id: str) -> DownloadList:
    order = await entitled_order(session, identity, token, order_id)
    service_token = _signer(signer).token()
    items = []
    for line in downloadable_lines(order):
        for asset in await catalog_client.product_assets(catalog, line.product_id, service_token):
            items.append(DownloadItem(line_id=line.id, product_id=line.product_id, title=line.title,
                                      asset_id=asset.asset_id, filename=asset.filename))
    return DownloadList(order_id=order.id, items=items)


async def grant(session: AsyncSession, catalog: ServiceClient, signer: ServiceSigner | None, ttl_seconds: int,
                identity: Identity | None, token: str | None, order_id: str, asset_id: str) -> DownloadGrant:
    order = await entitled_order(session, identity, token, order_id)
    own = _signer(signer)
    service_token = own.token()
    for line in downloadable_lines(order):
        assets = await catalog_client.product_assets(catalog, line.product_id, service_token)
        if any(asset.asset_id == asset_id for asset in assets):
            claims = {"sub": f"order:{order.id}", "asset": asset_id, "order": order.id, "line": line.id,
                      "jti": secrets.token_urlsafe(12)}
            signed = own.sign_claims(claims, audience=DOWNLOAD_GRANT_AUDIENCE, ttl=dt.timedelta(seconds=ttl_seconds))
            return DownloadGrant(asset_id=asset_id, grant=signed, catalog_path=f"/internal/downloads/{asset_id}?grant={signed}",
                                 expires_in=ttl_seconds)
    if any(line.is_digital and line.refunded_at is not None for line in order.lines):
        # Possibly this asset's line was refunded; say so only after checking it is not downloadable.
        raise Forbidden("This file is not downloadable from this order: its line was refunded (O6) or it is not on it.")
    raise NotFound("This file is not part of this order's 3D files (O6).")

"""O7: on payment of a guest order, an email with the tokenized order link and one tokenized
download link per digital asset, queued in the same transaction as the payment (shared
``outgoing_mail``) and sent by the worker with retries."""

from __future__ import annotations

import logging
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.http_client import ServiceClient
from homecraft_shared.identity import ServiceSigner
from homecraft_shared.money import format_cents
from homecraft_shared.outgoing_mail import queue_mail
from orders import catalog_client
from orders.models import Order
from orders.settings import OrdersSettings

logger = logging.getLogger(__name__)


def order_link(settings: OrdersSettings, order: Order) -> str:
    return f"{settings.public_base_url.rstrip('/')}/orders/{order.id}?t={quote(order.access_token or '')}"


def download_link(settings: OrdersSettings, order: Order, asset_id: str) -> str:
    return (f"{settings.public_base_url.rstrip('/')}/orders/{order.id}/downloads/{asset_id}"
            f"?t={quote(order.access_token or '')}")


async def queue_guest_paid_email(session: AsyncSession, catalog: ServiceClient, settings: OrdersSettings,
                                 order: Order, signer: ServiceSigner | None = None) -> bool:
    """Queue the guest's email (once per order, by its dedupe key). False for a registered buyer."""
    if not order.is_guest or not order.guest_email:
        return False
    lines = [
        "Thanks for your purchase at Home Craft 3D!",
        "",
        f"Order {order.id}: {format_cents(order.total_cents, order.currency)}",
        "",
        "Access your order here:",
        order_link(settings, order),
        "",
    ]
    file_lines = [line for line in order.lines if line.is_digital]
    if file_lines:
        lines.append("Your digital downloads (links are tied to your order):")
        for line in file_lines:
            assets = None
            if signer is not None:
                try:
                    assets = await catalog_client.product_assets(catalog, line.product_id, signer.token())
                except catalog_client.CatalogUnavailable:
                    logger.warning("catalog unreachable while writing the guest email; linking the order page")
            if assets is None:
                lines.append(f"- {line.title}: {order_link(settings, order)}")
                continue
            for asset in assets:
                lines.append(f"- {line.title} — {asset.filename}: {download_link(settings, order, asset.asset_id)}")
        lines.append("")
    lines.append("If you didn't make this purchase, you can ignore this email.")
    queued = await queue_mail(session, dedupe_key=f"order-paid:{order.id}", to=order.guest_email,
                              subject=f"Your Home Craft 3D order {order.id}", body="\n".join(lines))
    return queued is not None

"""Downloads (O6) through a grant the real catalog verifies, ending on refund; the guest email (O7)
sent over real SMTP with the tokenized links."""

from __future__ import annotations

import re

import httpx
from support import Mailbox, Orders
from test_lifecycle import completed, deliver, envelope

from homecraft_shared.db import utcnow
from homecraft_shared.events.payments import PaymentRefundedV1


async def paid_guest_file_order(orders: Orders) -> dict:
    file = orders.catalog.pick(kind="FILE")
    model = orders.catalog.pick(kind="MODEL")
    order = (await orders.place([(file["id"], 1), (model["id"], 1)], guest_email="dl@example.com")).json()
    await deliver(orders, envelope(completed(order), order["id"]))
    return order


async def test_guest_downloads_a_file_through_a_catalog_verified_grant(orders: Orders) -> None:
    order = await paid_guest_file_order(orders)
    token = {"t": order["access_token"]}
    listing = await orders.client.get(f"/orders/{order['id']}/downloads", params=token)
    assert listing.status_code == 200, listing.text
    items = listing.json()["items"]
    assert items and all(item["filename"] for item in items)
    asset_id = items[0]["asset_id"]
    lines = (await orders.client.get(f"/orders/{order['id']}", params=token)).json()["lines"]
    assert [line["downloadable"] for line in lines] == [line["is_digital"] for line in lines]
    grant = await orders.client.post(f"/orders/{order['id']}/downloads/{asset_id}/grant", params=token)
    assert grant.status_code == 200, grant.text
    path = grant.json()["catalog_path"]
    async with httpx.AsyncClient(base_url=orders.catalog.url) as catalog:
        content = await catalog.get(path)
        assert content.status_code == 200 and len(content.content) > 84  # a binary STL: header + triangles
        assert content.headers["cache-control"] == "private, no-store"
        # The grant opens exactly this asset; without a grant the file is not public.
        other = path.replace(asset_id, "00000000-0000-4000-8000-000000000000")
        assert (await catalog.get(other)).status_code == 403
        assert (await catalog.get(f"/internal/downloads/{asset_id}")).status_code == 422
        forged = path[:-4] + ("AAAA" if not path.endswith("AAAA") else "BBBB")
        assert (await catalog.get(forged)).status_code == 401
    # Someone without the token: 404; an asset of another product: 404.
    assert (await orders.client.get(f"/orders/{order['id']}/downloads")).status_code == 404
    stranger = await orders.client.post(f"/orders/{order['id']}/downloads/00000000-0000-4000-8000-000000000000/grant",
                                        params=token)
    assert stranger.status_code == 404


async def test_downloads_end_when_the_line_is_refunded(orders: Orders) -> None:
    order = await paid_guest_file_order(orders)
    token = {"t": order["access_token"]}
    file_line = next(line for line in order["lines"] if line["is_digital"])
    asset_id = (await orders.client.get(f"/orders/{order['id']}/downloads", params=token)).json()["items"][0]["asset_id"]
    refund = PaymentRefundedV1(order_id=order["id"], refund_id="re_dl", payment_intent_id="pi_1", status="succeeded",
                               amount_cents=file_line["gross_cents"], currency="usd", line_ids=[file_line["id"]],
                               refunded_total_cents=file_line["gross_cents"], charged_total_cents=order["total_cents"],
                               fully_refunded=False, observed_at=utcnow())
    await deliver(orders, envelope(refund, order["id"]))
    assert (await orders.client.get(f"/orders/{order['id']}/downloads", params=token)).json()["items"] == []
    lines = (await orders.client.get(f"/orders/{order['id']}", params=token)).json()["lines"]
    assert not any(line["downloadable"] for line in lines)
    refused = await orders.client.post(f"/orders/{order['id']}/downloads/{asset_id}/grant", params=token)
    assert refused.status_code == 403 and "refunded" in refused.json()["detail"]


async def test_no_downloads_before_payment(orders: Orders) -> None:
    file = orders.catalog.pick(kind="FILE")
    order = (await orders.place([(file["id"], 1)], guest_email="early@example.com")).json()
    response = await orders.client.get(f"/orders/{order['id']}/downloads", params={"t": order["access_token"]})
    assert response.status_code == 409 and "paid" in response.json()["detail"]


async def test_the_guest_email_arrives_over_smtp_with_tokenized_links(orders: Orders, mailbox: Mailbox) -> None:
    order = await paid_guest_file_order(orders)
    (message,) = await mailbox.wait_for(1)
    assert message["To"] == "dl@example.com" and order["id"] in message["Subject"]
    body = message.get_payload(decode=True).decode()
    token = order["access_token"]
    assert f"http://storefront.test/orders/{order['id']}?t={token}" in body
    downloads = re.findall(rf"http://storefront\.test/orders/{order['id']}/downloads/([0-9a-f-]+)\?t={re.escape(token)}", body)
    listed = (await orders.client.get(f"/orders/{order['id']}/downloads", params={"t": token})).json()["items"]
    assert sorted(downloads) == sorted(item["asset_id"] for item in listed) and downloads

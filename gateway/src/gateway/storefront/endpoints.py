"""Storefront pages, composed from the services: home, browse and search, categories, product pages,
the cart, checkout and orders. The gateway holds no business rule: it asks the owning service."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from gateway.accounts.service import seller_labels
from gateway.clients import ServiceClients, service_clients
from gateway.composition import SharedPageData, shared_page_data
from gateway.engagement import EngagementRecorder, engagement_recorder
from gateway.pages import Call, call, problem_detail, render
from gateway.sessions import Ctx, PageContext
from gateway.storefront.aftercare import guest_token, order_extras
from homecraft_shared.dependencies import runtime_of
from homecraft_shared.http_client import ServiceUnavailable
from homecraft_shared.identity import ServiceSigner

logger = logging.getLogger(__name__)

router = APIRouter(tags=["storefront"])
Clients = Annotated[ServiceClients, Depends(service_clients)]
Recorder = Annotated[EngagementRecorder, Depends(engagement_recorder)]
Shared = Annotated[SharedPageData, Depends(shared_page_data)]


def _signer(request: Request) -> ServiceSigner | None:
    return runtime_of(request).service_signer


Signer = Annotated[ServiceSigner | None, Depends(_signer)]

SORTS = [("", "Best match / newest"), ("new", "Newest"), ("trending", "Trending"), ("top", "Top rated")]
KINDS = {"all": ("/browse", "Everything"), "models": ("/browse/models", "Printed models"),
         "files": ("/browse/files", "3D files")}


# --- home, browse, categories ---------------------------------------------------------------------

@router.get("/", summary="The storefront home page (C6)")
async def home(ctx: Ctx, clients: Clients, shared: Shared) -> Response:
    if ctx.user is not None:
        return await dashboard(ctx, clients, shared)
    result = await shared.read("catalog", "/home")
    return await render(ctx, "home.html", keep=result.ok, signed_in_too=False,  # theirs is the dashboard (C6)
                        buckets=result.data if result.ok else None)


async def dashboard(ctx: PageContext, clients: ServiceClients, shared: SharedPageData) -> Response:
    """C6: signed-in users land on their dashboard: recent orders, what they may review, featured products."""
    orders, reviewable, featured = await asyncio.gather(
        call(clients.orders, "GET", "/me/orders", headers=ctx.auth_headers()),
        call(clients.engagement, "GET", "/me/reviewable", headers=ctx.auth_headers(), within=1.5),
        shared.read("catalog", "/home"),
    )
    items = orders.data.get("items", []) if orders.ok and isinstance(orders.data, dict) else None
    return await render(ctx, "dashboard.html", orders=items[:5] if items is not None else None,
                        reviewable=reviewable.data if reviewable.ok else None,
                        featured=(featured.data or {}).get("featured", [])[:4] if featured.ok else [])


async def _browse(ctx: PageContext, shared: SharedPageData, kind: str, q: str | None, sort: str | None,
                  page: int) -> Response:
    path, label = KINDS[kind]
    params: dict[str, Any] = {"page": page, "page_size": 24}
    if q:
        params["q"] = q[:200]
    if sort in ("new", "trending", "top", "relevance"):
        params["sort"] = sort
    result = await shared.read("catalog", path, params)
    error = None
    if not result.ok:
        error = problem_detail(result, "The search could not be run; try other words.")
    def page_url(number: int) -> str:
        return f"{path}?{urlencode({k: v for k, v in {'q': q or '', 'sort': sort or '', 'page': number}.items() if v})}"
    return await render(ctx, "browse.html", status=200 if result.ok or result.error else 400, keep=result.ok,
                        result=result.data if result.ok else None, error=error, kind=kind, label=label, path=path,
                        q=q or "", sort=sort or "", sorts=SORTS, page_url=page_url)


@router.get("/browse", summary="Browse and search everything (C5)")
async def browse(ctx: Ctx, shared: Shared, q: str | None = None, sort: str | None = None,
                 page: Annotated[int, Query(ge=1, le=1000)] = 1) -> Response:
    return await _browse(ctx, shared, "all", q, sort, page)


@router.get("/browse/models", summary="Browse printed models (C5)")
async def browse_models(ctx: Ctx, shared: Shared, q: str | None = None, sort: str | None = None,
                        page: Annotated[int, Query(ge=1, le=1000)] = 1) -> Response:
    return await _browse(ctx, shared, "models", q, sort, page)


@router.get("/browse/files", summary="Browse 3D files (C5)")
async def browse_files(ctx: Ctx, shared: Shared, q: str | None = None, sort: str | None = None,
                       page: Annotated[int, Query(ge=1, le=1000)] = 1) -> Response:
    return await _browse(ctx, shared, "files", q, sort, page)


@router.get("/categories/{category_id}", summary="A category page with child chips (C8)")
async def category(ctx: Ctx, shared: Shared, category_id: int, sort: str = "new",
                   page: Annotated[int, Query(ge=1, le=1000)] = 1) -> Response:
    sort = sort if sort in ("new", "trending", "top") else "new"
    result = await shared.read("catalog", f"/browse/categories/{category_id}",
                               {"sort": sort, "page": page, "page_size": 24})
    if result.status == 404:
        return await render(ctx, "not_found.html", status=404)
    return await render(ctx, "category.html", keep=result.ok, data=result.data if result.ok else None, sort=sort,
                        sorts=SORTS[1:], category_id=category_id)


# --- product page ---------------------------------------------------------------------------------

@router.get("/products/{product_id}", summary="A product page (C9, C10), composed in parallel")
async def product(ctx: Ctx, clients: Clients, shared: Shared, recorder: Recorder, product_id: uuid.UUID,
                  via: Annotated[str | None, Query(max_length=20, description="'card': reached from a card (E1 click)")] = None,
                  ) -> Response:
    pid = str(product_id)
    # Reviews and Q&A may be a few seconds behind (decisions 0702, 0703), except for a user who just
    # posted, deleted or reported something there: they read them fresh for a while (read-your-writes;
    # the fresh answer is kept for everyone else too).
    read = shared.read_fresh if ctx.reads_fresh else shared.read
    engagement = (read("engagement", f"/products/{pid}/reviews", within=1.5),
                  read("engagement", f"/products/{pid}/threads", within=1.5))
    detail, reviews, threads = await asyncio.gather(shared.read("catalog", f"/browse/products/{pid}"), *engagement)
    if detail.status == 404:
        return await render(ctx, "not_found.html", status=404)
    if not detail.ok:
        return await render(ctx, "unavailable.html", status=503)
    labels = await shared.seller_labels(ctx.db, [detail.data["seller_id"]])
    page = await render(ctx, "product.html", views_of=pid, keep=reviews.ok and threads.ok, p=detail.data,
                        seller=labels.get(detail.data["seller_id"], "an independent maker"),
                        reviews=reviews.data if reviews.ok else None,
                        threads=threads.data if threads.ok else None,
                        qa={"p": {"id": pid}, "threads": threads.data if threads.ok else None})
    # E1, fire and forget: queued in memory, sent after the response by the recorder's loop.
    if via == "card":
        recorder.record("CLICK", pid, ctx.visitor)
    recorder.record("VIEW", pid, ctx.visitor)
    return page


@router.get("/media/images/{storage_key}", summary="Product images, served through the storefront")
async def product_image(storage_key: str, clients: Clients) -> Response:
    upstream = await clients.catalog.get(f"/media/images/{quote(storage_key)}")
    if upstream.status_code != 200:
        return Response(status_code=upstream.status_code)
    headers = {k: v for k, v in upstream.headers.items() if k.lower() in ("cache-control", "etag")}
    return Response(upstream.content, media_type=upstream.headers.get("content-type"), headers=headers)


# --- cart (K1, K2) --------------------------------------------------------------------------------

MAX_QUANTITY = 99  # the form's bound only; orders enforces the rule at placement


async def _cart_view(ctx: PageContext, clients: ServiceClients,
                     signer: ServiceSigner | None) -> tuple[list[dict[str, Any]], list[str]]:
    """The cart's lines with the catalog's current facts, in ONE call (the catalog's product lookup,
    as the gateway's service identity); gone products are dropped silently and lines of sellers not
    ready yet are removed with a message naming the product and the seller (K2)."""
    cart = ctx.cart
    if not cart:
        return [], []
    result = await call(clients.catalog, "POST", "/internal/products/lookup", idempotent=True,
                        json={"product_ids": list(cart)}, headers=signer.authorization() if signer else {})
    if not result.ok or not isinstance(result.data, dict):
        return [{"id": pid, "quantity": quantity, "unknown": True} for pid, quantity in cart.items()], []
    facts = {p["product_id"]: p for p in result.data.get("products", [])}
    labels = await seller_labels(ctx.db, (p["seller_id"] for p in facts.values()))
    lines, messages, changed = [], [], False
    for pid, quantity in list(cart.items()):
        p = facts.get(pid)
        if p is None or not p["visible"]:  # gone: dropped silently (K2)
            del cart[pid]
            changed = True
            continue
        seller = labels.get(p["seller_id"], "its seller")
        if not p["can_buy"]:
            del cart[pid]
            changed = True
            messages.append(f"“{p['title']}” was removed: {seller} is not ready to sell yet.")
            continue
        if p["kind"] == "FILE" and quantity != 1:
            cart[pid] = quantity = 1
            changed = True
        lines.append({"id": pid, "quantity": quantity, "product": p, "seller": seller,
                      "line_cents": p["price_cents"] * quantity})
    if changed:
        ctx.set("cart", cart)
    return lines, messages


@router.get("/cart", summary="The cart (K1, K2)")
async def cart_page(ctx: Ctx, clients: Clients, signer: Signer, shared: Shared) -> Response:
    lines, messages = await _cart_view(ctx, clients, signer)
    for message in messages:
        ctx.flash(message, "warning")
    if "checkout_key" not in ctx.data:
        ctx.set("checkout_key", secrets.token_urlsafe(24))
    total = sum(line.get("line_cents", 0) for line in lines)
    needs_email = ctx.user is None
    ships = any(line.get("product", {}).get("kind") == "MODEL" for line in lines)
    config = await shared.site_config() if ships else None
    return await render(ctx, "cart.html", lines=lines, total=total, needs_email=needs_email,
                        checkout_key=ctx.data["checkout_key"], email=ctx.data.get("guest_email", ""), error=None,
                        ship_to=(config or {}).get("allowed_countries") if ships else None)


def _quantity(raw: object) -> int | None:
    try:
        value = int(str(raw))
    except ValueError:
        return None
    return value if 1 <= value <= MAX_QUANTITY else None


@router.post("/cart/add", summary="Add a product to the cart (server-side gating, K1)")
async def cart_add(ctx: Ctx, clients: Clients, recorder: Recorder, request: Request) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    pid = str(form.get("product_id", ""))
    quantity = _quantity(form.get("quantity", "1"))
    try:
        uuid.UUID(pid)
    except ValueError:
        return await render(ctx, "not_found.html", status=404)
    result = await call(clients.catalog, "GET", f"/browse/products/{pid}")
    if result.status == 404:
        return await render(ctx, "not_found.html", status=404)
    if not result.ok:
        ctx.flash("The shop could not check this product right now; please try again.", "error")
        return await ctx.redirect(f"/products/{pid}")
    p = result.data
    if not p["can_buy"]:
        ctx.flash(f"“{p['title']}” cannot be bought yet: its seller is not ready to sell.", "warning")
        return await ctx.redirect(f"/products/{pid}")
    if quantity is None:
        ctx.flash(f"Choose a quantity from 1 to {MAX_QUANTITY}.", "error")
        return await ctx.redirect(f"/products/{pid}")
    cart = ctx.cart
    if p["kind"] == "FILE":
        cart[pid] = 1
    else:
        cart[pid] = min(MAX_QUANTITY, cart.get(pid, 0) + quantity)
    ctx.set("cart", cart)
    ctx.data.pop("checkout_key", None)  # a changed cart is a new order
    ctx.flash(f"Added “{p['title']}” to your cart.")
    done = await ctx.redirect("/cart")
    recorder.record("ADD_TO_CART", pid, ctx.visitor)  # E1, fire and forget
    return done


@router.post("/cart/update", summary="Change a line's quantity or remove it")
async def cart_update(ctx: Ctx, request: Request) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    pid = str(form.get("product_id", ""))
    cart = ctx.cart
    if pid in cart:
        if form.get("remove"):
            del cart[pid]
        else:
            quantity = _quantity(form.get("quantity"))
            if quantity is None:
                ctx.flash(f"Choose a quantity from 1 to {MAX_QUANTITY}.", "error")
            else:
                cart[pid] = quantity
        ctx.set("cart", cart)
        ctx.data.pop("checkout_key", None)
    return await ctx.redirect("/cart")


# --- checkout -------------------------------------------------------------------------------------

@router.post("/checkout", summary="Place the order (idempotent) and go to the hosted payment page")
async def checkout(ctx: Ctx, clients: Clients, signer: Signer, request: Request) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    lines, messages = await _cart_view(ctx, clients, signer)
    for message in messages:
        ctx.flash(message, "warning")
    if messages or not lines:
        return await ctx.redirect("/cart")
    key = str(form.get("checkout_key", "")) or ctx.data.get("checkout_key") or secrets.token_urlsafe(24)
    body: dict[str, Any] = {"lines": [{"product_id": line["id"], "quantity": line["quantity"]} for line in lines]}
    if ctx.user is None:
        email = str(form.get("email", "")).strip()
        ctx.set("guest_email", email)
        body["guest_email"] = email
    placed = await call(clients.orders, "POST", "/orders", json=body, within=10.0, idempotent=True,
                        headers={"Idempotency-Key": key, **ctx.auth_headers()})
    if not placed.ok:
        ctx.flash(problem_detail(placed, "The order could not be placed."), "error")
        return await ctx.redirect("/cart")
    order = placed.data
    token = order.get("access_token")
    _remember_order(ctx, order["id"], token)
    ctx.set("cart", {})
    ctx.data.pop("checkout_key", None)
    started = await call(clients.payments, "POST", "/checkout/sessions", within=15.0,
                         json={"order_id": order["id"], "order_token": token}, headers=ctx.auth_headers())
    if not started.ok:
        ctx.flash(problem_detail(started, "Payment could not be started; you can retry from your order."), "error")
        return await ctx.redirect(_order_url(order["id"], token))
    if not started.data.get("payment_required"):
        ctx.flash("Your free order is confirmed.")
        return await ctx.redirect(_order_url(order["id"], token))
    return await ctx.redirect(str(started.data["url"]))


def _remember_order(ctx: PageContext, order_id: str, token: str | None) -> None:
    orders = dict(ctx.data.get("orders", {}))
    orders[order_id] = token or ""
    ctx.set("orders", orders)
    ctx.set("last_order", order_id)


def _order_url(order_id: str, token: str | None) -> str:
    return f"/orders/{quote(order_id)}" + (f"?t={quote(token)}" if token else "")


@router.post("/orders/{order_id}/pay", summary="Retry payment of a pending order")
async def pay_again(ctx: Ctx, clients: Clients, order_id: str, request: Request) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    token = guest_token(form.get("t"))
    started = await call(clients.payments, "POST", "/checkout/sessions", within=15.0,
                         json={"order_id": order_id, "order_token": token}, headers=ctx.auth_headers())
    if started.status == 404:
        return await render(ctx, "not_found.html", status=404)
    if not started.ok:
        ctx.flash(problem_detail(started, "Payment could not be started."), "error")
        return await ctx.redirect(_order_url(order_id, token))
    if not started.data.get("payment_required"):
        return await ctx.redirect(_order_url(order_id, token))
    return await ctx.redirect(str(started.data["url"]))


@router.get("/orders/checkout/success", summary="Back from the hosted payment page")
async def checkout_success(ctx: Ctx) -> Response:
    last = ctx.data.get("last_order")
    if not last:
        ctx.flash("Thank you! Your payment was received.")
        return await ctx.redirect("/account/orders" if ctx.user else "/")
    ctx.flash("Thank you! Your payment was received; your order is being confirmed.")
    return await ctx.redirect(_order_url(last, ctx.data.get("orders", {}).get(last)))


@router.get("/orders/{order_id}/checkout/cancel", summary="Back from the hosted page without paying")
async def checkout_cancel(ctx: Ctx, order_id: str, t: str | None = None) -> Response:
    ctx.flash("Payment was cancelled. Your order is waiting; you can pay it from this page.", "warning")
    return await ctx.redirect(_order_url(order_id, guest_token(t)))


# --- orders ---------------------------------------------------------------------------------------

def _token_param(t: str | None) -> dict[str, str]:
    return {"t": t} if t else {}


@router.get("/account/orders", summary="My orders")
async def my_orders(ctx: Ctx, clients: Clients) -> Response:
    if ctx.user is None:
        return await ctx.redirect("/account/signin?next=/account/orders")
    result = await call(clients.orders, "GET", "/me/orders", headers=ctx.auth_headers())
    data = result.data if result.ok else None
    items = data.get("items", data) if isinstance(data, dict) else data
    return await render(ctx, "my_orders.html", orders=items, error=None if result.ok else problem_detail(result))


@router.get("/orders/{order_id}", summary="An order: its buyer, or a guest with the token link (O1)")
async def order_page(ctx: Ctx, clients: Clients, order_id: str, t: str | None = None) -> Response:
    t = t or ctx.data.get("orders", {}).get(order_id) or None
    order, downloads = await asyncio.gather(
        call(clients.orders, "GET", f"/orders/{quote(order_id)}", params=_token_param(t), headers=ctx.auth_headers()),
        call(clients.orders, "GET", f"/orders/{quote(order_id)}/downloads", params=_token_param(t),
             headers=ctx.auth_headers()),
    )
    if order.status in (401, 403, 404, 422):
        return await render(ctx, "not_found.html", status=404)
    if not order.ok:
        return await render(ctx, "unavailable.html", status=503)
    extras = await order_extras(ctx, clients, order.data, t) if order.data["status"] != "pending" else {}
    sellers = await seller_labels(ctx.db, [*(line.get("seller_id", "") for line in order.data.get("lines", [])),
                                           *extras.get("rateable_sellers", [])])
    return await render(ctx, "order.html", order=order.data, token=t or "", sellers=sellers,
                        downloads=downloads.data.get("items", []) if downloads.ok else [], **extras)


@router.get("/orders/{order_id}/downloads/{asset_id}", summary="Download a purchased file, streamed through the gateway (O6)")
async def download(ctx: Ctx, clients: Clients, order_id: str, asset_id: str, t: str | None = None) -> Response:
    t = t or ctx.data.get("orders", {}).get(order_id) or None
    grant: Call = await call(clients.orders, "POST", f"/orders/{quote(order_id)}/downloads/{quote(asset_id)}/grant",
                             params=_token_param(t), headers=ctx.auth_headers())
    if not grant.ok:
        return await render(ctx, "not_found.html", status=404)
    try:
        upstream = await clients.catalog.open_stream(str(grant.data["catalog_path"]))
    except ServiceUnavailable:
        return await render(ctx, "unavailable.html", status=503)
    if upstream.status_code != 200:
        await upstream.aclose()
        return await render(ctx, "not_found.html", status=404)
    headers = {k: v for k, v in upstream.headers.items()
               if k.lower() in ("content-disposition", "content-length", "x-content-sha256")}
    headers.update({"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})

    async def body() -> Any:
        try:
            async for chunk in upstream.aiter_bytes():
                yield chunk
        finally:
            await upstream.aclose()

    await ctx.save()
    return StreamingResponse(body(), media_type=upstream.headers.get("content-type", "application/octet-stream"),
                             headers=headers)

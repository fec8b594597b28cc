"""After the purchase: refund requests (refunds service, R1-R4), product reviews and seller ratings
(engagement, V1-V2), questions and answers (engagement, Q1-Q3). Each form carries the CSRF token;
what is allowed is the owning service's decision, shown to the buyer as its message."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gateway.clients import ServiceClients, service_clients
from gateway.composition import SharedPageData
from gateway.pagecache import PageCache
from gateway.pages import call, problem_detail, render
from gateway.sessions import Ctx, PageContext
from homecraft_shared.dependencies import runtime_of

router = APIRouter(tags=["after the purchase"])
Clients = Annotated[ServiceClients, Depends(service_clients)]

REFUND_REASONS = [("damaged", "It arrived damaged"), ("not_as_described", "Not as described"),
                  ("late", "It arrived late / never arrived"), ("wrong_item", "Wrong item"), ("other", "Something else")]


def order_url(order_id: str, token: str | None) -> str:
    return f"/orders/{quote(order_id)}" + (f"?t={quote(token)}" if token else "")


GUEST_TOKEN_MAX = 128  # orders' bound on the guest token (O1)


def guest_token(submitted: object) -> str | None:
    """A guest order token from a form or a query: absurd values (too long, not text) are no token."""
    return submitted if isinstance(submitted, str) and 0 < len(submitted) <= GUEST_TOKEN_MAX else None


def _token(ctx: PageContext, order_id: str, submitted: object) -> str | None:
    return guest_token(submitted) or ctx.data.get("orders", {}).get(order_id) or None


async def order_extras(ctx: PageContext, clients: ServiceClients, order: dict[str, Any],
                       token: str | None) -> dict[str, Any]:
    """The order page's refund requests and what the buyer may still review or rate (non-essential:
    a service down leaves a notice, not an error)."""
    order_id = order["id"]
    if ctx.user is not None:
        refunds_call = call(clients.refunds, "GET", "/refund-requests", params={"view": "buyer", "page_size": 100},
                            headers=ctx.auth_headers())
        reviewable_call = call(clients.engagement, "GET", "/me/reviewable", headers=ctx.auth_headers(), within=1.5)
        refunds, reviewable = await asyncio.gather(refunds_call, reviewable_call)
        requests = ([r for r in refunds.data.get("items", []) if r["order_id"] == order_id] if refunds.ok else None)
        lines = [x for x in reviewable.data.get("lines", []) if x["order_id"] == order_id] if reviewable.ok else []
        sellers = [x for x in reviewable.data.get("sellers", []) if x["order_id"] == order_id] if reviewable.ok else []
    else:
        refunds = await call(clients.refunds, "POST", f"/refund-requests/guest-view/{quote(order_id)}",
                             json={"guest_token": token or ""})
        requests = refunds.data if refunds.ok and isinstance(refunds.data, list) else None
        lines, sellers = [], []
    return {"refund_requests": requests, "reviewable_lines": {x["line_id"] for x in lines},
            "rateable_sellers": [x["seller_id"] for x in sellers], "refund_reasons": REFUND_REASONS}


@router.post("/orders/{order_id}/refund-requests", summary="Ask for a refund of a shipped line (R1, R2)")
async def request_refund(ctx: Ctx, clients: Clients, order_id: str, request: Request) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    token = _token(ctx, order_id, form.get("t"))
    body: dict[str, Any] = {"order_id": order_id, "line_id": str(form.get("line_id", "")),
                            "reason": str(form.get("reason", "")), "note": str(form.get("note", ""))[:2000]}
    if ctx.user is None:
        body.update(guest_token=token or "", guest_email=str(form.get("guest_email", "")).strip())
    result = await call(clients.refunds, "POST", "/refund-requests", json=body, headers=ctx.auth_headers())
    if result.ok:
        ctx.flash("Your refund request was sent to the seller.")
    else:
        ctx.flash(problem_detail(result, "The refund request could not be sent."), "error")
    return await ctx.redirect(order_url(order_id, token))


@router.post("/orders/{order_id}/refund-requests/{request_id}/cancel", summary="Cancel a refund request before a decision")
async def cancel_refund(ctx: Ctx, clients: Clients, order_id: str, request_id: str, request: Request) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    token = _token(ctx, order_id, form.get("t"))
    params = {"t": token} if token and ctx.user is None else {}
    result = await call(clients.refunds, "POST", f"/refund-requests/{quote(request_id)}/cancel", params=params,
                        headers=ctx.auth_headers())
    if result.status in (401, 403, 404, 422):  # another's request, or no token: as if it did not exist
        return await render(ctx, "not_found.html", status=404)
    if result.ok:
        ctx.flash("Your refund request is cancelled.")
    else:
        ctx.flash(problem_detail(result, "The refund request could not be cancelled."), "error")
    return await ctx.redirect(order_url(order_id, token))


def engagement_changed(ctx: PageContext, product_id: str | None) -> None:
    """A write to reviews or Q&A went through: its author reads them fresh for a while on every replica
    (read-your-writes), and this process forgets what it kept of that product's page, so everyone it
    serves sees the change at once (other replicas within the bound; decision 0703)."""
    ctx.note_own_write()
    if product_id:
        resources = runtime_of(ctx.request).resources
        for what in ("reviews", "threads"):
            resources.get(SharedPageData).forget("engagement", f"/products/{product_id}/{what}")
        resources.get(PageCache).forget_path(f"/products/{product_id}")


async def _engagement_write(ctx: PageContext, clients: ServiceClients, method: str, path: str, *,
                            done: str, failed: str, product_id: str | None = None,
                            json: dict[str, Any] | None = None) -> None:
    """Send one review or Q&A write to engagement and tell the visitor how it went. On success the
    pages that show it are refreshed (`engagement_changed`) for the product named here, or else the
    one engagement names in its answer (a review knows its product only from its order line)."""
    result = await call(clients.engagement, method, path, within=3.0, headers=ctx.auth_headers(), json=json)
    if result.ok:
        answered = result.data.get("product_id") if isinstance(result.data, dict) else None
        engagement_changed(ctx, product_id or answered)
        ctx.flash(done, "info")
    else:
        ctx.flash(problem_detail(result, failed), "error")


def _rating(raw: object) -> int | None:
    try:
        value = int(str(raw))
    except ValueError:
        return None
    return value if 1 <= value <= 5 else None


@router.post("/orders/{order_id}/reviews", summary="Review a purchased line (V1)")
async def review(ctx: Ctx, clients: Clients, order_id: str, request: Request) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    if ctx.user is None:
        return await ctx.redirect(f"/account/signin?next={quote(order_url(order_id, None))}")
    rating = _rating(form.get("rating"))
    if rating is None:
        ctx.flash("Choose from 1 to 5 stars.", "error")
        return await ctx.redirect(order_url(order_id, None))
    await _engagement_write(ctx, clients, "POST", "/reviews", done="Thank you for your review.",
                            failed="The review could not be saved.", json={
        "line_id": str(form.get("line_id", "")), "rating": rating,
        "title": str(form.get("title", "")).strip()[:120], "body": str(form.get("body", "")).strip()[:5000]})
    return await ctx.redirect(order_url(order_id, None))


@router.post("/orders/{order_id}/seller-reviews", summary="Rate the seller of a paid order (V2)")
async def rate_seller(ctx: Ctx, clients: Clients, order_id: str, request: Request) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    if ctx.user is None:
        return await ctx.redirect(f"/account/signin?next={quote(order_url(order_id, None))}")
    rating = _rating(form.get("rating"))
    if rating is None:
        ctx.flash("Choose from 1 to 5 stars.", "error")
        return await ctx.redirect(order_url(order_id, None))
    # no product here: the seller's rating reaches product pages through the catalog
    await _engagement_write(ctx, clients, "POST", "/seller-reviews", done="Thank you for rating the seller.",
                            failed="The rating could not be saved.", json={
        "order_id": order_id, "seller_id": str(form.get("seller_id", "")), "rating": rating,
        "title": str(form.get("title", "")).strip()[:120], "body": str(form.get("body", "")).strip()[:5000]})
    return await ctx.redirect(order_url(order_id, None))


@router.post("/products/{product_id}/questions", summary="Ask a question about a product (Q1)")
async def ask(ctx: Ctx, clients: Clients, product_id: uuid.UUID, request: Request) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    back = f"/products/{product_id}#qa-h"
    if ctx.user is None:
        return await ctx.redirect(f"/account/signin?next=/products/{product_id}")
    await _engagement_write(ctx, clients, "POST", f"/products/{product_id}/threads", product_id=str(product_id),
                            done="Your question is posted.", failed="The question could not be posted.",
                            json={"subject": str(form.get("subject", "")).strip()[:200], "body": str(form.get("body", ""))})
    return await ctx.redirect(back)


@router.post("/products/{product_id}/questions/{thread_id}/replies", summary="Reply in a Q&A thread (Q2)")
async def reply(ctx: Ctx, clients: Clients, product_id: uuid.UUID, thread_id: uuid.UUID, request: Request) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    if ctx.user is None:
        return await ctx.redirect(f"/account/signin?next=/products/{product_id}")
    await _engagement_write(ctx, clients, "POST", f"/threads/{thread_id}/messages", product_id=str(product_id),
                            done="Your reply is posted.", failed="The reply could not be posted.",
                            json={"body": str(form.get("body", ""))})
    return await ctx.redirect(f"/products/{product_id}#qa-h")




@router.post("/products/{product_id}/messages/{message_id}/delete", summary="Delete your own Q&A message (Q2: within 30 minutes)")
async def delete_message(ctx: Ctx, clients: Clients, product_id: uuid.UUID, message_id: uuid.UUID,
                         request: Request) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    await _engagement_write(ctx, clients, "DELETE", f"/messages/{message_id}", product_id=str(product_id),
                            done="Your message is deleted.", failed="The message could not be deleted.")
    return await ctx.redirect(f"/products/{product_id}#qa-h")


@router.post("/products/{product_id}/messages/{message_id}/report", summary="Report a Q&A message (Q3)")
async def report_message(ctx: Ctx, clients: Clients, product_id: uuid.UUID, message_id: uuid.UUID,
                         request: Request) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    if ctx.user is None:
        return await ctx.redirect(f"/account/signin?next=/products/{product_id}")
    await _engagement_write(ctx, clients, "POST", f"/messages/{message_id}/reports", product_id=str(product_id),
                            done="Thank you: the report was sent to the moderators.", failed="The report could not be sent.",
                            json={"reason": str(form.get("reason", "other")), "details": str(form.get("details", ""))[:2000]})
    return await ctx.redirect(f"/products/{product_id}#qa-h")

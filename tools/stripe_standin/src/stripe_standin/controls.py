"""Test and operator controls under ``/_standin`` (off unless the stand-in is started with them):
what a buyer, a bank or a person in Stripe's dashboard would do, plus the webhook record, chaos and when
a call's webhooks are delivered (``/webhook-delivery``: queued, or before the call answers; decision 0401).

JSON in, JSON out; errors use Stripe's error body. Events caused here carry ``request.id = null``,
as Stripe's do for dashboard and automatic actions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from stripe_standin import dashboard, objects
from stripe_standin.engine import PaymentDetails, Standin
from stripe_standin.errors import StripeError
from stripe_standin.webhooks import Chaos, WebhookDelivery

SAMPLE_ADDRESSES = {
    "US": {"line1": "510 Townsend St", "city": "San Francisco", "state": "CA", "postal_code": "94103", "country": "US"},
    "CA": {"line1": "123 Main St", "city": "Toronto", "state": "ON", "postal_code": "M5V 2T6", "country": "CA"},
    "GB": {"line1": "1 Main Street", "city": "London", "postal_code": "SW1A 1AA", "country": "GB"},
}


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, indent=2), status_code=status, media_type="application/json")


def _delivery(row: Any) -> dict[str, Any]:
    return {key: row[key] for key in row.keys()}  # noqa: SIM118 (sqlite3.Row)


def router(engine: Standin) -> APIRouter:
    r = APIRouter(prefix="/_standin")
    store = engine.store

    async def run(request: Request, action: Callable[[dict[str, Any]], Any]) -> Response:
        raw = await request.body()
        from_page = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        try:
            if from_page:  # a button on the /_standin/ page: do it, then show the page again
                body: Any = {k: int(v) if k == "amount" and v.isdigit() else v
                             for k, v in parse_qsl(raw.decode(), keep_blank_values=False)}
            else:
                body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise StripeError("The body must be a JSON object.")
            with engine.deliverer.collecting() as inline, store.transaction():
                result = action(body)
            await engine.deliverer.deliver_inline(inline)  # before_response: sent and answered before we answer
            if from_page:
                return RedirectResponse("/_standin/", status_code=303)
            return _json(objects.public(result))
        except json.JSONDecodeError:
            return _json(StripeError("The body must be JSON.").body(), 400)
        except StripeError as error:
            if from_page:
                return dashboard.page("Not done", f'<p class="error">{escape(error.message)}</p>'
                                      '<p><a href="/_standin/">Back to the controls</a></p>', error.status)
            return _json(error.body(), error.status)

    @r.get("/", response_class=HTMLResponse)
    async def overview() -> Response:
        return dashboard.overview(engine)

    @r.post("/chaos")
    async def chaos_from_page(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        current = engine.deliverer.chaos.as_dict()
        engine.deliverer.chaos = Chaos(**{**current, "enabled": form.get("enabled") == "true"})
        return RedirectResponse("/_standin/", status_code=303)

    @r.post("/checkout/sessions/{session_id}/pay")
    async def pay(request: Request, session_id: str) -> Response:
        def action(body: dict[str, Any]) -> Any:
            session = engine.session(session_id)
            allowed = (session["shipping_address_collection"] or {}).get("allowed_countries") or ["US"]
            shipping = body.get("shipping") or {}
            ship_country = (shipping.get("address") or {}).get("country") or allowed[0]
            details = PaymentDetails(
                email=body.get("email") or "buyer@example.com",
                name=body.get("name") or "Jenny Rosen",
                address=body.get("address") or SAMPLE_ADDRESSES["US"],
                phone=body.get("phone") or ("+15555550100" if session["phone_number_collection"]["enabled"] else None),
                shipping_name=shipping.get("name") or body.get("name") or "Jenny Rosen",
                shipping_address=(shipping.get("address") or SAMPLE_ADDRESSES.get(ship_country)
                                  or {**SAMPLE_ADDRESSES["US"], "country": ship_country})
                if session["shipping_address_collection"] else None,
            )
            return engine.pay_session(session_id, details, str(request.base_url).rstrip("/"))
        return await run(request, action)

    @r.post("/checkout/sessions/{session_id}/expire")
    async def expire(request: Request, session_id: str) -> Response:
        return await run(request, lambda body: engine.expire_session(session_id))

    @r.post("/accounts/{account_id}/onboarding")
    async def onboarding(request: Request, account_id: str) -> Response:
        return await run(request, lambda body: engine.onboard(account_id, body.get("state", "complete")))

    @r.post("/refunds")
    async def dashboard_refund(request: Request) -> Response:
        """A refund made "from the Stripe dashboard": no metadata naming order lines."""
        def action(body: dict[str, Any]) -> Any:
            params = {k: body[k] for k in ("payment_intent", "charge", "amount", "reason") if body.get(k) is not None}
            return engine.create_refund(params, status=body.get("status", "succeeded"))
        return await run(request, action)

    @r.post("/refunds/{refund_id}/status")
    async def refund_status(request: Request, refund_id: str) -> Response:
        return await run(request, lambda body: engine.set_refund_status(refund_id, body.get("status", "succeeded")))

    @r.post("/disputes")
    async def open_dispute(request: Request) -> Response:
        return await run(request, engine.open_dispute)

    @r.post("/disputes/{dispute_id}/update")
    async def update_dispute(request: Request, dispute_id: str) -> Response:
        return await run(request, lambda body: engine.update_dispute(dispute_id, body))

    @r.post("/disputes/{dispute_id}/close")
    async def close_dispute(request: Request, dispute_id: str) -> Response:
        return await run(request, lambda body: engine.close_dispute(dispute_id, body.get("outcome", "")))

    @r.post("/events/{event_id}/resend")
    async def resend(request: Request, event_id: str) -> Response:
        return await run(request, lambda body: {"event": event_id, "queued": engine.resend(event_id)})

    @r.get("/events")
    async def events(type: str | None = None, limit: int = 100) -> Response:
        """The recorded events, newest first, each with its endpoint and deliveries."""
        listed = []
        for event, endpoint in store.events(type, limit):
            deliveries = [_delivery(row) for row in store.deliveries(event["id"])]
            listed.append({"event": event, "endpoint": endpoint, "deliveries": deliveries})
        return _json({"object": "list", "data": listed})

    @r.get("/deliveries")
    async def attempts(event_id: str | None = None) -> Response:
        """Every delivery attempt in order: event, endpoint, time, status code or error."""
        return _json({"object": "list", "data": [_delivery(row) for row in store.attempts(event_id)]})

    @r.get("/chaos")
    async def get_chaos() -> Response:
        return _json(engine.deliverer.chaos.as_dict())

    @r.put("/chaos")
    async def set_chaos(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            engine.deliverer.chaos = Chaos(**{**engine.deliverer.chaos.as_dict(), **body})
        except (TypeError, json.JSONDecodeError) as error:
            return _json(StripeError(f"Invalid chaos settings: {error}").body(), 400)
        return _json(engine.deliverer.chaos.as_dict())

    @r.get("/webhook-delivery")
    async def get_webhook_delivery() -> Response:
        return _json(engine.deliverer.delivery.as_dict())

    @r.put("/webhook-delivery")
    async def set_webhook_delivery(request: Request) -> Response:
        """``{"mode": "before_response", "copies": 2}``: the events of each later /v1 call or control are
        delivered ``copies`` times, each answered by the receiver, before that call answers;
        ``{"mode": "queued"}`` (the default): queued for the worker after the call, as Stripe does."""
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise TypeError("the body must be a JSON object")
            engine.deliverer.delivery = WebhookDelivery(**{**engine.deliverer.delivery.as_dict(), **body})
        except (TypeError, ValueError) as error:  # JSONDecodeError is a ValueError
            return _json(StripeError(f"Invalid webhook delivery settings: {error}. Send "
                                     '{"mode": "queued" | "before_response", "copies": 1..10}.').body(), 400)
        return _json(engine.deliverer.delivery.as_dict())

    @r.get("/webhooks")
    async def endpoints() -> Response:
        return _json({name: {"url": endpoint.url} for name, endpoint in engine.deliverer.endpoints.items()})

    return r

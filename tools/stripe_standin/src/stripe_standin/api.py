"""Stripe's HTTP API (``/v1``) for exactly the calls the marketplace makes.

Every call goes through ``_call``: the API key, a request id, form decoding and schema checks,
idempotency keys (same key and parameters → the saved answer, ``Idempotent-Replayed: true``; same
key, other parameters or path → ``idempotency_error``), the operation in one transaction,
``expand``, and Stripe-shaped errors. With webhook delivery ``before_response`` (a control), the
events the call emitted are delivered, and answered by the receiver, after its commit and before it answers.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from stripe_standin import objects
from stripe_standin.engine import RequestContext, Standin, current_request
from stripe_standin.errors import StripeError, invalid
from stripe_standin.forms import (
    EXPAND,
    Bool,
    DictOf,
    Enum,
    Hash,
    Int,
    ListOf,
    Metadata,
    Str,
    check,
    decode,
)

Action = Callable[[dict[str, Any]], dict[str, Any]]
log = logging.getLogger("stripe_standin.api")

LIST = {"limit": Int(), "starting_after": Str(), "ending_before": Str(), "expand": EXPAND}

ACCOUNT_CREATE = Hash({
    "type": Enum("express", "standard", "custom"),
    "country": Str(2),
    "email": Str(),
    "capabilities": DictOf(Hash({"requested": Bool()})),
    "business_type": Enum("individual", "company", "non_profit", "government_entity"),
    "business_profile": Hash({"url": Str(), "name": Str(), "mcc": Str(), "product_description": Str(),
                              "support_email": Str(), "support_phone": Str()}),
    "default_currency": Str(3),
    "metadata": Metadata(),
    "expand": EXPAND,
})
ACCOUNT_UPDATE = Hash({"email": Str(), "metadata": Metadata(keep_unset=True), "expand": EXPAND})
ACCOUNT_LINK_CREATE = Hash({
    "account": Str(),
    "refresh_url": Str(),
    "return_url": Str(),
    "type": Enum("account_onboarding", "account_update"),
    "collect": Enum("currently_due", "eventually_due"),
    "collection_options": Hash({"fields": Enum("currently_due", "eventually_due"),
                                "future_requirements": Enum("include", "omit")}),
    "expand": EXPAND,
}, required=("account", "type"))
SESSION_CREATE = Hash({
    "mode": Enum("payment", "setup", "subscription"),
    "line_items": ListOf(Hash({
        "price_data": Hash({
            "currency": Str(3),
            "unit_amount": Int(minimum=0),
            "product_data": Hash({"name": Str(), "description": Str(), "images": ListOf(Str()), "metadata": Metadata(),
                                  "tax_code": Str()}, required=("name",)),
            "tax_behavior": Enum("exclusive", "inclusive", "unspecified"),
        }, required=("currency",)),
        "price": Str(),
        "quantity": Int(minimum=1),
        "metadata": Metadata(),
    })),
    "success_url": Str(),
    "cancel_url": Str(),
    "metadata": Metadata(),
    "payment_intent_data": Hash({
        "metadata": Metadata(),
        "transfer_group": Str(),
        "description": Str(),
        "receipt_email": Str(),
        "statement_descriptor": Str(22),
        "statement_descriptor_suffix": Str(22),
    }),
    "client_reference_id": Str(200),
    "customer_email": Str(),
    "billing_address_collection": Enum("auto", "required"),
    "shipping_address_collection": Hash({"allowed_countries": ListOf(Str(2))}, required=("allowed_countries",)),
    "phone_number_collection": Hash({"enabled": Bool()}, required=("enabled",)),
    "payment_method_types": ListOf(Str()),
    "expires_at": Int(),
    "locale": Str(),
    "customer_creation": Enum("always", "if_required"),
    "submit_type": Enum("auto", "book", "donate", "pay", "subscribe"),
    "ui_mode": Enum("hosted"),
    "expand": EXPAND,
}, required=("mode",))
TRANSFER_CREATE = Hash({
    "amount": Int(),
    "currency": Str(3),
    "destination": Str(),
    "transfer_group": Str(),
    "source_transaction": Str(),
    "metadata": Metadata(),
    "description": Str(),
    "expand": EXPAND,
}, required=("amount", "currency", "destination"))
REFUND_CREATE = Hash({
    "payment_intent": Str(),
    "charge": Str(),
    "amount": Int(),
    "metadata": Metadata(),
    "reason": Enum("duplicate", "fraudulent", "requested_by_customer"),
    "expand": EXPAND,
})
EXPAND_ONLY = Hash({"expand": EXPAND})
DISPUTE_CLOSE = Hash({"expand": EXPAND})


def _authenticate(request: Request, api_key: str | None) -> str:
    header = request.headers.get("authorization", "")
    key = ""
    if header.lower().startswith("bearer "):
        key = header[7:].strip()
    elif header.lower().startswith("basic "):
        try:
            key = base64.b64decode(header[6:]).decode().split(":", 1)[0]
        except ValueError:
            key = ""
    if not key:
        raise StripeError("You did not provide an API key. You need to provide your API key in the Authorization header, "
                          "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').", status=401)
    accepted = key == api_key if api_key else key.startswith("sk_test_")
    if not accepted:
        raise StripeError(f"Invalid API Key provided: {key[:8]}{'*' * 12}{key[-4:]}", status=401,
                          code="api_key_invalid")
    return key


def _json(body: Any, status: int, headers: dict[str, str]) -> Response:
    return Response(json.dumps(body, indent=2), status_code=status, media_type="application/json", headers=headers)


class Api:
    def __init__(self, engine: Standin, api_key: str | None, public_url: str | None) -> None:
        self.engine = engine
        self.store = engine.store
        self.api_key = api_key
        self.public_url = public_url

    def url_base(self, request: Request) -> str:
        return (self.public_url or str(request.base_url)).rstrip("/")

    async def call(self, request: Request, schema: Hash, action: Action, *, mutating: bool) -> Response:
        request_id = objects.new_id("req_", 14)
        headers = {"Request-Id": request_id, "Stripe-Version": request.headers.get("stripe-version", objects.API_VERSION)}
        key = request.headers.get("idempotency-key") if mutating else None
        try:
            api_key = _authenticate(request, self.api_key)
            raw = decode(await request.body()) if request.method == "POST" else decode(str(request.url.query))
            fingerprint = json.dumps(raw, sort_keys=True)
            if key:
                headers["Idempotency-Key"] = key
                saved = self.store.idempotent_result(api_key, key)
                if saved is not None:
                    if saved["path"] != request.url.path or saved["method"] != request.method or saved["params"] != fingerprint:
                        raise StripeError(
                            "Keys for idempotent requests can only be used with the same parameters they were first used "
                            f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                            type="idempotency_error",
                        )
                    return _json(json.loads(saved["body"]), saved["status"],
                                 {**headers, "Idempotent-Replayed": "true", "Original-Request": saved["request_id"]})
            params = check(raw, schema)
            token = current_request.set(RequestContext(request_id, key))
            try:
                with self.engine.deliverer.collecting() as inline, self.store.transaction():
                    result = action(params)
                    body = objects.public(self.expand(result, params.get("expand") or []))
                    if key:
                        self._save(api_key, key, request, fingerprint, 200, body, request_id)
            except StripeError as error:
                # The endpoint ran and refused (a refund too large, say): the key keeps that answer,
                # saved after the rollback of whatever the operation had begun.
                if key and error.saved:
                    self._save(api_key, key, request, fingerprint, error.status, error.body(request_id), request_id)
                raise
            finally:
                current_request.reset(token)
            await self.engine.deliverer.deliver_inline(inline)  # before_response (decision 0401); else nothing
            return _json(body, 200, headers)
        except StripeError as error:
            return _json(error.body(request_id), error.status, headers)
        except Exception:  # a bug here: answer as Stripe does, and tell the library not to retry
            log.exception("stand-in error on %s %s", request.method, request.url.path)
            internal = StripeError("An unknown error occurred in the Stripe stand-in (see its log).", status=500,
                                   type="api_error")
            return _json(internal.body(request_id), 500, {**headers, "Stripe-Should-Retry": "false"})

    def _save(self, api_key: str, key: str, request: Request, fingerprint: str, status: int, body: Any,
              request_id: str) -> None:
        self.store.save_idempotent_result(api_key, key, request.method, request.url.path, fingerprint, status,
                                          json.dumps(body), request_id)

    # -- expand --------------------------------------------------------------------------------

    def expand(self, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
        for path in paths:
            obj = self._expand(obj, path.split("."), path)
        return obj

    def _expand(self, obj: Any, parts: list[str], path: str) -> Any:
        if not parts or obj is None:
            return obj
        if isinstance(obj, list):
            return [self._expand(item, parts, path) for item in obj]
        if not isinstance(obj, dict):
            raise invalid("expand", f"This property cannot be expanded ({path}).")
        key, rest = parts[0], parts[1:]
        if obj.get("object") == "checkout.session" and key == "line_items":
            value: Any = objects.list_object(f"/v1/checkout/sessions/{obj['id']}/line_items", obj.get("_line_items", []))
        elif key not in obj:
            raise invalid("expand", f"This property cannot be expanded ({path}).")
        else:
            value = obj[key]
            if isinstance(value, str):
                found = self.store.get(value)
                if found is None or found["object"].startswith("_"):
                    raise invalid("expand", f"This property cannot be expanded ({path}).")
                value = found
            elif value is not None and not isinstance(value, dict | list):
                raise invalid("expand", f"This property cannot be expanded ({path}).")
        obj = dict(obj)
        obj[key] = self._expand(value, rest, path)
        return obj

    # -- lists ---------------------------------------------------------------------------------

    def page(self, kind: str, url: str, params: dict[str, Any], filters: dict[str, Any]) -> dict[str, Any]:
        limit = params.get("limit", 10)
        if not 1 <= limit <= 100:
            raise invalid("limit", "This value must be between 1 and 100.")
        after = self._cursor(kind, params.get("starting_after"), "starting_after")
        before = self._cursor(kind, params.get("ending_before"), "ending_before")
        items, has_more = self.store.page(kind, {k: v for k, v in filters.items() if v is not None}, limit, after, before)
        return objects.list_object(url, items, has_more)

    def _cursor(self, kind: str, object_id: str | None, param: str) -> int | None:
        if not object_id:
            return None
        seq = self.store.seq_of(object_id, kind)
        if seq is None:
            raise invalid(param, f"No such {kind}: '{object_id}'", code="resource_missing")
        return seq


def router(api: Api) -> APIRouter:
    engine = api.engine
    r = APIRouter(prefix="/v1")

    def list_schema(**filters: Any) -> Hash:
        return Hash({**LIST, **filters})

    # Connect
    @r.post("/accounts")
    async def create_account(request: Request) -> Response:
        return await api.call(request, ACCOUNT_CREATE, engine.create_account, mutating=True)

    @r.get("/accounts/{account_id}")
    async def retrieve_account(request: Request, account_id: str) -> Response:
        return await api.call(request, EXPAND_ONLY, lambda p: engine.need(account_id, "account"), mutating=False)

    @r.post("/accounts/{account_id}")
    async def update_account(request: Request, account_id: str) -> Response:
        return await api.call(request, ACCOUNT_UPDATE, lambda p: engine.update_account(account_id, p), mutating=True)

    @r.get("/accounts")
    async def list_accounts(request: Request) -> Response:
        return await api.call(request, list_schema(), lambda p: api.page("account", "/v1/accounts", p, {}), mutating=False)

    @r.post("/account_links")
    async def create_account_link(request: Request) -> Response:
        return await api.call(request, ACCOUNT_LINK_CREATE,
                              lambda p: engine.create_account_link(p, api.url_base(request)), mutating=True)

    # Checkout
    @r.post("/checkout/sessions")
    async def create_session(request: Request) -> Response:
        return await api.call(request, SESSION_CREATE, lambda p: engine.create_session(p, api.url_base(request)),
                              mutating=True)

    @r.get("/checkout/sessions/{session_id}")
    async def retrieve_session(request: Request, session_id: str) -> Response:
        return await api.call(request, EXPAND_ONLY, lambda p: engine.session(session_id), mutating=False)

    @r.get("/checkout/sessions/{session_id}/line_items")
    async def session_line_items(request: Request, session_id: str) -> Response:
        def action(params: dict[str, Any]) -> dict[str, Any]:
            items = engine.session(session_id)["_line_items"]
            return objects.list_object(f"/v1/checkout/sessions/{session_id}/line_items", items[: params.get("limit", 10)],
                                       len(items) > params.get("limit", 10))
        return await api.call(request, list_schema(), action, mutating=False)

    @r.post("/checkout/sessions/{session_id}/expire")
    async def expire_session(request: Request, session_id: str) -> Response:
        return await api.call(request, EXPAND_ONLY, lambda p: engine.expire_session(session_id), mutating=True)

    @r.get("/checkout/sessions")
    async def list_sessions(request: Request) -> Response:
        schema = list_schema(payment_intent=Str(), status=Enum("open", "complete", "expired"))
        return await api.call(request, schema, lambda p: api.page(
            "checkout.session", "/v1/checkout/sessions", p,
            {"payment_intent": p.get("payment_intent"), "status": p.get("status")}), mutating=False)

    # Payments
    @r.get("/payment_intents/{intent_id}")
    async def retrieve_intent(request: Request, intent_id: str) -> Response:
        return await api.call(request, Hash({"expand": EXPAND, "client_secret": Str()}),
                              lambda p: engine.need(intent_id, "payment_intent"), mutating=False)

    @r.get("/charges/{charge_id}")
    async def retrieve_charge(request: Request, charge_id: str) -> Response:
        return await api.call(request, EXPAND_ONLY, lambda p: engine.need(charge_id, "charge"), mutating=False)

    @r.get("/charges")
    async def list_charges(request: Request) -> Response:
        return await api.call(request, list_schema(payment_intent=Str(), transfer_group=Str()), lambda p: api.page(
            "charge", "/v1/charges", p, {"payment_intent": p.get("payment_intent"),
                                         "transfer_group": p.get("transfer_group")}), mutating=False)

    @r.get("/balance")
    async def balance(request: Request) -> Response:
        return await api.call(request, EXPAND_ONLY, lambda p: engine.balance_object(), mutating=False)

    @r.get("/balance_transactions/{txn_id}")
    async def retrieve_balance_transaction(request: Request, txn_id: str) -> Response:
        return await api.call(request, EXPAND_ONLY, lambda p: engine.need(txn_id, "balance_transaction"), mutating=False)

    # Transfers
    @r.post("/transfers")
    async def create_transfer(request: Request) -> Response:
        return await api.call(request, TRANSFER_CREATE, engine.create_transfer, mutating=True)

    @r.get("/transfers/{transfer_id}")
    async def retrieve_transfer(request: Request, transfer_id: str) -> Response:
        return await api.call(request, EXPAND_ONLY, lambda p: engine.need(transfer_id, "transfer"), mutating=False)

    @r.get("/transfers")
    async def list_transfers(request: Request) -> Response:
        return await api.call(request, list_schema(destination=Str(), transfer_group=Str()), lambda p: api.page(
            "transfer", "/v1/transfers", p, {"destination": p.get("destination"),
                                             "transfer_group": p.get("transfer_group")}), mutating=False)

    # Refunds
    @r.post("/refunds")
    async def create_refund(request: Request) -> Response:
        return await api.call(request, REFUND_CREATE, engine.create_refund, mutating=True)

    @r.get("/refunds/{refund_id}")
    async def retrieve_refund(request: Request, refund_id: str) -> Response:
        return await api.call(request, EXPAND_ONLY, lambda p: engine.need(refund_id, "refund"), mutating=False)

    @r.get("/refunds")
    async def list_refunds(request: Request) -> Response:
        return await api.call(request, list_schema(charge=Str(), payment_intent=Str()), lambda p: api.page(
            "refund", "/v1/refunds", p, {"charge": p.get("charge"), "payment_intent": p.get("payment_intent")}),
            mutating=False)

    # Disputes
    @r.get("/disputes/{dispute_id}")
    async def retrieve_dispute(request: Request, dispute_id: str) -> Response:
        return await api.call(request, EXPAND_ONLY, lambda p: engine.need(dispute_id, "dispute"), mutating=False)

    @r.get("/disputes")
    async def list_disputes(request: Request) -> Response:
        return await api.call(request, list_schema(charge=Str(), payment_intent=Str()), lambda p: api.page(
            "dispute", "/v1/disputes", p, {"charge": p.get("charge"), "payment_intent": p.get("payment_intent")}),
            mutating=False)

    @r.post("/disputes/{dispute_id}/close")
    async def accept_dispute(request: Request, dispute_id: str) -> Response:
        return await api.call(request, DISPUTE_CLOSE, lambda p: engine.close_dispute(dispute_id, "lost"), mutating=True)

    # Events
    @r.get("/events/{event_id}")
    async def retrieve_event(request: Request, event_id: str) -> Response:
        def action(params: dict[str, Any]) -> dict[str, Any]:
            found = api.store.event(event_id)
            if found is None:
                raise StripeError(f"No such event: '{event_id}'", status=404, code="resource_missing", param="id")
            return found[0]
        return await api.call(request, EXPAND_ONLY, action, mutating=False)

    @r.get("/events")
    async def list_events(request: Request) -> Response:
        def action(params: dict[str, Any]) -> dict[str, Any]:
            limit = params.get("limit", 10)
            if not 1 <= limit <= 100:
                raise invalid("limit", "This value must be between 1 and 100.")
            cursors = []
            for name in ("starting_after", "ending_before"):
                value = params.get(name)
                seq = api.store.event_seq(value) if value else None
                if value and seq is None:
                    raise invalid(name, f"No such event: '{value}'", code="resource_missing")
                cursors.append(seq)
            items, has_more = api.store.events_page(params.get("type"), limit, cursors[0], cursors[1])
            return objects.list_object("/v1/events", items, has_more)
        return await api.call(request, list_schema(type=Str()), action, mutating=False)

    @r.api_route("/{rest:path}", methods=["GET", "POST", "DELETE"])
    async def unknown_route(request: Request, rest: str) -> Response:
        error = StripeError(f"Unrecognized request URL ({request.method}: {request.url.path}). Please see "
                            "https://stripe.com/docs or we can help at https://support.stripe.com/.", status=404)
        return _json(error.body(), 404, {"Request-Id": objects.new_id("req_", 14)})

    return r

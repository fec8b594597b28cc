"""What happens: every state change the API, the hosted pages and the controls can make, with
Stripe's rules that money depends on, and the events each change emits.

Operations are synchronous and run inside one store transaction, so an object and the events it
emits are saved together (and the webhook worker, on the same event loop, never sees half).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

from stripe_standin import objects
from stripe_standin.errors import StripeError, invalid, no_such
from stripe_standin.store import Store
from stripe_standin.webhooks import CONNECT, PLATFORM, Deliverer

# Minimum charge amounts in minor units (Stripe's table, for the currencies a marketplace is likely to use).
MINIMUM_CHARGE = {"usd": 50, "eur": 50, "gbp": 30, "cad": 50, "aud": 50, "chf": 50, "jpy": 50, "sek": 300, "dkk": 250}
ACCOUNT_LINK_SECONDS = 300
SESSION_SECONDS = 24 * 3600


@dataclass
class RequestContext:
    request_id: str | None = None
    idempotency_key: str | None = None


current_request: contextvars.ContextVar[RequestContext] = contextvars.ContextVar("current_request", default=RequestContext())  # noqa: B039


@dataclass
class PaymentDetails:
    """What the buyer typed on the hosted Checkout page (or a test passed to the pay control)."""

    email: str | None = None
    name: str = "Jenny Rosen"
    address: dict[str, Any] = field(default_factory=dict)
    phone: str | None = None
    shipping_name: str | None = None
    shipping_address: dict[str, Any] | None = None


def full_address(values: dict[str, Any] | None) -> dict[str, Any]:
    address = objects.empty_address()
    for key in address:
        if values and values.get(key):
            address[key] = values[key]
    return address


class Standin:
    def __init__(self, store: Store, deliverer: Deliverer, default_currency: str = "usd") -> None:
        self.store = store
        self.deliverer = deliverer
        self.default_currency = default_currency

    # -- events --------------------------------------------------------------------------------

    def emit(self, type_: str, obj: dict[str, Any], previous: dict[str, Any] | None = None,
             account: str | None = None) -> dict[str, Any]:
        context = current_request.get()
        event = objects.event(type_=type_, obj=obj, previous=previous, account_id=account,
                              request_id=context.request_id, idempotency_key=context.idempotency_key)
        endpoint = CONNECT if account else PLATFORM
        self.store.add_event(event, endpoint)
        self.deliverer.enqueue(event["id"], endpoint)
        return event

    def resend(self, event_id: str) -> int:
        found = self.store.event(event_id)
        if found is None:
            raise no_such("event", event_id)
        return self.deliverer.resend(event_id, found[1])

    # -- lookups -------------------------------------------------------------------------------

    def need(self, object_id: str, kind: str, label: str | None = None, param: str = "id") -> dict[str, Any]:
        obj = self.store.get(object_id, kind)
        if obj is None:
            raise no_such(label or kind, object_id, param)
        return obj

    # -- balance -------------------------------------------------------------------------------

    def _balance(self) -> dict[str, Any]:
        found = self.store.get("balance", "_balance")
        return found or self.store.insert({"id": "balance", "object": "_balance", "available": {}})

    def available(self, currency: str) -> int:
        return int(self._balance()["available"].get(currency, 0))

    def _move(self, *, amount: int, currency: str, source: str, kind: str, description: str | None) -> dict[str, Any]:
        balance = self._balance()
        balance["available"][currency] = int(balance["available"].get(currency, 0)) + amount
        self.store.save(balance)
        txn = objects.balance_transaction(amount=amount, currency=currency, source=source, kind=kind, description=description)
        self.store.insert(txn)
        return txn

    def balance_object(self) -> dict[str, Any]:
        available = self._balance()["available"] or {self.default_currency: 0}
        return {
            "object": "balance",
            "available": [{"amount": amount, "currency": currency, "source_types": {"card": amount}}
                          for currency, amount in sorted(available.items())],
            "connect_reserved": [{"amount": 0, "currency": currency} for currency in sorted(available)],
            "livemode": False,
            "pending": [{"amount": 0, "currency": currency, "source_types": {"card": 0}} for currency in sorted(available)],
        }

    # -- Connect -------------------------------------------------------------------------------

    def create_account(self, params: dict[str, Any]) -> dict[str, Any]:
        account_type = params.get("type") or "express"
        country = (params.get("country") or "US").upper()
        requested = [name for name, value in (params.get("capabilities") or {}).items() if value.get("requested")]
        if account_type == "express" and "transfers" not in requested:
            raise invalid("capabilities", "Express accounts must request the transfers capability.",
                          code="parameter_missing")
        acct = objects.account(
            account_type=account_type, country=country, email=params.get("email"), requested=requested,
            business_type=params.get("business_type"), metadata=params.get("metadata", {}),
            default_currency=params.get("default_currency") or {"US": "usd", "GB": "gbp", "CA": "cad"}.get(country, "eur"),
        )
        self.store.insert(acct)
        return acct

    def update_account(self, account_id: str, params: dict[str, Any]) -> dict[str, Any]:
        acct = self.need(account_id, "account")
        previous: dict[str, Any] = {}
        if "metadata" in params:
            previous["metadata"] = acct["metadata"]
            acct["metadata"] = {**acct["metadata"], **params["metadata"]} if params["metadata"] else {}
            acct["metadata"] = {k: v for k, v in acct["metadata"].items() if v}
        if "email" in params:
            previous["email"] = acct["email"]
            acct["email"] = params["email"]
        self.store.save(acct)
        if previous:
            self.emit("account.updated", acct, previous, account=acct["id"])
        return acct

    def onboard(self, account_id: str, state: str) -> dict[str, Any]:
        if state not in objects.ONBOARDING_STATES:
            raise invalid("state", f"state must be one of {', '.join(objects.ONBOARDING_STATES)}")
        acct = self.need(account_id, "account")
        watched = ("details_submitted", "charges_enabled", "payouts_enabled", "capabilities", "requirements")
        before = {key: acct[key] for key in watched}
        objects.apply_onboarding(acct, state)
        self.store.save(acct)
        previous = {key: value for key, value in before.items() if acct[key] != value}
        if previous:
            self.emit("account.updated", acct, previous, account=acct["id"])
        return acct

    def create_account_link(self, params: dict[str, Any], url_base: str) -> dict[str, Any]:
        account_id = params["account"]
        self.need(account_id, "account", param="account")
        token = objects.new_id("alink_", 24)
        expires_at = objects.now() + ACCOUNT_LINK_SECONDS
        self.store.insert({"id": token, "object": "_account_link", "account": account_id, "type": params["type"],
                           "refresh_url": params.get("refresh_url"), "return_url": params.get("return_url"),
                           "expires_at": expires_at, "used": False})
        return objects.account_link(f"{url_base}/setup/s/{account_id}/{token}", expires_at)

    def link(self, token: str) -> dict[str, Any] | None:
        return self.store.get(token, "_account_link")

    def use_link(self, token: str, outcome: str) -> str:
        """Complete, part-complete or abandon onboarding through a link; returns where to go next."""
        link = self.link(token)
        if link is None:
            raise no_such("account link", token)
        if link["used"] or link["expires_at"] < objects.now():
            return link["refresh_url"] or "/"
        link["used"] = True
        self.store.save(link)
        if outcome != "abandon":
            self.onboard(link["account"], outcome)
        return link["return_url"] or "/"

    # -- Checkout ------------------------------------------------------------------------------

    def create_session(self, params: dict[str, Any], url_base: str) -> dict[str, Any]:
        if params["mode"] != "payment":
            raise invalid("mode", "The stand-in supports mode=payment only (the marketplace sells one-off orders).")
        if not params.get("success_url"):
            raise StripeError("Missing required param: success_url.", code="parameter_missing", param="success_url")
        specs = params.get("line_items") or []
        if not specs:
            raise StripeError("Missing required param: line_items.", code="parameter_missing", param="line_items")
        items = []
        for position, spec in enumerate(specs):
            if "price" in spec:
                raise invalid(f"line_items[{position}][price]", "The stand-in supports price_data line items only.")
            price_data = spec.get("price_data")
            if not price_data:
                raise StripeError(f"Missing required param: line_items[{position}][price_data].", code="parameter_missing",
                                  param=f"line_items[{position}][price_data]")
            if "unit_amount" not in price_data:
                raise StripeError(f"Missing required param: line_items[{position}][price_data][unit_amount].",
                                  code="parameter_missing", param=f"line_items[{position}][price_data][unit_amount]")
            if not (price_data.get("product_data") or {}).get("name"):
                raise StripeError(f"Missing required param: line_items[{position}][price_data][product_data][name].",
                                  code="parameter_missing", param=f"line_items[{position}][price_data][product_data][name]")
            if "quantity" not in spec:
                raise StripeError(f"Missing required param: line_items[{position}][quantity].", code="parameter_missing",
                                  param=f"line_items[{position}][quantity]")
            items.append(objects.line_item(spec))
        currencies = {item["currency"] for item in items}
        if len(currencies) > 1:
            raise invalid("line_items", "All line items must use the same currency.")
        currency = currencies.pop()
        total = sum(item["amount_total"] for item in items)
        minimum = MINIMUM_CHARGE.get(currency, 50)
        if total < minimum:
            raise invalid("line_items", f"The Checkout Session's total amount due must add up to at least {minimum} "
                          f"{currency} (minor units).", code="amount_too_small")
        session = objects.checkout_session(params=params, items=items, url_base=url_base,
                                           expires_at=params.get("expires_at") or objects.now() + SESSION_SECONDS)
        self.store.insert(session)
        return session

    def session(self, session_id: str) -> dict[str, Any]:
        session = self.need(session_id, "checkout.session", "checkout.session")
        if session["status"] == "open" and session["expires_at"] < objects.now():
            self.expire_session(session_id)
            session = self.need(session_id, "checkout.session", "checkout.session")
        return session

    def pay_session(self, session_id: str, details: PaymentDetails, url_base: str) -> dict[str, Any]:
        """The buyer pays: a succeeded payment intent, its charge, the balance, and the events."""
        session = self.session(session_id)
        if session["status"] != "open":
            raise StripeError(f"This Checkout Session is {session['status']} and can no longer be paid.",
                              code="checkout_session_not_open", param="id", saved=True)
        email = session["customer_email"] or details.email
        if not email:
            raise invalid("email", "An email address is required.")
        billing = {"address": full_address(details.address), "email": email, "name": details.name,
                   "phone": details.phone, "tax_id": None}
        shipping = None
        if session["shipping_address_collection"]:
            allowed = session["shipping_address_collection"]["allowed_countries"]
            country = (details.shipping_address or {}).get("country")
            if not details.shipping_address or not details.shipping_address.get("line1"):
                raise invalid("shipping_address", "A shipping address is required.")
            if country not in allowed:
                raise invalid("shipping_address[country]", f"Shipping to {country} is not allowed; allowed: {', '.join(allowed)}.")
            shipping = {"address": full_address(details.shipping_address), "name": details.shipping_name or details.name}
        if session["phone_number_collection"]["enabled"] and not details.phone:
            raise invalid("phone", "A phone number is required.")
        intent_data = session["_payment_intent_data"]
        intent = objects.payment_intent(
            amount=session["amount_total"], currency=session["currency"], metadata=intent_data.get("metadata", {}),
            extra=intent_data, receipt_email=intent_data.get("receipt_email"),
            shipping=None if shipping is None else {**shipping, "carrier": None, "phone": details.phone,
                                                    "tracking_number": None},
            payment_method=objects.new_id("pm_1", 23),
        )
        txn = objects.balance_transaction(amount=intent["amount"], currency=intent["currency"], source="", kind="charge",
                                          description=intent["description"])
        ch = objects.charge(intent=intent, billing=billing, balance_transaction=txn["id"], url_base=url_base)
        txn["source"] = ch["id"]
        self.store.insert(txn)
        balance = self._balance()
        balance["available"][ch["currency"]] = int(balance["available"].get(ch["currency"], 0)) + ch["amount"]
        self.store.save(balance)
        intent["latest_charge"] = ch["id"]
        self.store.insert(intent)
        self.store.insert(ch)
        session.update(
            status="complete",
            payment_status="paid",
            payment_intent=intent["id"],
            customer_details={"address": full_address(details.address), "email": email, "name": details.name,
                              "phone": details.phone, "tax_exempt": "none", "tax_ids": [], "business_name": None,
                              "individual_name": None},
            collected_information={"shipping_details": shipping, "business_name": None, "individual_name": None},
        )
        self.store.save(session)
        self.emit("charge.succeeded", ch)
        self.emit("payment_intent.succeeded", intent)
        self.emit("checkout.session.completed", session)
        return session

    def expire_session(self, session_id: str) -> dict[str, Any]:
        session = self.need(session_id, "checkout.session", "checkout.session")
        if session["status"] != "open":
            raise StripeError(f"Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session "
                              f"has a status of \"{session['status']}\".", code="checkout_session_not_open", saved=True)
        session["status"] = "expired"
        session["url"] = None
        self.store.save(session)
        self.emit("checkout.session.expired", session)
        return session

    # -- money out: transfers and refunds --------------------------------------------------------

    def create_transfer(self, params: dict[str, Any]) -> dict[str, Any]:
        amount, currency = params["amount"], params["currency"].lower()
        if amount <= 0:
            raise invalid("amount", "Invalid positive integer", code="parameter_invalid_integer")
        destination = self.store.get(params["destination"], "account")
        if destination is None:
            raise no_such("destination", params["destination"], "destination")
        if destination["capabilities"].get("transfers") != "active" or not destination["payouts_enabled"]:
            raise StripeError(
                "Your destination account needs to have at least one of the following capabilities enabled: transfers, "
                "crypto_transfers, legacy_payments (and payouts enabled).",
                code="insufficient_capabilities_for_transfer", param="destination", saved=True,
            )
        source_id = params.get("source_transaction")
        if source_id:
            source = self.store.get(source_id, "charge")
            if source is None:
                raise no_such("charge", source_id, "source_transaction")
            if source["currency"] != currency:
                raise invalid("currency", f"The currency of source_transaction's balance transaction ({source['currency']}) "
                              f"must be the same as the transfer currency ({currency}).")
            left = source["amount"] - source["amount_refunded"] - source["_transferred"]
            if amount > left:
                raise StripeError(
                    f"The transfer amount ({amount}) exceeds what is left to transfer from source_transaction "
                    f"{source_id} ({left}).", code="amount_too_large", param="amount", saved=True,
                )
        if amount > self.available(currency):
            raise StripeError(
                "You have insufficient available funds in your Stripe account. Try adding funds directly to your "
                "available balance by creating Charges using the 4000000000000077 test card.",
                code="balance_insufficient", param="amount", saved=True,
            )
        txn = self._move(amount=-amount, currency=currency, source="", kind="transfer", description=params.get("description"))
        tr = objects.transfer(amount=amount, currency=currency, destination=destination["id"],
                              transfer_group=params.get("transfer_group"), source_transaction=source_id,
                              metadata=params.get("metadata", {}), description=params.get("description"), balance_txn=txn["id"])
        txn["source"] = tr["id"]
        self.store.save(txn)
        self.store.insert(tr)
        if source_id:
            source = self.need(source_id, "charge")
            source["_transferred"] += amount
            self.store.save(source)
        self.emit("transfer.created", tr)
        return tr

    def create_refund(self, params: dict[str, Any], status: str = "succeeded") -> dict[str, Any]:
        if params.get("charge"):
            ch = self.store.get(params["charge"], "charge")
            if ch is None:
                raise no_such("charge", params["charge"], "charge")
        elif params.get("payment_intent"):
            intent = self.store.get(params["payment_intent"], "payment_intent")
            if intent is None:
                raise no_such("payment_intent", params["payment_intent"], "payment_intent")
            if not intent["latest_charge"]:
                raise invalid("payment_intent", "This PaymentIntent does not have a successful charge to refund.")
            ch = self.need(intent["latest_charge"], "charge")
        else:
            raise StripeError("One of the following params should be provided for this request: payment_intent or charge.",
                              code="parameter_missing")
        left = ch["amount"] - ch["amount_refunded"]
        amount = params.get("amount", left)
        if amount <= 0:
            raise invalid("amount", "Invalid positive integer", code="parameter_invalid_integer")
        if ch["disputed"] and self._open_dispute(ch["id"]):
            raise StripeError(f"Charge {ch['id']} has been charged back; refund the dispute instead.",
                              code="charge_disputed", param="charge", saved=True)
        if left <= 0:
            raise StripeError(f"Charge {ch['id']} has already been refunded.", code="charge_already_refunded", saved=True)
        if amount > left:
            raise StripeError(f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                              code="amount_too_large", param="amount", saved=True)
        txn = self._move(amount=-amount, currency=ch["currency"], source="", kind="refund", description="REFUND FOR CHARGE")
        re = objects.refund(amount=amount, charge_obj=ch, metadata=params.get("metadata", {}), reason=params.get("reason"),
                            balance_txn=txn["id"], status=status)
        txn["source"] = re["id"]
        self.store.save(txn)
        self.store.insert(re)
        previous = {"amount_refunded": ch["amount_refunded"], "refunded": ch["refunded"]}
        ch["amount_refunded"] += amount
        ch["refunded"] = ch["amount_refunded"] >= ch["amount"]
        ch["refunds"]["data"].insert(0, objects.public(re))
        ch["refunds"]["total_count"] = len(ch["refunds"]["data"])
        self.store.save(ch)
        self.emit("refund.created", re)
        self.emit("charge.refunded", ch, previous)
        return re

    def set_refund_status(self, refund_id: str, status: str) -> dict[str, Any]:
        """A refund moving on after creation (pending → succeeded, or failed: the money comes back)."""
        if status not in ("pending", "succeeded", "failed", "canceled", "requires_action"):
            raise invalid("status", "status must be pending, succeeded, failed, canceled or requires_action")
        re = self.need(refund_id, "refund")
        previous = {"status": re["status"]}
        if re["status"] == status:
            return re
        if status in ("failed", "canceled") and re["status"] not in ("failed", "canceled"):
            ch = self.need(re["charge"], "charge")
            ch["amount_refunded"] -= re["amount"]
            ch["refunded"] = ch["amount_refunded"] >= ch["amount"]
            ch["refunds"]["data"] = [r for r in ch["refunds"]["data"] if r["id"] != re["id"]]
            self.store.save(ch)
            txn = self._move(amount=re["amount"], currency=re["currency"], source=re["id"], kind="refund_failure",
                             description="REFUND FAILURE")
            re["failure_balance_transaction"] = txn["id"]
            re["failure_reason"] = "unknown" if status == "failed" else None
        re["status"] = status
        self.store.save(re)
        ch = self.need(re["charge"], "charge")
        for position, embedded in enumerate(ch["refunds"]["data"]):
            if embedded["id"] == re["id"]:
                ch["refunds"]["data"][position] = objects.public(re)
                self.store.save(ch)
        self.emit("refund.updated", re, previous)
        return re

    # -- disputes ------------------------------------------------------------------------------

    def _open_dispute(self, charge_id: str) -> dict[str, Any] | None:
        for found in self.store.all_of("dispute", {"charge": charge_id}):
            if found["status"] not in ("won", "lost", "warning_closed"):
                return found
        return None

    def _charge_from(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("charge"):
            return self.need(params["charge"], "charge", param="charge")
        if params.get("payment_intent"):
            intent = self.need(params["payment_intent"], "payment_intent", param="payment_intent")
            if not intent["latest_charge"]:
                raise invalid("payment_intent", "This PaymentIntent has no charge.")
            return self.need(intent["latest_charge"], "charge")
        raise StripeError("charge or payment_intent is required.", code="parameter_missing")

    def open_dispute(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._charge_from(params)
        if self._open_dispute(ch["id"]):
            raise invalid("charge", f"Charge {ch['id']} already has an open dispute.")
        amount = int(params.get("amount") or ch["amount"])
        if amount <= 0 or amount > ch["amount"]:
            raise invalid("amount", f"A dispute is for 1 to {ch['amount']} (the charge's amount).")
        reason = params.get("reason") or "fraudulent"
        if reason not in objects.DISPUTE_REASONS:
            raise invalid("reason", f"reason must be one of {', '.join(objects.DISPUTE_REASONS)}")
        txn = self._move(amount=-amount, currency=ch["currency"], source="", kind="adjustment",
                         description=f"Chargeback withdrawal for {ch['id']}")
        dp = objects.dispute(charge_obj=ch, amount=amount, reason=reason, balance_txn=txn)
        txn["source"] = dp["id"]
        dp["balance_transactions"] = [txn]
        self.store.save(txn)
        self.store.insert(dp)
        ch["disputed"] = True
        self.store.save(ch)
        self.emit("charge.dispute.created", dp)
        return dp

    def update_dispute(self, dispute_id: str, params: dict[str, Any]) -> dict[str, Any]:
        dp = self.need(dispute_id, "dispute")
        if dp["status"] in ("won", "lost"):
            raise invalid("dispute", f"Dispute {dispute_id} is closed ({dp['status']}).")
        status = params.get("status") or "under_review"
        if status not in ("needs_response", "under_review", "warning_needs_response", "warning_under_review"):
            raise invalid("status", "status must be needs_response, under_review, warning_needs_response or warning_under_review")
        previous: dict[str, Any] = {"status": dp["status"]}
        dp["status"] = status
        if params.get("evidence"):
            previous["evidence"] = dict(dp["evidence"])
            dp["evidence"]["uncategorized_text"] = str(params["evidence"])
            previous["evidence_details"] = dict(dp["evidence_details"])
            dp["evidence_details"]["has_evidence"] = True
            dp["evidence_details"]["submission_count"] += 1
        self.store.save(dp)
        self.emit("charge.dispute.updated", dp, previous)
        return dp

    def close_dispute(self, dispute_id: str, outcome: str) -> dict[str, Any]:
        if outcome not in ("won", "lost"):
            raise invalid("outcome", "outcome must be won or lost")
        dp = self.need(dispute_id, "dispute")
        if dp["status"] in ("won", "lost"):
            raise StripeError(f"Dispute {dispute_id} is already closed ({dp['status']}).", code="dispute_already_closed",
                              saved=True)
        previous = {"status": dp["status"]}
        if outcome == "won":
            ch = self.need(dp["charge"], "charge")
            txn = self._move(amount=dp["amount"], currency=dp["currency"], source=dp["id"], kind="adjustment",
                             description=f"Chargeback reversal for {ch['id']}")
            dp["balance_transactions"].append(txn)
            previous["balance_transactions"] = dp["balance_transactions"][:-1]
        dp["status"] = outcome
        self.store.save(dp)
        self.emit("charge.dispute.closed", dp, previous)
        return dp

"""Stripe-shaped objects, field for field as in Stripe's own examples (``stripe-fixtures3.json``).

Builders return plain dicts; fields whose names start with ``_`` are the stand-in's bookkeeping
(line items of a session, where a link leads, ...) and are dropped by ``public``.
"""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

API_VERSION = "2026-10-28.endive"  # what the pinned stripe library (16.1) speaks
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def now() -> int:
    return int(time.time())


def public(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: public(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [public(v) for v in obj]
    return obj


def list_object(url: str, data: list[dict[str, Any]], has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def empty_address() -> dict[str, Any]:
    return {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None}


# -- Connect -----------------------------------------------------------------------------------

ONBOARDING_FIELDS = [
    "business_profile.mcc",
    "business_profile.url",
    "external_account",
    "individual.address.city",
    "individual.address.line1",
    "individual.address.postal_code",
    "individual.address.state",
    "individual.dob.day",
    "individual.dob.month",
    "individual.dob.year",
    "individual.email",
    "individual.first_name",
    "individual.last_name",
    "individual.phone",
    "individual.ssn_last_4",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]


def requirements(currently_due: list[str], disabled_reason: str | None, pending: list[str] | None = None) -> dict[str, Any]:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": list(currently_due),
        "disabled_reason": disabled_reason,
        "errors": [],
        "eventually_due": list(currently_due),
        "past_due": list(currently_due) if disabled_reason == "requirements.past_due" else [],
        "pending_verification": list(pending or []),
    }


def account(
    *,
    account_type: str,
    country: str,
    email: str | None,
    requested: list[str],
    business_type: str | None,
    metadata: dict[str, str],
    default_currency: str,
) -> dict[str, Any]:
    account_id = new_id("acct_1", 15)
    controller: dict[str, Any] = {"type": "application", "is_controller": True}
    if account_type == "express":
        controller.update(
            {
                "fees": {"payer": "application_express"},
                "losses": {"payments": "application"},
                "requirement_collection": "stripe",
                "stripe_dashboard": {"type": "express"},
            }
        )
    elif account_type == "standard":
        controller = {"type": "account"}
    return {
        "id": account_id,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": None,
            "name": None,
            "product_description": None,
            "support_address": None,
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
            "minority_owned_business_designation": None,
        },
        "business_type": business_type,
        "capabilities": {name: "inactive" for name in requested},
        "charges_enabled": False,
        "controller": controller,
        "country": country,
        "created": now(),
        "default_currency": default_currency,
        "details_submitted": False,
        "email": email,
        "external_accounts": list_object(f"/v1/accounts/{account_id}/external_accounts", []),
        "future_requirements": requirements([], None),
        "metadata": metadata,
        "payouts_enabled": False,
        "requirements": requirements(ONBOARDING_FIELDS, "requirements.past_due"),
        "settings": {
            "bacs_debit_payments": {"display_name": None, "service_user_number": None},
            "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
            "card_issuing": {"tos_acceptance": {"date": None, "ip": None}},
            "card_payments": {
                "decline_on": {"avs_failure": False, "cvc_failure": False},
                "statement_descriptor_prefix": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
            "invoices": {"default_account_tax_ids": None, "hosted_payment_method_save": "offer"},
            "payments": {
                "statement_descriptor": None,
                "statement_descriptor_kana": None,
                "statement_descriptor_kanji": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 2, "interval": "daily"},
                "statement_descriptor": None,
            },
            "sepa_debit_payments": {},
        },
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
        "type": account_type,
    }


# The onboarding outcomes a person can choose on the hosted page (and tests through the controls).
ONBOARDING_STATES = ("complete", "payouts_disabled", "pending_verification", "not_started")


def apply_onboarding(acct: dict[str, Any], state: str) -> None:
    """Put an account in one of the onboarding states; readiness (P2) reads exactly these fields."""
    capabilities = acct["capabilities"] or {"card_payments": "inactive", "transfers": "inactive"}
    if state == "complete":
        acct.update(details_submitted=True, charges_enabled=True, payouts_enabled=True)
        acct["capabilities"] = {name: "active" for name in capabilities}
        acct["requirements"] = requirements([], None)
        acct["tos_acceptance"] = {"date": now(), "ip": "127.0.0.1", "user_agent": "stripe-standin"}
        acct["business_profile"]["url"] = acct["business_profile"]["url"] or "https://homecraft.example/"
        acct["business_profile"]["mcc"] = "5999"
        acct["external_accounts"]["data"] = [_bank_account(acct)]
        acct["external_accounts"]["total_count"] = 1
    elif state == "payouts_disabled":
        # Details submitted and charges allowed, but no bank account yet: payouts (and so
        # transfers to this account) stay off until the seller adds one.
        acct.update(details_submitted=True, charges_enabled=True, payouts_enabled=False)
        acct["capabilities"] = {name: ("active" if name == "card_payments" else "inactive") for name in capabilities}
        acct["requirements"] = requirements(["external_account"], None)
        acct["tos_acceptance"] = {"date": now(), "ip": "127.0.0.1", "user_agent": "stripe-standin"}
        acct["external_accounts"]["data"] = []
    elif state == "pending_verification":
        acct.update(details_submitted=True, charges_enabled=False, payouts_enabled=False)
        acct["capabilities"] = {name: "pending" for name in capabilities}
        acct["requirements"] = requirements([], "requirements.pending_verification",
                                            pending=["individual.id_number", "individual.verification.document"])
        acct["tos_acceptance"] = {"date": now(), "ip": "127.0.0.1", "user_agent": "stripe-standin"}
    elif state == "not_started":
        acct.update(details_submitted=False, charges_enabled=False, payouts_enabled=False)
        acct["capabilities"] = {name: "inactive" for name in capabilities}
        acct["requirements"] = requirements(ONBOARDING_FIELDS, "requirements.past_due")
        acct["external_accounts"]["data"] = []
    else:
        raise ValueError(state)


def _bank_account(acct: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id("ba_1", 23),
        "object": "bank_account",
        "account": acct["id"],
        "account_holder_name": None,
        "account_holder_type": None,
        "bank_name": "STRIPE TEST BANK",
        "country": acct["country"],
        "currency": acct["default_currency"],
        "default_for_currency": True,
        "last4": "6789",
        "routing_number": "110000000",
        "status": "new",
    }


def account_link(url: str, expires_at: int) -> dict[str, Any]:
    return {"object": "account_link", "created": now(), "expires_at": expires_at, "url": url}


# -- Checkout ----------------------------------------------------------------------------------


def line_item(spec: dict[str, Any]) -> dict[str, Any]:
    price_data = spec["price_data"]
    product_data = price_data.get("product_data") or {}
    quantity = spec.get("quantity", 1)
    unit_amount = price_data["unit_amount"]
    total = unit_amount * quantity
    return {
        "id": new_id("li_1", 23),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": total,
        "amount_tax": 0,
        "amount_total": total,
        "currency": price_data["currency"],
        "description": product_data.get("name"),
        "price": {
            "id": new_id("price_1", 23),
            "object": "price",
            "active": False,
            "billing_scheme": "per_unit",
            "created": now(),
            "currency": price_data["currency"],
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": new_id("prod_", 14),
            "recurring": None,
            "tax_behavior": price_data.get("tax_behavior", "unspecified"),
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        },
        "quantity": quantity,
        "metadata": spec.get("metadata") or {},
        "adjustable_quantity": None,
    }


def checkout_session(
    *, params: dict[str, Any], items: list[dict[str, Any]], url_base: str, expires_at: int
) -> dict[str, Any]:
    session_id = new_id("cs_test_a1", 56)
    subtotal = sum(item["amount_subtotal"] for item in items)
    currency = items[0]["currency"] if items else None
    shipping = params.get("shipping_address_collection")
    return {
        "id": session_id,
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": subtotal,
        "amount_total": subtotal,
        "automatic_tax": {"enabled": False, "liability": None, "status": None, "provider": None},
        "billing_address_collection": params.get("billing_address_collection"),
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "client_secret": None,
        "consent": None,
        "consent_collection": None,
        "created": now(),
        "currency": currency,
        "custom_fields": [],
        "custom_text": {"after_submit": None, "shipping_address": None, "submit": None, "terms_of_service_acceptance": None},
        "customer": None,
        "customer_creation": params.get("customer_creation", "if_required"),
        "customer_details": None,
        "customer_email": params.get("customer_email"),
        "expires_at": expires_at,
        "invoice": None,
        "invoice_creation": {
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": None,
                "metadata": {},
                "rendering_options": None,
            },
        },
        "livemode": False,
        "locale": params.get("locale"),
        "metadata": params.get("metadata", {}),
        "mode": "payment",
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": params.get("payment_method_types") or ["card"],
        "payment_status": "unpaid",
        "phone_number_collection": {"enabled": bool((params.get("phone_number_collection") or {}).get("enabled"))},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": {"allowed_countries": shipping["allowed_countries"]} if shipping else None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": params.get("submit_type"),
        "subscription": None,
        "success_url": params.get("success_url"),
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": f"{url_base}/c/pay/{session_id}",
        "adaptive_pricing": {"enabled": False},
        "discounts": [],
        "collected_information": None,
        "permissions": None,
        "wallet_options": None,
        "origin_context": None,
        "currency_conversion": None,
        "customer_account": None,
        "integration_identifier": None,
        "managed_payments": {"enabled": False},
        "_line_items": items,
        "_payment_intent_data": params.get("payment_intent_data") or {},
    }


# -- Payments ----------------------------------------------------------------------------------


def payment_intent(
    *, amount: int, currency: str, metadata: dict[str, str], extra: dict[str, Any], receipt_email: str | None,
    shipping: dict[str, Any] | None, payment_method: str,
) -> dict[str, Any]:
    intent_id = new_id("pi_3", 23)
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": amount,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic_async",
        "client_secret": f"{intent_id}_secret_{new_id('', 25)}",
        "confirmation_method": "automatic",
        "created": now(),
        "currency": currency,
        "customer": None,
        "description": extra.get("description"),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": payment_method,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"installments": None, "mandate_options": None, "network": None,
                                            "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": receipt_email,
        "review": None,
        "setup_future_usage": None,
        "shipping": shipping,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": extra.get("transfer_group"),
        "source": None,
        "excluded_payment_method_types": None,
        "customer_account": None,
        "managed_payments": None,
    }


def charge(
    *, intent: dict[str, Any], billing: dict[str, Any], balance_transaction: str, url_base: str
) -> dict[str, Any]:
    charge_id = new_id("ch_3", 23)
    return {
        "id": charge_id,
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"],
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": balance_transaction,
        "billing_details": billing,
        "calculated_statement_descriptor": "HOME CRAFT 3D",
        "captured": True,
        "created": now(),
        "currency": intent["currency"],
        "customer": None,
        "description": intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "on_behalf_of": None,
        "outcome": {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 20,
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": True,
        "payment_intent": intent["id"],
        "payment_method": intent["payment_method"],
        "payment_method_details": {
            "card": {
                "amount_authorized": intent["amount"],
                "brand": "visa",
                "checks": {"address_line1_check": "pass", "address_postal_code_check": "pass", "cvc_check": "pass"},
                "country": "US",
                "exp_month": 12,
                "exp_year": 2034,
                "extended_authorization": {"status": "disabled"},
                "fingerprint": "StandinOffline01",
                "funding": "credit",
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": "4242",
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": "visa",
                "network_token": {"used": False},
                "overcapture": {"maximum_amount_capturable": intent["amount"], "status": "unavailable"},
                "three_d_secure": None,
                "wallet": None,
                "authorization_code": None,
                "regulated_status": "unregulated",
                "network_transaction_id": "000000000000000",
                "transaction_link_id": None,
            },
            "type": "card",
        },
        "receipt_email": intent["receipt_email"],
        "receipt_number": None,
        "receipt_url": f"{url_base}/receipts/{charge_id}",
        "refunded": False,
        "refunds": list_object(f"/v1/charges/{charge_id}/refunds", []),
        "review": None,
        "shipping": intent["shipping"],
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": intent["transfer_group"],
        "source": None,
        "_transferred": 0,
    }


def balance_transaction(*, amount: int, currency: str, source: str, kind: str, description: str | None) -> dict[str, Any]:
    created = now()
    return {
        "id": new_id("txn_3", 23),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created,
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": 0,
        "fee_details": [],
        "net": amount,
        "reporting_category": {"charge": "charge", "refund": "refund", "transfer": "transfer",
                               "adjustment": "dispute", "payment_refund": "refund"}.get(kind, kind),
        "source": source,
        "status": "available",
        "type": kind,
        "balance_type": "payments",
    }


def transfer(
    *, amount: int, currency: str, destination: str, transfer_group: str | None, source_transaction: str | None,
    metadata: dict[str, str], description: str | None, balance_txn: str,
) -> dict[str, Any]:
    transfer_id = new_id("tr_1", 23)
    return {
        "id": transfer_id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": balance_txn,
        "created": now(),
        "currency": currency,
        "description": description,
        "destination": destination,
        "destination_payment": new_id("py_1", 23),
        "livemode": False,
        "metadata": metadata,
        "reversals": list_object(f"/v1/transfers/{transfer_id}/reversals", []),
        "reversed": False,
        "source_transaction": source_transaction,
        "source_type": "card",
        "transfer_group": transfer_group,
    }


def refund(
    *, amount: int, charge_obj: dict[str, Any], metadata: dict[str, str], reason: str | None, balance_txn: str | None,
    status: str,
) -> dict[str, Any]:
    return {
        "id": new_id("re_3", 23),
        "object": "refund",
        "amount": amount,
        "balance_transaction": balance_txn,
        "charge": charge_obj["id"],
        "created": now(),
        "currency": charge_obj["currency"],
        "destination_details": {"card": {"reference_status": "pending", "reference_type": "acquirer_reference_number",
                                         "reference": None, "type": "refund"}, "type": "card"},
        "metadata": metadata,
        "payment_intent": charge_obj["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
        "customer": None,
        "customer_account": None,
        "payment_method": charge_obj["payment_method"],
    }


DISPUTE_REASONS = ("bank_cannot_process", "check_returned", "credit_not_processed", "customer_initiated", "debit_not_authorized",
                   "duplicate", "fraudulent", "general", "incorrect_account_details", "insufficient_funds",
                   "product_not_received", "product_unacceptable", "subscription_canceled", "unrecognized")
DISPUTE_STATUSES = ("warning_needs_response", "warning_under_review", "warning_closed", "needs_response",
                    "under_review", "won", "lost")


def dispute(*, charge_obj: dict[str, Any], amount: int, reason: str, balance_txn: dict[str, Any]) -> dict[str, Any]:
    created = now()
    return {
        "id": new_id("dp_1", 23),
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [balance_txn],
        "charge": charge_obj["id"],
        "created": created,
        "currency": charge_obj["currency"],
        "evidence": {key: None for key in (
            "access_activity_log", "billing_address", "cancellation_policy", "cancellation_policy_disclosure",
            "cancellation_rebuttal", "customer_communication", "customer_email_address", "customer_name",
            "customer_purchase_ip", "customer_signature", "duplicate_charge_documentation",
            "duplicate_charge_explanation", "duplicate_charge_id", "product_description", "receipt", "refund_policy",
            "refund_policy_disclosure", "refund_refusal_explanation", "service_date", "service_documentation",
            "shipping_address", "shipping_carrier", "shipping_date", "shipping_documentation",
            "shipping_tracking_number", "uncategorized_file", "uncategorized_text")} | {"enhanced_evidence": {}},
        "evidence_details": {"due_by": created + 7 * 86400, "has_evidence": False, "past_due": False,
                             "submission_count": 0, "enhanced_eligibility": {}},
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge_obj["payment_intent"],
        "payment_method_details": {"card": {"brand": "visa", "case_type": "chargeback", "network_reason_code": "10.4",
                                            "network": "visa"}, "type": "card"},
        "reason": reason,
        "status": "needs_response",
        "enhanced_eligibility_types": [],
    }


def event(
    *, type_: str, obj: dict[str, Any], previous: dict[str, Any] | None, account_id: str | None,
    request_id: str | None, idempotency_key: str | None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": public(obj)}
    if previous is not None:
        data["previous_attributes"] = public(previous)
    evt: dict[str, Any] = {
        "id": new_id("evt_1", 23),
        "object": "event",
        "api_version": API_VERSION,
        "created": now(),
        "data": data,
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": type_,
    }
    if account_id:
        evt["account"] = account_id
    return evt

"""P3: the Checkout Session's parameters from an order snapshot (as the orders service reports it)."""

from __future__ import annotations

from typing import Any

import pytest

from homecraft_shared.errors import Problem
from payments.checkout.service import idempotency_key, session_params


def order(*, shipping: bool, guest: str | None = None, tax: int = 0, ship: int = 0) -> dict[str, Any]:
    lines = [{"product_id": "p1", "title": "Vase STL", "quantity": 1, "unit_price_cents": 900, "requires_shipping": False}]
    if shipping:
        lines.append({"product_id": "p2", "title": "Dragon", "quantity": 2, "unit_price_cents": 2500,
                      "requires_shipping": True})
    subtotal = sum(line["quantity"] * line["unit_price_cents"] for line in lines)
    return {"id": "o-1", "currency": "usd", "kind": "mixed" if shipping else "digital", "guest_email": guest,
            "tax_cents": tax, "shipping_cents": ship, "total_cents": subtotal + tax + ship, "lines": lines}


def test_p3_digital_order_for_a_guest_has_email_and_no_shipping_collection() -> None:
    params = session_params(order(shipping=False, guest="g@example.com"), token="tok", allowed_countries=["US", "CA"],
                            public_base_url="http://shop.test/")
    assert params["mode"] == "payment" and params["customer_email"] == "g@example.com"
    assert params["billing_address_collection"] == "required"
    assert "shipping_address_collection" not in params and "phone_number_collection" not in params
    assert params["metadata"] == {"order_id": "o-1", "order_token": "tok", "kind": "digital"}
    assert params["payment_intent_data"]["metadata"] == {"order_id": "o-1", "order_token": "tok"}
    assert params["client_reference_id"] == "o-1"
    assert params["cancel_url"] == "http://shop.test/orders/o-1/checkout/cancel?t=tok"
    assert "{CHECKOUT_SESSION_ID}" in params["success_url"]


def test_p3_shipped_line_asks_for_address_in_allowed_countries_and_phone_tax_and_shipping_are_lines() -> None:
    params = session_params(order(shipping=True, tax=123, ship=450), token=None, allowed_countries=["us", "ca"],
                            public_base_url="http://shop.test")
    assert "customer_email" not in params
    assert params["shipping_address_collection"] == {"allowed_countries": ["US", "CA"]}
    assert params["phone_number_collection"] == {"enabled": True}
    amounts = [(i["price_data"]["product_data"]["name"], i["price_data"]["unit_amount"], i["quantity"])
               for i in params["line_items"]]
    assert amounts == [("Vase STL", 900, 1), ("Dragon", 2500, 2), ("Tax", 123, 1), ("Shipping", 450, 1)]


def test_p3_an_order_that_does_not_add_up_is_not_sent() -> None:
    broken = order(shipping=False)
    broken["total_cents"] += 1
    with pytest.raises(Problem, match="does not add up"):
        session_params(broken, token=None, allowed_countries=["US"], public_base_url="http://shop.test")


def test_p3_idempotency_key_from_id_total_currency_kind() -> None:
    one = order(shipping=True)
    assert idempotency_key(one) == idempotency_key(dict(one))
    changed = {**one, "total_cents": one["total_cents"] + 1}
    assert idempotency_key(changed) != idempotency_key(one) and idempotency_key(one).startswith("checkout_session:o-1:")

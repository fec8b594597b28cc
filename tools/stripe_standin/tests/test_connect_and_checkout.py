"""Connect accounts, account links and onboarding; Checkout Sessions, the hosted page and payment."""

from __future__ import annotations

import re

import httpx
import pytest
import stripe
from conftest import CONNECT_SECRET, PLATFORM_SECRET, Standin, paid_session, ready_account, session_params


def test_express_account_starts_not_ready_and_reports_what_is_due(standin: Standin) -> None:
    account = standin.client.v1.accounts.create({
        "type": "express", "country": "US", "email": "maker@example.com",
        "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
        "business_type": "individual", "metadata": {"seller_id": "42"},
    })
    assert isinstance(account, stripe.Account)
    assert re.fullmatch(r"acct_1[A-Za-z0-9]{15}", account.id)
    assert account.type == "express" and account.country == "US" and account.email == "maker@example.com"
    # P2 reads these four: nothing is ready yet.
    assert (account.details_submitted, account.charges_enabled, account.payouts_enabled) == (False, False, False)
    assert account.capabilities.to_dict() == {"card_payments": "inactive", "transfers": "inactive"}
    assert "external_account" in account.requirements.currently_due
    assert account.metadata.to_dict() == {"seller_id": "42"}
    again = standin.client.v1.accounts.retrieve(account.id)
    assert again.to_dict() == account.to_dict()


@pytest.mark.parametrize(
    ("state", "ready", "due"),
    [("complete", (True, True, True), []), ("payouts_disabled", (True, True, False), ["external_account"]),
     ("pending_verification", (True, False, False), [])],
)
def test_onboarding_states_set_the_fields_readiness_reads(standin: Standin, state: str, ready: tuple[bool, ...],
                                                          due: list[str]) -> None:
    account = ready_account(standin, state)
    assert (account.details_submitted, account.charges_enabled, account.payouts_enabled) == ready
    assert account.requirements.currently_due == due


def test_account_link_leads_to_hosted_onboarding_and_account_updated_reaches_the_connect_endpoint(standin: Standin) -> None:
    account = standin.client.v1.accounts.create({"type": "express", "country": "US", "email": "m@example.com",
                                                 "capabilities": {"transfers": {"requested": True}}})
    link = standin.client.v1.account_links.create({
        "account": account.id, "type": "account_onboarding",
        "refresh_url": "http://127.0.0.1:9/connect/refresh", "return_url": "http://127.0.0.1:9/connect/return",
    })
    assert link.object == "account_link" and link.expires_at > link.created
    page = httpx.get(link.url)
    assert page.status_code == 200 and "Offline Stripe stand-in" in page.text and account.id in page.text
    done = httpx.post(link.url, data={"outcome": "complete"})
    assert done.status_code == 303 and done.headers["location"] == "http://127.0.0.1:9/connect/return"
    assert standin.client.v1.accounts.retrieve(account.id).payouts_enabled is True
    # A used link goes to refresh_url, as Stripe's do.
    reused = httpx.get(link.url)
    assert reused.status_code == 303 and reused.headers["location"] == "http://127.0.0.1:9/connect/refresh"

    received = standin.receiver.wait_for(lambda got: any(r.path == "/webhooks/stripe/connect" for r in got))
    delivery = next(r for r in received if r.path == "/webhooks/stripe/connect")
    event = stripe.Webhook.construct_event(delivery.body, delivery.headers["stripe-signature"], CONNECT_SECRET)
    assert event.type == "account.updated" and event.account == account.id
    assert event.data.object.payouts_enabled is True
    assert event.data.previous_attributes.payouts_enabled is False
    # Connect events never go to the platform endpoint.
    assert "account.updated" not in standin.receiver.types("/webhooks/stripe")


def test_abandoned_onboarding_returns_without_changing_the_account(standin: Standin) -> None:
    account = standin.client.v1.accounts.create({"type": "express", "country": "US",
                                                 "capabilities": {"transfers": {"requested": True}}})
    link = standin.client.v1.account_links.create({"account": account.id, "type": "account_onboarding",
                                                   "refresh_url": "http://x.test/refresh", "return_url": "http://x.test/return"})
    response = httpx.post(link.url, data={"outcome": "abandon"})
    assert response.status_code == 303 and response.headers["location"] == "http://x.test/return"
    assert standin.client.v1.accounts.retrieve(account.id).details_submitted is False


def test_checkout_session_has_stripes_shape(standin: Standin) -> None:
    session = standin.client.v1.checkout.sessions.create(session_params(customer_email="guest@example.com"))
    assert session.id.startswith("cs_test_") and session.object == "checkout.session"
    assert (session.mode, session.status, session.payment_status) == ("payment", "open", "unpaid")
    assert session.amount_subtotal == session.amount_total == 2 * 2500 + 900 and session.currency == "usd"
    assert session.client_reference_id == "7" and session.customer_email == "guest@example.com"
    assert session.metadata.to_dict() == {"order_id": "7", "order_token": "tok-7", "kind": "mixed"}
    assert session.billing_address_collection == "required"
    assert session.shipping_address_collection.allowed_countries == ["US", "CA"]
    assert session.phone_number_collection.enabled is True
    assert session.payment_intent is None and session.url.startswith(f"{standin.url}/c/pay/{session.id}")
    items = standin.client.v1.checkout.sessions.line_items.list(session.id)
    assert [(i.description, i.quantity, i.amount_total) for i in items.data] == [
        ("Articulated dragon", 2, 5000), ("Vase STL file", 1, 900)]
    expanded = standin.client.v1.checkout.sessions.retrieve(session.id, {"expand": ["line_items"]})
    assert expanded.line_items.data[0].price.unit_amount == 2500


def test_hosted_checkout_shows_items_collects_details_and_pays(standin: Standin) -> None:
    session = standin.client.v1.checkout.sessions.create(session_params())
    page = httpx.get(session.url)
    assert page.status_code == 200
    for text in ("Offline Stripe stand-in", "Articulated dragon", "Vase STL file", "59.00 USD", 'name="shipping_line1"',
                 'name="phone"', 'name="billing_line1"', '<option value="CA"'):
        assert text in page.text
    form = {"email": "buyer@example.com", "phone": "+15555550123", "name": "Ada Buyer",
            "billing_line1": "1 Billing Rd", "billing_city": "Austin", "billing_state": "TX", "billing_postal_code": "73301",
            "billing_country": "US", "shipping_name": "Ada Buyer", "shipping_line1": "2 Ship St", "shipping_city": "Toronto",
            "shipping_state": "ON", "shipping_postal_code": "M5V 2T6", "shipping_country": "CA"}
    refused = httpx.post(session.url, data={**form, "shipping_country": "FR"})
    assert refused.status_code == 400 and "not allowed" in refused.text
    paid = httpx.post(session.url, data=form)
    assert paid.status_code == 303
    assert paid.headers["location"] == f"http://127.0.0.1:9/orders/checkout/success?session_id={session.id}"

    done = standin.client.v1.checkout.sessions.retrieve(session.id, {"expand": ["payment_intent.latest_charge"]})
    assert (done.status, done.payment_status) == ("complete", "paid")
    assert done.customer_details.email == "buyer@example.com" and done.customer_details.phone == "+15555550123"
    assert done.customer_details.address.line1 == "1 Billing Rd"
    shipping = done.collected_information.shipping_details
    assert shipping.name == "Ada Buyer" and shipping.address.country == "CA" and shipping.address.city == "Toronto"
    intent = done.payment_intent
    assert intent.status == "succeeded" and intent.amount == 5900 and intent.amount_received == 5900
    assert intent.metadata.to_dict() == {"order_id": "7", "order_token": "tok-7"}
    assert intent.latest_charge.id.startswith("ch_") and intent.latest_charge.amount == 5900
    assert intent.latest_charge.paid is True and intent.latest_charge.payment_intent == intent.id
    # The page of a paid session says so instead of offering to pay again.
    assert "complete" in httpx.get(session.url).text


def test_checkout_session_completed_is_signed_for_the_platform_endpoint(standin: Standin) -> None:
    session = paid_session(standin)
    received = standin.receiver.wait_for(
        lambda got: any(r.event["type"] == "checkout.session.completed" for r in got))
    delivery = next(r for r in received if r.event["type"] == "checkout.session.completed")
    assert delivery.path == "/webhooks/stripe"
    event = stripe.Webhook.construct_event(delivery.body, delivery.headers["stripe-signature"], PLATFORM_SECRET)
    assert event.id.startswith("evt_") and event.data.object.id == session.id
    assert event.data.object.payment_intent == session.payment_intent
    assert event.data.object.metadata.order_id == "7"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body, delivery.headers["stripe-signature"], CONNECT_SECRET)


def test_cancel_link_and_expiry(standin: Standin) -> None:
    session = standin.client.v1.checkout.sessions.create(session_params())
    page = httpx.get(session.url).text
    assert 'href="http://127.0.0.1:9/orders/7/checkout/cancel"' in page
    expired = standin.client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired" and expired.url is None
    assert "expired" in httpx.get(f"{standin.url}/c/pay/{session.id}").text
    with pytest.raises(stripe.InvalidRequestError) as refused:
        standin.client.v1.checkout.sessions.expire(session.id)
    assert refused.value.code == "checkout_session_not_open"
    assert standin.receiver.wait_for(lambda got: any(r.event["type"] == "checkout.session.expired" for r in got))


def test_session_without_shipping_asks_for_no_address_to_ship(standin: Standin) -> None:
    params = session_params()
    for key in ("shipping_address_collection", "phone_number_collection", "billing_address_collection"):
        params.pop(key)
    session = standin.client.v1.checkout.sessions.create(params)
    page = httpx.get(session.url).text
    assert "shipping_line1" not in page and 'name="phone"' not in page and "billing_line1" not in page
    paid = httpx.post(session.url, data={"email": "b@example.com", "name": "B", "billing_postal_code": "10001",
                                         "billing_country": "US"})
    assert paid.status_code == 303
    done = standin.client.v1.checkout.sessions.retrieve(session.id)
    assert done.collected_information.shipping_details is None and done.payment_status == "paid"


def test_session_validation_errors_are_stripes(standin: Standin) -> None:
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        standin.client.v1.checkout.sessions.create({**session_params(), "shipping_adress_collection": {"allowed_countries": ["US"]}})  # type: ignore[typeddict-unknown-key]
    assert unknown.value.code == "parameter_unknown" and unknown.value.param == "shipping_adress_collection"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        standin.client.v1.checkout.sessions.create({"mode": "payment", "success_url": "http://x.test/"})
    assert missing.value.code == "parameter_missing" and missing.value.param == "line_items"
    with pytest.raises(stripe.InvalidRequestError) as small:
        standin.client.v1.checkout.sessions.create(session_params(line_items=[
            {"price_data": {"currency": "usd", "unit_amount": 10, "product_data": {"name": "Pin"}}, "quantity": 1}]))
    assert small.value.code == "amount_too_small"
    with pytest.raises(stripe.InvalidRequestError) as not_found:
        standin.client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert not_found.value.http_status == 404 and not_found.value.code == "resource_missing"


def test_wrong_api_key_is_an_authentication_error(standin: Standin) -> None:
    client = stripe.StripeClient("sk_test_wrong_key_1234", base_addresses={"api": standin.url}, max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError):
        client.v1.accounts.create({"type": "express"})


async def test_async_client_checkout_and_account(standin: Standin) -> None:
    client = stripe.StripeClient("sk_test_standin_tests", base_addresses={"api": standin.url}, max_network_retries=0,
                                 http_client=stripe.HTTPXClient())
    account = await client.v1.accounts.create_async({"type": "express", "country": "US",
                                                     "capabilities": {"transfers": {"requested": True}}})
    assert (await client.v1.accounts.retrieve_async(account.id)).id == account.id
    session = await client.v1.checkout.sessions.create_async(session_params())
    assert (await client.v1.checkout.sessions.retrieve_async(session.id)).amount_total == 5900
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.payment_intents.retrieve_async("pi_missing")

"""Transfers and refunds with Stripe's limits, idempotency keys, lists with cursors, and expand."""

from __future__ import annotations

import pytest
import stripe
from conftest import Standin, paid_session, ready_account


def charge_of(s: Standin, session: stripe.checkout.Session) -> stripe.Charge:
    intent = s.client.v1.payment_intents.retrieve(session.payment_intent)
    return s.client.v1.charges.retrieve(intent.latest_charge)


def test_transfer_from_a_charge_to_a_ready_account(standin: Standin) -> None:
    session = paid_session(standin)
    charge = charge_of(standin, session)
    seller = ready_account(standin)
    transfer = standin.client.v1.transfers.create(
        {"amount": 4000, "currency": "usd", "destination": seller.id, "transfer_group": "7",
         "source_transaction": charge.id, "metadata": {"order_id": "7", "seller_id": "42"}},
        {"idempotency_key": "transfer:7:42:v1"},
    )
    assert transfer.id.startswith("tr_") and transfer.object == "transfer"
    assert (transfer.amount, transfer.currency, transfer.destination) == (4000, "usd", seller.id)
    assert transfer.source_transaction == charge.id and transfer.transfer_group == "7"
    assert transfer.metadata.to_dict() == {"order_id": "7", "seller_id": "42"}
    assert transfer.destination_payment.startswith("py_") and transfer.balance_transaction.startswith("txn_")
    assert standin.client.v1.transfers.retrieve(transfer.id).to_dict() == transfer.to_dict()
    balance = standin.client.v1.balance.retrieve()
    assert [(b.currency, b.amount) for b in balance.available] == [("usd", 5900 - 4000)]


def test_transfer_limits(standin: Standin) -> None:
    session = paid_session(standin)  # 5900
    charge = charge_of(standin, session)
    seller = ready_account(standin)
    base = {"currency": "usd", "destination": seller.id, "source_transaction": charge.id}
    standin.client.v1.transfers.create({**base, "amount": 5000})
    # What is left of the source charge is 900: Stripe refuses more.
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        standin.client.v1.transfers.create({**base, "amount": 901})
    assert too_much.value.code == "amount_too_large" and too_much.value.param == "amount"
    standin.client.v1.transfers.create({**base, "amount": 900})
    # Without a source transaction the platform's available balance (now 0) is the limit.
    with pytest.raises(stripe.InvalidRequestError) as no_funds:
        standin.client.v1.transfers.create({"amount": 1, "currency": "usd", "destination": seller.id})
    assert no_funds.value.code == "balance_insufficient"
    # Payouts disabled: no transfer to that account.
    half_ready = ready_account(standin, "payouts_disabled")
    second = charge_of(standin, paid_session(standin))
    with pytest.raises(stripe.InvalidRequestError) as not_ready:
        standin.client.v1.transfers.create({**base, "amount": 100, "destination": half_ready.id,
                                            "source_transaction": second.id})
    assert not_ready.value.code == "insufficient_capabilities_for_transfer"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        standin.client.v1.transfers.create({**base, "amount": 100, "destination": "acct_nope"})
    assert missing.value.http_status == 404 and missing.value.param == "destination"
    with pytest.raises(stripe.InvalidRequestError) as not_integer:
        standin.client.v1.transfers.create({**base, "amount": "12.5"})  # type: ignore[typeddict-item]
    assert not_integer.value.code == "parameter_invalid_integer"


def test_transfers_list_filters_and_cursors(standin: Standin) -> None:
    seller, other = ready_account(standin), ready_account(standin)
    created = []
    for group in ("a", "b", "a", "a"):
        charge = charge_of(standin, paid_session(standin))
        created.append(standin.client.v1.transfers.create(
            {"amount": 100, "currency": "usd", "destination": seller.id if group == "a" else other.id,
             "transfer_group": group, "source_transaction": charge.id}))
    group_a = standin.client.v1.transfers.list({"transfer_group": "a"})
    assert [t.id for t in group_a.data] == [created[3].id, created[2].id, created[0].id]  # newest first
    assert group_a.has_more is False and group_a.url == "/v1/transfers"
    first = standin.client.v1.transfers.list({"limit": 2})
    assert [t.id for t in first.data] == [created[3].id, created[2].id] and first.has_more is True
    rest = standin.client.v1.transfers.list({"limit": 2, "starting_after": first.data[-1].id})
    assert [t.id for t in rest.data] == [created[1].id, created[0].id] and rest.has_more is False
    back = standin.client.v1.transfers.list({"limit": 1, "ending_before": created[1].id})
    assert [t.id for t in back.data] == [created[2].id]
    assert [t.id for t in standin.client.v1.transfers.list({"destination": other.id}).data] == [created[1].id]
    every = [t.id for t in standin.client.v1.transfers.list({"limit": 1}).auto_paging_iter()]
    assert every == [t.id for t in reversed(created)]


def test_refunds_never_exceed_what_is_left_on_the_charge(standin: Standin) -> None:
    session = paid_session(standin)
    refund = standin.client.v1.refunds.create(
        {"payment_intent": session.payment_intent, "amount": 2500,
         "metadata": {"refund_request_id": "3", "order_id": "7", "order_item_id": "11", "seller_id": "42"}},
        {"idempotency_key": "refundreq-3"},
    )
    assert refund.id.startswith("re_") and refund.status == "succeeded" and refund.amount == 2500
    assert refund.payment_intent == session.payment_intent and refund.metadata.order_item_id == "11"
    charge = standin.client.v1.charges.retrieve(refund.charge)
    assert charge.amount_refunded == 2500 and charge.refunded is False
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        standin.client.v1.refunds.create({"payment_intent": session.payment_intent, "amount": 3401})
    assert too_much.value.code == "amount_too_large"
    rest = standin.client.v1.refunds.create({"payment_intent": session.payment_intent})  # the rest
    assert rest.amount == 3400
    assert standin.client.v1.charges.retrieve(refund.charge).refunded is True
    with pytest.raises(stripe.InvalidRequestError) as again:
        standin.client.v1.refunds.create({"charge": refund.charge, "amount": 1})
    assert again.value.code == "charge_already_refunded"
    listed = standin.client.v1.refunds.list({"payment_intent": session.payment_intent})
    assert [r.id for r in listed.data] == [rest.id, refund.id]
    assert standin.client.v1.refunds.retrieve(refund.id).amount == 2500


def test_refund_events_are_delivered(standin: Standin) -> None:
    session = paid_session(standin)
    refund = standin.client.v1.refunds.create({"payment_intent": session.payment_intent, "amount": 100},
                                              {"idempotency_key": "refundreq-9"})
    received = standin.receiver.wait_for(lambda got: {"refund.created", "charge.refunded"} <= {r.event["type"] for r in got})
    by_type = {r.event["type"]: r.event for r in received}
    assert by_type["refund.created"]["data"]["object"]["id"] == refund.id
    assert by_type["refund.created"]["request"]["idempotency_key"] == "refundreq-9"
    refunded = by_type["charge.refunded"]["data"]
    assert refunded["object"]["amount_refunded"] == 100
    assert refunded["previous_attributes"] == {"amount_refunded": 0, "refunded": False}


def test_idempotency_replay_and_conflict(standin: Standin) -> None:
    seller = ready_account(standin)
    charge = charge_of(standin, paid_session(standin))
    params = {"amount": 1000, "currency": "usd", "destination": seller.id, "source_transaction": charge.id}
    first = standin.client.v1.transfers.create(params, {"idempotency_key": "transfer:7:42"})
    replay = standin.client.v1.transfers.create(params, {"idempotency_key": "transfer:7:42"})
    assert replay.id == first.id and replay.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(standin.client.v1.transfers.list().data) == 1
    with pytest.raises(stripe.IdempotencyError) as conflict:
        standin.client.v1.transfers.create({**params, "amount": 1001}, {"idempotency_key": "transfer:7:42"})
    assert "same parameters" in conflict.value.user_message
    with pytest.raises(stripe.IdempotencyError):  # same key on another endpoint
        standin.client.v1.refunds.create({"charge": charge.id, "amount": 1000}, {"idempotency_key": "transfer:7:42"})


def test_idempotency_keeps_a_refusal_but_not_a_validation_error(standin: Standin) -> None:
    seller = ready_account(standin)
    charge = charge_of(standin, paid_session(standin))
    params = {"amount": 999_999, "currency": "usd", "destination": seller.id, "source_transaction": charge.id}
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            standin.client.v1.transfers.create(params, {"idempotency_key": "big"})
        assert refused.value.code == "amount_too_large"
    assert refused.value.headers.get("Idempotent-Replayed") == "true"
    # A request that failed validation saved nothing: the key can be used again.
    with pytest.raises(stripe.InvalidRequestError):
        standin.client.v1.transfers.create({**params, "amount": "x"}, {"idempotency_key": "fixable"})  # type: ignore[typeddict-item]
    fixed = standin.client.v1.transfers.create({**params, "amount": 100}, {"idempotency_key": "fixable"})
    assert fixed.amount == 100


def test_checkout_session_idempotency_returns_the_same_session(standin: Standin) -> None:
    from conftest import session_params

    key = "checkout_session:7:abc:v1"
    first = standin.client.v1.checkout.sessions.create(session_params(), {"idempotency_key": key})
    second = standin.client.v1.checkout.sessions.create(session_params(), {"idempotency_key": key})
    assert first.id == second.id and first.url == second.url


def test_expand_and_its_refusal(standin: Standin) -> None:
    session = paid_session(standin)
    intent = standin.client.v1.payment_intents.retrieve(session.payment_intent, {"expand": ["latest_charge"]})
    assert isinstance(intent.latest_charge, stripe.Charge) and intent.latest_charge.amount == 5900
    seller = ready_account(standin)
    standin.client.v1.transfers.create({"amount": 10, "currency": "usd", "destination": seller.id,
                                        "source_transaction": intent.latest_charge.id})
    listed = standin.client.v1.transfers.list({"expand": ["data.destination"]})
    assert listed.data[0].destination.id == seller.id and listed.data[0].destination.payouts_enabled is True
    with pytest.raises(stripe.InvalidRequestError) as refused:
        standin.client.v1.payment_intents.retrieve(session.payment_intent, {"expand": ["amount"]})
    assert refused.value.param == "expand"


async def test_async_transfer_and_refund(standin: Standin) -> None:
    client = stripe.StripeClient("sk_test_standin_tests", base_addresses={"api": standin.url}, max_network_retries=0,
                                 http_client=stripe.HTTPXClient())
    session = paid_session(standin)
    seller = ready_account(standin)
    intent = await client.v1.payment_intents.retrieve_async(session.payment_intent)
    transfer = await client.v1.transfers.create_async(
        {"amount": 700, "currency": "usd", "destination": seller.id, "source_transaction": intent.latest_charge},
        {"idempotency_key": "t-async"})
    assert (await client.v1.transfers.list_async({"destination": seller.id})).data[0].id == transfer.id
    refund = await client.v1.refunds.create_async({"payment_intent": intent.id, "amount": 300})
    assert (await client.v1.refunds.retrieve_async(refund.id)).amount == 300
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.refunds.create_async({"payment_intent": intent.id, "amount": 6000})


def test_an_internal_error_is_stripes_api_error_and_not_retried(receiver) -> None:  # type: ignore[no-untyped-def]
    from conftest import make_config

    from stripe_standin.app import create_app
    from stripe_standin.testing import ServerThread

    app = create_app(make_config(receiver))
    calls = []

    def broken(params: dict) -> dict:  # type: ignore[type-arg]
        calls.append(params)
        raise RuntimeError("a bug in the stand-in")

    app.state.engine.create_transfer = broken
    with ServerThread(app) as url:
        client = stripe.StripeClient("sk_test_standin_tests", base_addresses={"api": url}, max_network_retries=2)
        with pytest.raises(stripe.APIError) as failed:
            client.v1.transfers.create({"amount": 1, "currency": "usd", "destination": "acct_x"})
    assert failed.value.http_status == 500 and "stand-in" in failed.value.user_message
    assert len(calls) == 1  # Stripe-Should-Retry: false kept the library from retrying


def test_the_other_reads_and_account_update(standin: Standin) -> None:
    session = paid_session(standin)
    other = paid_session(standin)
    by_intent = standin.client.v1.checkout.sessions.list({"payment_intent": session.payment_intent})
    assert [s.id for s in by_intent.data] == [session.id]
    assert [s.id for s in standin.client.v1.checkout.sessions.list({"status": "complete"}).data] == [other.id, session.id]
    charges = standin.client.v1.charges.list({"payment_intent": other.payment_intent})
    assert len(charges.data) == 1 and charges.data[0].payment_intent == other.payment_intent
    seller = ready_account(standin)
    updated = standin.client.v1.accounts.update(seller.id, {"metadata": {"seller_id": "42"}})
    assert updated.metadata.to_dict() == {"seller_id": "42"}
    merged = standin.client.v1.accounts.update(seller.id, {"metadata": {"shop": "ada", "seller_id": ""}})
    assert merged.metadata.to_dict() == {"shop": "ada"}  # merged; an empty value removes the key
    assert [a.id for a in standin.client.v1.accounts.list().data] == [seller.id]
    events = standin.client.v1.events.list({"type": "account.updated"}).data
    assert events[0].data.previous_attributes.metadata.to_dict() == {"seller_id": "42"}
    assert events[1].data.previous_attributes.metadata.to_dict() == {}
    assert events[0].account == seller.id
    assert [e.type for e in standin.client.v1.events.list({"type": "checkout.session.*"}).data] == [
        "checkout.session.completed", "checkout.session.completed"]
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        standin.client.v1.accounts.update(seller.id, {"business_type": "company"})
    assert unknown.value.code == "parameter_unknown"


async def test_concurrent_transfers_and_refunds_never_overdraw_the_charge(standin: Standin) -> None:
    import asyncio

    client = stripe.StripeClient("sk_test_standin_tests", base_addresses={"api": standin.url}, max_network_retries=0,
                                 http_client=stripe.HTTPXClient())
    seller = ready_account(standin)
    charge = charge_of(standin, paid_session(standin))  # 5900

    async def transfer(amount: int) -> int:
        try:
            await client.v1.transfers.create_async({"amount": amount, "currency": "usd", "destination": seller.id,
                                                    "source_transaction": charge.id})
        except stripe.InvalidRequestError as refused:
            assert refused.code == "amount_too_large"
            return 0
        return amount

    moved = await asyncio.gather(*(transfer(500) for _ in range(16)))
    assert sum(moved) == 5500 and moved.count(500) == 11
    other = charge_of(standin, paid_session(standin))

    async def refund(amount: int) -> int:
        try:
            await client.v1.refunds.create_async({"charge": other.id, "amount": amount})
        except stripe.InvalidRequestError:
            return 0
        return amount

    refunded = await asyncio.gather(*(refund(1000) for _ in range(8)))
    assert sum(refunded) == 5000
    assert standin.client.v1.charges.retrieve(other.id).amount_refunded == 5000


async def test_async_auto_paging_follows_the_cursors(standin: Standin) -> None:
    client = stripe.StripeClient("sk_test_standin_tests", base_addresses={"api": standin.url}, max_network_retries=0,
                                 http_client=stripe.HTTPXClient())
    session = paid_session(standin)
    made = [standin.client.v1.refunds.create({"payment_intent": session.payment_intent, "amount": 100}).id
            for _ in range(5)]
    listing = await client.v1.refunds.list_async({"limit": 2, "payment_intent": session.payment_intent})
    assert listing.has_more is True
    seen = [refund.id async for refund in listing.auto_paging_iter()]
    assert seen == list(reversed(made))

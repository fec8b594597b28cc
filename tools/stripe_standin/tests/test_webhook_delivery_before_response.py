"""Webhook delivery before the response (decision 0401, ``PUT /_standin/webhook-delivery``): the events
an API call emits reach the receiver, are answered, and are recorded as delivered before the call made
through the official ``stripe`` library returns -- the order issue 13's refund flow needs (P7, R5)."""

from __future__ import annotations

import time

import stripe
from conftest import PLATFORM_SECRET, Standin, paid_session

REFUND_TYPES = ["refund.created", "charge.refunded"]


def test_a_refunds_webhooks_are_delivered_twice_and_answered_before_the_call_returns(standin: Standin) -> None:
    intent = paid_session(standin).payment_intent
    standin.receiver.wait_for(lambda got: len(got) == 3)  # the payment's three events, queued as usual
    assert standin.control("PUT", "/webhook-delivery", {"mode": "before_response", "copies": 2}) == {
        "mode": "before_response", "copies": 2}
    assert standin.control("GET", "/webhook-delivery") == {"mode": "before_response", "copies": 2}

    refund = standin.client.v1.refunds.create({"payment_intent": intent, "amount": 500, "metadata": {"order_id": "7"}},
                                              {"idempotency_key": "refund-7-a"})
    returned = time.time()
    # No waiting: when the library returns, the receiver has had both events twice, round after round.
    got = standin.receiver.events()[3:]
    assert [e["type"] for e in got] == REFUND_TYPES * 2
    assert got[0]["data"]["object"]["id"] == refund.id and got[0]["id"] == got[2]["id"] and got[1]["id"] == got[3]["id"]
    for delivery in standin.receiver.received[3:]:
        stripe.Webhook.construct_event(delivery.body, delivery.headers["stripe-signature"], PLATFORM_SECRET)
    # ...and the stand-in recorded each copy answered 2xx before it answered.
    for event_id in (got[0]["id"], got[1]["id"]):
        listed = [d for e in standin.control("GET", "/events")["data"] if e["event"]["id"] == event_id
                  for d in e["deliveries"]]
        assert [(d["state"], d["last_status"]) for d in listed] == [("delivered", 200)] * 2
        attempts = standin.control("GET", f"/deliveries?event_id={event_id}")["data"]
        assert len(attempts) == 2 and all(a["status"] == 200 and a["at"] <= returned for a in attempts)
    # The same request again (the library's retry): the saved answer, no new events, nothing sent again.
    again = standin.client.v1.refunds.create({"payment_intent": intent, "amount": 500, "metadata": {"order_id": "7"}},
                                             {"idempotency_key": "refund-7-a"})
    assert again.id == refund.id and len(standin.receiver.received) == 7

    # A control (the dashboard refund) is a call too.
    standin.control("PUT", "/webhook-delivery", {"copies": 1})
    dashboard = standin.control("POST", "/refunds", {"payment_intent": intent, "amount": 100})
    assert [e["type"] for e in standin.receiver.events()[7:]] == REFUND_TYPES
    assert standin.receiver.events()[7]["data"]["object"]["id"] == dashboard["id"]

    # Back to queued: the call answers first, the worker sends once afterwards.
    assert standin.control("PUT", "/webhook-delivery", {"mode": "queued"})["mode"] == "queued"
    standin.client.v1.refunds.create({"payment_intent": intent, "amount": 100})
    assert [r.event["type"] for r in standin.receiver.wait_for(lambda got: len(got) == 11)[9:]] == REFUND_TYPES


def test_a_copy_the_receiver_refuses_is_left_to_the_workers_retries(standin: Standin) -> None:
    intent = paid_session(standin).payment_intent
    standin.receiver.wait_for(lambda got: len(got) == 3)
    standin.control("PUT", "/webhook-delivery", {"mode": "before_response", "copies": 1})
    standin.receiver.statuses.extend([500])  # refund.created's inline attempt fails
    refund = standin.client.v1.refunds.create({"payment_intent": intent, "amount": 500})
    assert refund.status == "succeeded"  # the call still succeeds: delivery is not part of it
    assert standin.receiver.types()[3:5] == REFUND_TYPES  # both tried before the answer
    received = standin.receiver.wait_for(lambda got: len(got) == 6)  # refund.created again, from the worker
    assert received[5].event["type"] == "refund.created"
    created = received[3].event["id"]
    deadline = time.monotonic() + 10
    while [a["status"] for a in standin.control("GET", f"/deliveries?event_id={created}")["data"]] != [500, 200]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_bad_settings_are_refused_and_change_nothing(standin: Standin) -> None:
    for body in ({"mode": "early"}, {"copies": 0}, {"copies": 11}, {"copies": "2"}, {"speed": 1}, [1]):
        refused = standin.control("PUT", "/webhook-delivery", body, expect=400)  # type: ignore[arg-type]
        assert refused["error"]["type"] == "invalid_request_error"
        assert "Invalid webhook delivery settings" in refused["error"]["message"]
        assert '"before_response"' in refused["error"]["message"]
    assert standin.control("GET", "/webhook-delivery") == {"mode": "queued", "copies": 1}

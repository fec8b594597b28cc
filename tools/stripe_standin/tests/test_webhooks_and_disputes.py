"""Signed webhooks (verified and refused by the library), retries with backoff until 2xx, the
recorded list, re-sending, chaos delivery; disputes and refunds made outside the API."""

from __future__ import annotations

import itertools
import time

import pytest
import stripe
from conftest import CONNECT_SECRET, PLATFORM_SECRET, Standin, paid_session, ready_account

from stripe_standin.testing import ServerThread
from stripe_standin.webhooks import sign


def test_signature_is_verified_and_tampering_or_staleness_is_refused(standin: Standin) -> None:
    paid_session(standin)
    delivery = standin.receiver.wait_for(lambda got: len(got) >= 3)[0]
    header = delivery.headers["stripe-signature"]
    assert header.startswith("t=") and ",v1=" in header
    assert delivery.headers["content-type"].startswith("application/json")
    event = stripe.Webhook.construct_event(delivery.body, header, PLATFORM_SECRET)
    assert event.object == "event" and event.livemode is False
    tampered = delivery.body.replace(b'"livemode": false', b'"livemode": true')
    assert tampered != delivery.body
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, header, PLATFORM_SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body, header, "whsec_other")
    signed_at = int(header.split(",")[0][2:])
    assert abs(signed_at - time.time()) < 30
    # The same signature scheme ten minutes old is outside the library's 5-minute tolerance.
    stale = sign(delivery.body, PLATFORM_SECRET, timestamp=signed_at - 600)
    assert stale.split(",")[1] != header.split(",")[1]
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(delivery.body, stale, PLATFORM_SECRET)
    assert stripe.Webhook.construct_event(delivery.body, sign(delivery.body, PLATFORM_SECRET), PLATFORM_SECRET).id == event.id


def test_failed_deliveries_are_retried_with_backoff_until_2xx(standin: Standin) -> None:
    standin.receiver.statuses.extend([500, 503, 400])  # the first three attempts fail
    account = ready_account(standin)  # one account.updated, for the Connect endpoint
    received = standin.receiver.wait_for(lambda got: len(got) >= 4)
    assert {r.event["id"] for r in received} == {received[0].event["id"]}  # the same event each time
    assert all(r.path == "/webhooks/stripe/connect" for r in received)
    event_id = received[0].event["id"]
    # The receiver may see the 4th request before the stand-in has recorded its answer: wait for the record.
    deadline = time.monotonic() + 10
    while len(attempts := standin.control("GET", f"/deliveries?event_id={event_id}")["data"]) < 4:
        assert time.monotonic() < deadline, attempts
        time.sleep(0.05)
    assert [a["status"] for a in attempts] == [500, 503, 400, 200]
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.04 and gaps[1] >= 0.09 and gaps[2] >= 0.19  # 0.05 s doubling
    for r in received:  # each attempt signed afresh
        stripe.Webhook.construct_event(r.body, r.headers["stripe-signature"], CONNECT_SECRET)
    listed = standin.control("GET", "/events?type=account.updated")["data"]
    assert listed[0]["event"]["account"] == account.id and listed[0]["endpoint"] == "connect"
    assert listed[0]["deliveries"][0]["state"] == "delivered" and listed[0]["deliveries"][0]["attempts"] == 4
    time.sleep(0.3)
    assert len(standin.receiver.received) == 4  # delivered: no more attempts


def test_an_unreachable_endpoint_is_retried_and_recorded(receiver, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from conftest import client_for, make_config

    from stripe_standin.app import create_app
    from stripe_standin.webhooks import RetryPolicy

    config = make_config(receiver, platform_webhook_url="http://127.0.0.1:9/nothing-listens",
                         retry=RetryPolicy(base_seconds=0.02, cap_seconds=0.05, max_attempts=3))
    with ServerThread(create_app(config)) as url:
        import httpx

        client = client_for(url)
        client.v1.accounts.create({"type": "express", "capabilities": {"transfers": {"requested": True}}})
        session = client.v1.checkout.sessions.create({
            "mode": "payment", "success_url": "http://x.test/ok",
            "line_items": [{"price_data": {"currency": "usd", "unit_amount": 100, "product_data": {"name": "A"}},
                            "quantity": 1}]})
        httpx.post(f"{url}/_standin/checkout/sessions/{session.id}/pay").raise_for_status()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            events = httpx.get(f"{url}/_standin/events").json()["data"]
            if events and all(e["deliveries"][0]["state"] == "abandoned" for e in events):
                break
            time.sleep(0.05)
        assert all(e["deliveries"][0]["state"] == "abandoned" and e["deliveries"][0]["attempts"] == 3 for e in events)
        assert "ConnectError" in events[0]["deliveries"][0]["last_error"]
        # The API lists the same events, newest first.
        assert [e.id for e in client.v1.events.list().data] == [e["event"]["id"] for e in events]


def test_resend_delivers_the_same_event_again(standin: Standin) -> None:
    paid_session(standin)
    first = standin.receiver.wait_for(lambda got: len(got) == 3)[-1].event
    assert standin.control("POST", f"/events/{first['id']}/resend") == {"event": first["id"], "queued": 1}
    again = standin.receiver.wait_for(lambda got: len(got) == 4)[-1].event
    assert again["id"] == first["id"] and again["data"] == first["data"]
    assert standin.client.v1.events.retrieve(first["id"]).type == first["type"]


def test_chaos_delivers_every_event_twice_late_and_out_of_order(standin: Standin) -> None:
    chaos = standin.control("PUT", "/chaos", {"enabled": True, "copies": 2, "hold_seconds": 0.3})
    assert chaos["enabled"] is True
    started = time.monotonic()
    paid_session(standin)  # charge.succeeded, payment_intent.succeeded, checkout.session.completed
    created = [e["event"]["id"] for e in reversed(standin.control("GET", "/events")["data"])]
    received = standin.receiver.wait_for(lambda got: len(got) == 6)
    assert time.monotonic() - started >= 0.3  # late: nothing left before the stream paused
    ids = [r.event["id"] for r in received]
    assert sorted(ids) == sorted(created * 2)  # every event twice
    assert ids[:3] == list(reversed(created))  # newest first
    assert ids[3:] == list(reversed(created))
    for r in received:
        stripe.Webhook.construct_event(r.body, r.headers["stripe-signature"], PLATFORM_SECRET)
    standin.control("PUT", "/chaos", {"enabled": False})
    standin.control("POST", "/refunds", {"payment_intent": paid_session(standin).payment_intent, "amount": 100})
    standin.receiver.wait_for(lambda got: len(got) == 11)  # back to once each, in order
    assert [r.event["type"] for r in standin.receiver.received[6:]] == [
        "charge.succeeded", "payment_intent.succeeded", "checkout.session.completed", "refund.created", "charge.refunded"]


def test_dispute_lifecycle_lost(standin: Standin) -> None:
    session = paid_session(standin)
    dispute = standin.control("POST", "/disputes", {"payment_intent": session.payment_intent, "reason": "fraudulent"})
    assert dispute["id"].startswith("dp_") and dispute["status"] == "needs_response" and dispute["amount"] == 5900
    fetched = standin.client.v1.disputes.retrieve(dispute["id"])
    assert fetched.charge == dispute["charge"] and fetched.payment_intent == session.payment_intent
    assert standin.client.v1.charges.retrieve(fetched.charge).disputed is True
    with pytest.raises(stripe.InvalidRequestError) as refused:  # no refund while the dispute is open
        standin.client.v1.refunds.create({"payment_intent": session.payment_intent, "amount": 100})
    assert refused.value.code == "charge_disputed"
    updated = standin.control("POST", f"/disputes/{dispute['id']}/update", {"status": "under_review", "evidence": "tracking"})
    assert updated["status"] == "under_review" and updated["evidence_details"]["has_evidence"] is True
    closed = standin.control("POST", f"/disputes/{dispute['id']}/close", {"outcome": "lost"})
    assert closed["status"] == "lost"
    received = standin.receiver.wait_for(lambda got: "charge.dispute.closed" in [r.event["type"] for r in got])
    disputes = [r.event for r in received if r.event["type"].startswith("charge.dispute.")]
    assert [e["type"] for e in disputes] == ["charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed"]
    assert disputes[1]["data"]["previous_attributes"]["status"] == "needs_response"
    assert disputes[2]["data"]["object"]["status"] == "lost"
    assert [b.amount for b in standin.client.v1.balance.retrieve().available] == [0]  # withdrawn, not reinstated
    listed = standin.client.v1.disputes.list({"payment_intent": session.payment_intent})
    assert [d.id for d in listed.data] == [dispute["id"]]
    standin.control("POST", f"/disputes/{dispute['id']}/close", {"outcome": "won"}, expect=400)


def test_dispute_won_reinstates_the_funds_and_accepting_loses(standin: Standin) -> None:
    first, second = paid_session(standin), paid_session(standin)
    won = standin.control("POST", "/disputes", {"payment_intent": first.payment_intent, "amount": 1000})
    assert [b.amount for b in standin.client.v1.balance.retrieve().available] == [2 * 5900 - 1000]
    closed = standin.control("POST", f"/disputes/{won['id']}/close", {"outcome": "won"})
    assert closed["status"] == "won" and len(closed["balance_transactions"]) == 2
    assert [b.amount for b in standin.client.v1.balance.retrieve().available] == [2 * 5900]
    other = standin.control("POST", "/disputes", {"payment_intent": second.payment_intent})
    accepted = standin.client.v1.disputes.close(other["id"])
    assert accepted.status == "lost"
    assert len(standin.client.v1.disputes.list().data) == 2
    standin.control("POST", "/disputes", {"payment_intent": first.payment_intent, "reason": "nonsense"}, expect=400)


def test_dashboard_refund_has_no_metadata_and_no_request(standin: Standin) -> None:
    session = paid_session(standin)
    refund = standin.control("POST", "/refunds", {"payment_intent": session.payment_intent, "amount": 500})
    assert refund["metadata"] == {} and refund["amount"] == 500
    created = standin.receiver.wait_for(lambda got: "refund.created" in [r.event["type"] for r in got])
    event = next(r.event for r in created if r.event["type"] == "refund.created")
    assert event["request"] == {"id": None, "idempotency_key": None}
    standin.control("POST", "/refunds", {"payment_intent": session.payment_intent, "amount": 99_999}, expect=400)


def test_refund_updated_when_a_refund_fails(standin: Standin) -> None:
    session = paid_session(standin)
    refund = standin.control("POST", "/refunds", {"payment_intent": session.payment_intent, "amount": 800,
                                                  "status": "pending"})
    assert refund["status"] == "pending"
    failed = standin.control("POST", f"/refunds/{refund['id']}/status", {"status": "failed"})
    assert failed["status"] == "failed"
    charge = standin.client.v1.charges.retrieve(refund["charge"])
    assert charge.amount_refunded == 0  # the money came back
    received = standin.receiver.wait_for(lambda got: "refund.updated" in [r.event["type"] for r in got])
    updated = next(r.event for r in received if r.event["type"] == "refund.updated")
    assert updated["data"]["previous_attributes"] == {"status": "pending"}
    assert updated["data"]["object"]["status"] == "failed"


def test_controls_are_off_unless_enabled(receiver) -> None:  # type: ignore[no-untyped-def]
    import httpx
    from conftest import make_config

    from stripe_standin.app import create_app

    with ServerThread(create_app(make_config(receiver, controls=False))) as url:
        assert httpx.post(f"{url}/_standin/disputes", json={}).status_code == 404
        assert httpx.get(f"{url}/_standin/events").status_code == 404


def test_the_controls_page_lets_a_person_refund_dispute_and_resend(standin: Standin) -> None:
    import httpx

    session = paid_session(standin)
    charge = standin.client.v1.payment_intents.retrieve(session.payment_intent).latest_charge
    page = httpx.get(f"{standin.url}/_standin/")
    assert page.status_code == 200 and "Offline Stripe stand-in" in page.text and charge in page.text
    opened = httpx.post(f"{standin.url}/_standin/disputes", data={"charge": charge, "reason": "product_not_received"})
    assert opened.status_code == 303 and opened.headers["location"] == "/_standin/"
    dispute = standin.client.v1.disputes.list({"charge": charge}).data[0]
    assert dispute.reason == "product_not_received" and dispute.amount == 5900
    closed = httpx.post(f"{standin.url}/_standin/disputes/{dispute.id}/close", data={"outcome": "won"})
    assert closed.status_code == 303 and standin.client.v1.disputes.retrieve(dispute.id).status == "won"
    refused = httpx.post(f"{standin.url}/_standin/refunds", data={"charge": charge, "amount": "999999"})
    assert refused.status_code == 400 and "greater than unrefunded amount" in refused.text
    refunded = httpx.post(f"{standin.url}/_standin/refunds", data={"charge": charge, "amount": "150"})
    assert refunded.status_code == 303
    assert standin.client.v1.charges.retrieve(charge).amount_refunded == 150
    assert httpx.post(f"{standin.url}/_standin/chaos", data={"enabled": "true"}).status_code == 303
    assert standin.control("GET", "/chaos")["enabled"] is True
    assert "Webhook chaos: on" in httpx.get(f"{standin.url}/_standin/").text

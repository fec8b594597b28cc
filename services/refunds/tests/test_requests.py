"""Refund requests through the service's API and events (R1-R5): who may ask, the amounts
snapshotted, decisions, cancellation, queues, escalation, the refund coming back from payments,
emails over real SMTP, and bad input that writes nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from support import Line, Refunds, days_ago, new_id

from homecraft_shared.db import utcnow
from homecraft_shared.outgoing_mail import OutgoingMail
from homecraft_shared.testing.mail import Mailbox
from refunds.escalation.service import escalate_overdue
from refunds.models import RefundRequest, RequestTransition
from refunds.requests.service import mark_refunded
from refunds.settings import RefundsSettings


def two_lines() -> tuple[Line, Line, Line]:
    return (Line(new_id("line"), "seller-a", 3000), Line(new_id("line"), "seller-b", 1001),
            Line(new_id("line"), "seller-a", 500, digital=True))


async def test_a_buyer_asks_for_the_full_line_with_exact_tax_and_shipping_shares(refunds: Refunds) -> None:
    """R1: gross + tax share (all lines by gross) + shipping share (shippable lines by gross), snapshotted."""
    a, b, file = two_lines()
    order = await refunds.pay_order("buyer-1", [a, b, file], tax=451, shipping=799)
    asked = await refunds.ask(order, b.line_id, refunds.consumer("buyer-1"))
    assert asked.status_code == 201, asked.text
    body = asked.json()
    # tax 451 over 3000/1001/500 -> 300.5.../100.3.../50.0...; shipping 799 over 3000/1001 -> 599.1.../199.8...
    assert (body["line_gross_cents"], body["tax_share_cents"], body["shipping_share_cents"]) == (1001, 100, 200)
    assert body["amount_cents"] == 1301 and body["status"] == "requested" and body["seller_id"] == "seller-b"
    assert [h["to_status"] for h in body["history"]] == ["requested"]
    other = await refunds.ask(order, a.line_id, refunds.consumer("buyer-1"))
    assert (other.json()["tax_share_cents"], other.json()["shipping_share_cents"]) == (301, 599)  # 100+301+50 = 451


async def test_bad_requests_get_a_clear_4xx_and_write_nothing(refunds: Refunds) -> None:
    a, _, file = two_lines()
    order = await refunds.pay_order("buyer-1", [a, file], tax=10)
    free = await refunds.pay_order("buyer-1", [Line(new_id("line"), "seller-a", 0)], free=True)
    before = await refunds.counts(RefundRequest, RequestTransition, OutgoingMail)
    cases = [
        (order, file.line_id, refunds.consumer("buyer-1"), 422, "Digital downloads cannot be refunded"),  # R1
        (new_id("order"), a.line_id, refunds.consumer("buyer-1"), 404, "No paid order"),  # unpaid / unknown
        (order, a.line_id, refunds.consumer("buyer-2"), 404, "No paid order"),  # another buyer's order (R2)
        (order, a.line_id, {}, 404, "No paid order"),  # anonymous, no guest token
        (order, new_id("line"), refunds.consumer("buyer-1"), 422, "has no line"),
        (free, (await refunds.get_lines(free))[0], refunds.consumer("buyer-1"), 409, "free"),  # R3
    ]
    for order_id, line_id, headers, status, message in cases:
        response = await refunds.ask(order_id, line_id, headers)
        assert response.status_code == status, (line_id, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert message in response.json()["detail"]
    bad_reason = await refunds.client.post("/refund-requests", json={"order_id": order, "line_id": a.line_id,
                                                                     "reason": "bored"}, headers=refunds.consumer("buyer-1"))
    assert bad_reason.status_code == 422
    assert await refunds.counts(RefundRequest, RequestTransition, OutgoingMail) == before
    first = await refunds.ask(order, a.line_id, refunds.consumer("buyer-1"))
    assert first.status_code == 201
    after_first = await refunds.counts(RefundRequest, RequestTransition, OutgoingMail)
    assert after_first["OutgoingMail"] == before["OutgoingMail"] + 1  # the seller is told (decision 0602)
    again = await refunds.ask(order, a.line_id, refunds.consumer("buyer-1"))
    assert again.status_code == 409 and "one request per line (R1)" in again.json()["detail"]
    assert await refunds.counts(RefundRequest, RequestTransition, OutgoingMail) == after_first


async def test_the_lines_seller_decides_others_cannot(refunds: Refunds, smtp: tuple[Mailbox, int]) -> None:
    """R3/R4: the line's seller (or an owner/staff) approves or declines; another seller gets a 404, the buyer a 403."""
    a, b, _ = two_lines()
    order = await refunds.pay_order("buyer-1", [a, b])
    request = (await refunds.ask(order, a.line_id, refunds.consumer("buyer-1"))).json()
    path = f"/refund-requests/{request['id']}"
    other_seller = await refunds.client.post(f"{path}/approve", json={}, headers=refunds.seller("seller-b"))
    assert other_seller.status_code == 404
    buyer = await refunds.client.post(f"{path}/approve", json={}, headers=refunds.consumer("buyer-1"))
    assert buyer.status_code == 403
    declined = await refunds.client.post(f"{path}/decline", json={"note": "used"}, headers=refunds.seller("seller-a"))
    assert declined.status_code == 200, declined.text
    body = declined.json()
    assert (body["status"], body["decided_by"], body["decision_note"]) == ("declined", "seller-a", "used")
    assert body["history"][-1]["actor"] == "user:seller-a"
    # R3: a declined request can be neither refunded nor canceled nor decided again
    for action, headers in (("refund", refunds.seller("seller-a")), ("cancel", refunds.consumer("buyer-1")),
                            ("approve", refunds.owner())):
        response = await refunds.client.post(f"{path}/{action}", json={}, headers=headers)
        assert response.status_code == 409 and "R3" in response.json()["detail"], (action, response.text)


async def test_the_buyer_cancels_before_a_decision_only(refunds: Refunds) -> None:
    a, b, _ = two_lines()
    order = await refunds.pay_order("buyer-1", [a, b])
    first = (await refunds.ask(order, a.line_id, refunds.consumer("buyer-1"))).json()
    stranger = await refunds.client.post(f"/refund-requests/{first['id']}/cancel", headers=refunds.consumer("buyer-2"))
    assert stranger.status_code == 404
    canceled = await refunds.client.post(f"/refund-requests/{first['id']}/cancel", headers=refunds.consumer("buyer-1"))
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    second = (await refunds.ask(order, b.line_id, refunds.consumer("buyer-1"))).json()
    await refunds.client.post(f"/refund-requests/{second['id']}/approve", json={}, headers=refunds.seller("seller-b"))
    late = await refunds.client.post(f"/refund-requests/{second['id']}/cancel", headers=refunds.consumer("buyer-1"))
    assert late.status_code == 409 and "before the seller decides" in late.json()["detail"]


async def test_queues_show_each_party_their_own(refunds: Refunds) -> None:
    """R4: buyer (own), seller (own lines; owners all), staff (all, escalated first); another's request is a 404."""
    a, b, _ = two_lines()
    order = await refunds.pay_order("buyer-1", [a, b])
    ra = (await refunds.ask(order, a.line_id, refunds.consumer("buyer-1"))).json()
    rb = (await refunds.ask(order, b.line_id, refunds.consumer("buyer-1"))).json()
    async with refunds.session() as session:
        await session.execute(update(RefundRequest).where(RefundRequest.id == rb["id"]).values(created_at=days_ago(5)))
        await session.commit()
    async with refunds.session() as session:
        assert await escalate_overdue(session, RefundsSettings(escalate_after_days=3)) == 1
        await session.commit()

    async def ids(view: str, headers: dict[str, str]) -> list[str]:
        response = await refunds.client.get("/refund-requests", params={"view": view}, headers=headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids("seller", refunds.seller("seller-a")) == [ra["id"]]
    assert sorted(await ids("seller", refunds.owner())) == sorted([ra["id"], rb["id"]])
    assert await ids("staff", refunds.as_user("staff-1", "staff")) == [rb["id"], ra["id"]]  # escalated first
    assert sorted(await ids("buyer", refunds.consumer("buyer-1"))) == sorted([ra["id"], rb["id"]])
    assert await ids("buyer", refunds.consumer("buyer-2")) == []
    assert (await refunds.client.get("/refund-requests", params={"view": "staff"},
                                     headers=refunds.seller("seller-a"))).status_code == 403
    seen = await refunds.client.get(f"/refund-requests/{rb['id']}", headers=refunds.seller("seller-b"))
    assert seen.json()["escalated"] is True and "escalated" in seen.json()["history"][-1]["note"]
    assert (await refunds.client.get(f"/refund-requests/{rb['id']}", headers=refunds.seller("seller-a"))).status_code == 404
    for stranger in (refunds.consumer("buyer-2"), {}):  # another buyer, or nobody: 404, never a 403 that confirms it
        unseen = await refunds.client.get(f"/refund-requests/{rb['id']}", headers=stranger)
        assert unseen.status_code == 404 and "No refund request" in unseen.json()["detail"]


async def test_escalation_waits_for_the_configured_days(refunds: Refunds) -> None:
    a, _, _ = two_lines()
    order = await refunds.pay_order("buyer-1", [a])
    request = (await refunds.ask(order, a.line_id, refunds.consumer("buyer-1"))).json()
    settings = RefundsSettings(escalate_after_days=3)
    async with refunds.session() as session:
        assert await escalate_overdue(session, settings, now=dt.datetime.fromisoformat(request["created_at"])
                                      + dt.timedelta(days=2, hours=23)) == 0
        assert await escalate_overdue(session, settings, now=dt.datetime.fromisoformat(request["created_at"])
                                      + dt.timedelta(days=3, seconds=1)) == 1
        assert await escalate_overdue(session, settings, now=dt.datetime.fromisoformat(request["created_at"])
                                      + dt.timedelta(days=4)) == 0  # once


async def test_the_refund_coming_back_marks_the_request_refunded_once(refunds: Refunds, smtp: tuple[Mailbox, int]) -> None:
    """R5: payments' payment.refunded naming the request makes it refunded and publishes refund.processed once,
    however often and in whatever order it arrives; the guest is emailed once."""
    a, _, _ = two_lines()
    order = await refunds.pay_order(None, [a], tax=100, shipping=200)
    async with refunds.session() as session:  # the guest's request (guest access is proven in tests/flows)
        request = RefundRequest(
            id="11111111-2222-3333-4444-555555555555", order_id=order, line_id=a.line_id, product_id="p",
            seller_id="seller-a", buyer_id=None, guest_email="guest@example.com",
            guest_link="http://shop.test/orders/x?t=tok", title="Print", reason="damaged", note="",
            status="approved", currency="usd", line_gross_cents=3000, tax_share_cents=100, shipping_share_cents=200,
            amount_cents=3300, created_at=days_ago(1))
        session.add(request)
        await session.commit()
    await refunds.refunded_at_stripe(order, request.id, "re_pending", 3300, 0, status="pending")
    await refunds.refunded_at_stripe(order, request.id, "re_1", 3300, 3300)
    await refunds.refunded_at_stripe(order, request.id, "re_1", 3300, 3300)
    seen = (await refunds.client.get(f"/refund-requests/{request.id}", headers=refunds.owner())).json()
    assert (seen["status"], seen["stripe_refund_id"]) == ("refunded", "re_1")
    processed = await refunds.published("refund.processed")
    assert len(processed) == 1 and processed[0]["amount_cents"] == 3300 and processed[0]["stripe_refund_id"] == "re_1"
    mailbox = smtp[0]
    messages = await mailbox.wait_for(1)
    assert messages[0]["To"] == "guest@example.com" and "refund" in messages[0]["Subject"].lower()
    body = messages[0].get_payload(decode=True).decode()
    assert "http://shop.test/orders/x?t=tok" in body and "33.00 USD" in body
    assert await refunds.count(OutgoingMail) == 1


async def test_the_refund_call_and_payments_event_racing_record_the_refund_once(refunds: Refunds) -> None:
    """R5: the seller's refund call read the request (approved) before its slow call to payments; meanwhile
    payments' event marked it refunded and committed. The call's own mark then writes nothing: one refunded
    transition, one refund.processed (found end to end when the stand-in delivers its webhook first)."""
    a, _, _ = two_lines()
    order = await refunds.pay_order("buyer-1", [a])
    async with refunds.session() as session:
        session.add(RefundRequest(
            id=new_id("request"), order_id=order, line_id=a.line_id, product_id="p", seller_id="seller-a",
            buyer_id="buyer-1", guest_email=None, guest_link=None, title="Print", reason="damaged", note="",
            status="approved", currency="usd", line_gross_cents=3000, tax_share_cents=0, shipping_share_cents=0,
            amount_cents=3000, created_at=days_ago(1)))
        await session.commit()
    async with refunds.session() as session:
        request_id = (await session.scalars(
            select(RefundRequest.id).where(RefundRequest.line_id == a.line_id))).one()
    async with refunds.session() as the_call:
        stale = await the_call.get(RefundRequest, request_id)  # read before the call to payments
        assert stale is not None and stale.status == "approved"
        async with refunds.session() as the_event:  # payments' payment.refunded, applied meanwhile
            await mark_refunded(the_event, request_id, "re_1", utcnow())
            await the_event.commit()
        await mark_refunded(the_call, request_id, "re_1", utcnow(), actor="seller:seller-a")
        await the_call.commit()
        assert stale.status == "refunded"  # the call answers what is stored, not its stale copy
    async with refunds.session() as session:
        steps = (await session.scalars(select(RequestTransition.to_status)
                                       .where(RequestTransition.request_id == request_id))).all()
    assert list(steps).count("refunded") == 1, steps
    assert len(await refunds.published("refund.processed")) == 1


async def test_creation_is_rate_limited_per_buyer(database_url: str, nats_url: str, identity_keys: tuple[str, str],
                                                   smtp: tuple[Mailbox, int]) -> None:
    from support import running_refunds

    async with running_refunds(database_url, nats_url, identity_keys, smtp[1],
                               request_rate_limits_per_buyer="2/minute") as refunds:
        lines = [Line(new_id("line"), "seller-a", 1000) for _ in range(3)]
        order = await refunds.pay_order("buyer-1", lines)
        for line in lines[:2]:
            assert (await refunds.ask(order, line.line_id, refunds.consumer("buyer-1"))).status_code == 201
        limited = await refunds.ask(order, lines[2].line_id, refunds.consumer("buyer-1"))
        assert limited.status_code == 429 and "Too many refund requests" in limited.json()["detail"]
        assert int(limited.headers["Retry-After"]) >= 1
        assert await refunds.count(RefundRequest) == 2


async def test_refused_transitions_write_nothing(refunds: Refunds) -> None:
    """Issue 13's bad input after creation, each a clear 4xx with no row, event or email written: a second
    request for a line (R1), a decision by another seller (R4: 404), a refund of a declined or an already
    refunded request and a cancel after a decision (R3: 409; payments is never asked)."""
    a, b, _ = two_lines()
    c = Line(new_id("line"), "seller-a", 700)
    order = await refunds.pay_order("buyer-1", [a, b, c], tax=90, shipping=150)
    declined, refunded, approved = [(await refunds.ask(order, x.line_id, refunds.consumer("buyer-1"))).json()["id"]
                                    for x in (a, b, c)]
    for request_id, action in ((declined, "decline"), (refunded, "approve"), (approved, "approve")):
        seller = "seller-b" if request_id == refunded else "seller-a"
        done = await refunds.client.post(f"/refund-requests/{request_id}/{action}", json={}, headers=refunds.seller(seller))
        assert done.status_code == 200, done.text
    amount = (await refunds.client.get(f"/refund-requests/{refunded}", headers=refunds.owner())).json()["amount_cents"]
    await refunds.refunded_at_stripe(order, refunded, "re_refused_1", amount, amount)
    tables = (RefundRequest, RequestTransition, OutgoingMail)
    before = await refunds.counts(*tables)

    cases = [
        ("POST", "/refund-requests", {"order_id": order, "line_id": a.line_id, "reason": "damaged"},
         refunds.consumer("buyer-1"), 409, "one request per line (R1)"),
        ("POST", f"/refund-requests/{approved}/decline", {}, refunds.seller("seller-b"), 404, "No refund request"),
        ("POST", f"/refund-requests/{declined}/refund", {}, refunds.seller("seller-a"), 409, "R3"),
        ("POST", f"/refund-requests/{refunded}/refund", {}, refunds.owner(), 409, "R3"),
        ("POST", f"/refund-requests/{declined}/cancel", {}, refunds.consumer("buyer-1"), 409, "before the seller decides"),
        ("POST", f"/refund-requests/{approved}/cancel", {}, refunds.consumer("buyer-1"), 409, "before the seller decides"),
        ("POST", f"/refund-requests/{refunded}/approve", {}, refunds.seller("seller-b"), 409, "R3"),
    ]
    for method, path, body, headers, status, message in cases:
        response = await refunds.client.request(method, path, json=body, headers=headers)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert message in response.json()["detail"], (path, response.text)
    assert await refunds.counts(*tables) == before
    states = {r: (await refunds.client.get(f"/refund-requests/{r}", headers=refunds.owner())).json()["status"]
              for r in (declined, refunded, approved)}
    assert states == {declined: "declined", refunded: "refunded", approved: "approved"}

"""payment.checkout_session_created into the timeline (O4 "stripe_session_created"): once per session,
whether the same event is redelivered or payments reports the same session in a second event."""

from __future__ import annotations

from support import Orders
from test_lifecycle import completed, deliver, envelope, owner_view

from homecraft_shared.db import utcnow
from homecraft_shared.events.payments import PaymentCheckoutSessionCreatedV1


def created(order_id: str, session_id: str, amount: int) -> PaymentCheckoutSessionCreatedV1:
    return PaymentCheckoutSessionCreatedV1(order_id=order_id, checkout_session_id=session_id,
                                           amount_total_cents=amount, currency="usd", created_at=utcnow())


async def test_session_created_enters_the_timeline_once_per_session(orders: Orders) -> None:
    model = orders.catalog.pick(kind="MODEL")
    order = (await orders.place([(model["id"], 1)], user="buyer-s")).json()
    first = envelope(created(order["id"], "cs_first", order["total_cents"]), order["id"])
    assert await deliver(orders, first)
    assert not await deliver(orders, first)  # the inbox already has this event
    # the same session reported again in another event (another request for the same session): no new entry
    assert await deliver(orders, envelope(created(order["id"], "cs_first", order["total_cents"]), order["id"]))
    # a second session (the order changed, or the first expired) is a second entry
    assert await deliver(orders, envelope(created(order["id"], "cs_second", order["total_cents"]), order["id"]))
    await deliver(orders, envelope(completed(order), order["id"]))
    view = await owner_view(orders, order["id"])
    kinds = [e["type"] for e in view["timeline"]]
    sessions = [e["message"] for e in view["timeline"] if e["type"] == "stripe_session_created"]
    assert len(sessions) == 2
    assert "cs_first" in sessions[0] and "cs_second" in sessions[1]
    assert kinds.index("stripe_session_created") < kinds.index("paid")
    assert view["status"] == "paid"  # a session fact never changes the status (O3)


async def test_a_session_for_an_unknown_order_is_skipped(orders: Orders) -> None:
    assert await deliver(orders, envelope(created("no-such-order", "cs_x", 100), "no-such-order"))
    assert await orders.count() == 0

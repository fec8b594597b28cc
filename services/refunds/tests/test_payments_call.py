"""Refunds asks payments for the Stripe refund as itself (R3; decision 0201): with no key of its own it
refuses clearly (503 naming the setting) and writes nothing; the user's token is never what it sends.
The call against the real payments service, with a real service token and a forged one, is tested in
services/payments/tests/test_refund_execution.py."""

from __future__ import annotations

from support import Line, Refunds, new_id, running_refunds

from homecraft_shared.identity import generate_keypair
from homecraft_shared.testing.mail import Mailbox
from refunds.models import RefundRequest, RequestTransition


async def approved(refunds: Refunds) -> str:
    line = Line(new_id("line"), "seller-a", 3000)
    order = await refunds.pay_order("buyer-1", [line])
    request = (await refunds.ask(order, line.line_id, refunds.consumer("buyer-1"))).json()
    decided = await refunds.client.post(f"/refund-requests/{request['id']}/approve", json={},
                                        headers=refunds.seller("seller-a"))
    assert decided.status_code == 200, decided.text
    return str(request["id"])


async def test_r3_without_its_own_key_refunds_cannot_ask_payments_and_writes_nothing(
        refunds: Refunds, smtp: tuple[Mailbox, int]) -> None:
    request_id = await approved(refunds)
    before = await refunds.counts(RefundRequest, RequestTransition)
    response = await refunds.client.post(f"/refund-requests/{request_id}/refund", json={},
                                         headers=refunds.seller("seller-a"))
    assert response.status_code == 503 and "REFUNDS_SERVICE_PRIVATE_KEY" in response.json()["detail"]
    assert await refunds.counts(RefundRequest, RequestTransition) == before
    view = await refunds.client.get(f"/refund-requests/{request_id}", headers=refunds.seller("seller-a"))
    assert view.json()["status"] == "approved"


async def test_r3_with_its_key_it_calls_payments_and_reports_payments_unreachable(
        database_url: str, nats_url: str, identity_keys: tuple[str, str], smtp: tuple[Mailbox, int]) -> None:
    private, _ = generate_keypair()
    async with running_refunds(database_url, nats_url, identity_keys, smtp[1], service_private_key=private) as refunds:
        request_id = await approved(refunds)
        response = await refunds.client.post(f"/refund-requests/{request_id}/refund", json={},
                                             headers=refunds.owner())
        assert response.status_code == 503 and "payments service could not be reached" in response.json()["detail"]
        view = await refunds.client.get(f"/refund-requests/{request_id}", headers=refunds.owner())
        assert view.json()["status"] == "approved"

"""The services refunds asks synchronously, as one per-process resource: orders (is this the guest's
order token? R2), payments (create the Stripe refund of an approved request, R3) and the gateway
(registered users' email addresses, asked by the mail worker when it sends; decision 0602).

Payments is asked as the refunds service itself (decision 0201: a token signed with refunds' own key,
``REFUNDS_SERVICE_PRIVATE_KEY``), never with the user's token: the decision (R4) is made here, and
the operator's bulk refund or an escalation may have no user behind the call at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homecraft_shared.errors import Conflict, NotFound, Problem
from homecraft_shared.http_client import ServiceClient, ServiceUnavailable
from homecraft_shared.identity import ServiceSigner


@dataclass
class PeerServices:
    orders: ServiceClient
    payments: ServiceClient
    gateway: ServiceClient
    signer: ServiceSigner | None = None

    async def guest_token_opens(self, order_id: str, token: str) -> bool:
        """Whether orders accepts ``token`` as the guest token of ``order_id`` (it compares in constant time)."""
        try:
            response = await self.orders.get(f"/orders/{order_id}", params={"t": token})
        except ServiceUnavailable as exc:
            raise Problem("The orders service could not be reached to check the order link; try again shortly.",
                          status=503, title="Service unavailable") from exc
        return response.status_code == 200

    async def create_stripe_refund(self, *, request_id: str, order_id: str, line_id: str, amount_cents: int) -> dict[str, Any]:
        """Ask payments for the Stripe refund (idempotent per request there and at Stripe, so retried safely)."""
        if self.signer is None:
            raise Problem("The refunds service has no key of its own (REFUNDS_SERVICE_PRIVATE_KEY), so it cannot ask "
                          "payments for the refund; nothing was refunded.", status=503, title="Service unavailable")
        body = {"refund_request_id": request_id, "order_id": order_id, "line_ids": [line_id], "amount_cents": amount_cents}
        try:
            response = await self.payments.post("/refunds", json=body, headers=self.signer.authorization(),
                                                idempotent=True)
        except ServiceUnavailable as exc:
            raise Problem("The payments service could not be reached; the refund was not made. Try again shortly.",
                          status=503, title="Service unavailable") from exc
        if response.status_code in (200, 201):
            result: dict[str, Any] = response.json()
            return result
        detail = _detail(response.json() if response.headers.get("content-type", "").endswith("json") else {})
        if response.status_code == 404:
            raise NotFound(f"Payments does not know this paid order yet: {detail}")
        if response.status_code in (403, 409):
            raise Conflict(f"Payments refused the refund: {detail}")
        raise Problem(f"Payments could not make the refund ({response.status_code}): {detail}", status=502,
                      title="Bad gateway")

    async def aclose(self) -> None:
        await self.orders.aclose()
        await self.payments.aclose()
        await self.gateway.aclose()


def _detail(body: dict[str, Any]) -> str:
    return str(body.get("detail") or "no detail")

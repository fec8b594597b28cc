from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status

from homecraft_shared.dependencies import DbSession, OptionalIdentity, runtime_of
from homecraft_shared.openapi import problems
from orders.placing import service
from orders.placing.schemas import CheckoutOut, OrderOut, PlaceOrder
from orders.web import Catalog, GuestToken, OrderId, PlacingParts, Settings, Signer

router = APIRouter(prefix="/orders", tags=["orders"])

RequestKey = Annotated[str, Header(alias="Idempotency-Key", min_length=8, max_length=200,
                                   description="The client's key for this placement: a repeat returns the same order.")]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderOut,
             summary="Place an order from cart lines (O1, O2, K2)", responses=problems(409, 503))
async def place_order(body: PlaceOrder, request_key: RequestKey, identity: OptionalIdentity, request: Request) -> Response:
    # The placing parts straight from the runtime, not as a dependency: one dependency level less to solve
    # on every placement (decision 0206).
    order, created = await service.place(runtime_of(request).resources.get(PlacingParts), identity, body, request_key)
    # Serialized once, from the values just written (no validate-then-serialize pass, decision 0205); a
    # repeat of the same request answers 200 with the order it placed.
    return Response(order.model_dump_json(), status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
                    media_type="application/json")


@router.get("/{order_id}", summary="An order: its buyer, the guest token holder (?t=) or an owner (O1, O8)",
            responses=problems(404))
async def get_order(order_id: OrderId, session: DbSession, identity: OptionalIdentity, t: GuestToken = None) -> OrderOut:
    return await service.view(session, identity, t, order_id)


@router.post("/{order_id}/cancel", summary="Cancel a pending order (O3)", responses=problems(404, 409))
async def cancel_order(order_id: OrderId, session: DbSession, identity: OptionalIdentity, t: GuestToken = None) -> OrderOut:
    return service.to_out(await service.cancel(session, identity, t, order_id))


@router.post("/{order_id}/checkout", summary="Check out: re-checks (O5); a free order is paid at once (O3)",
             responses=problems(404, 409, 503))
async def checkout(order_id: OrderId, session: DbSession, identity: OptionalIdentity, catalog: Catalog, settings: Settings,
                   signer: Signer, t: GuestToken = None) -> CheckoutOut:
    order, payment_required = await service.checkout(session, catalog, settings, signer, identity, t, order_id)
    return service.checkout_out(order, payment_required)

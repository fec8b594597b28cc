"""The operator's adjustments of seller balances (P6, A3): owners only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from homecraft_shared.dependencies import DbSession, OwnerIdentity
from homecraft_shared.inputs import Paging, QueryText
from homecraft_shared.openapi import problems
from payments.adjustments import service
from payments.adjustments.schemas import AdjustmentCreate, AdjustmentOut, AdjustmentPage
from payments.ledger import repository as ledger

router = APIRouter(prefix="/operator/adjustments", tags=["operator"], responses=problems(401, 403))

ClientKey = Annotated[str, Header(alias="Idempotency-Key", min_length=8, max_length=200, pattern=r"^[\x21-\x7e]+$",
                                  description="The operator's key for this adjustment: a repeat returns the same one.")]


@router.post("", status_code=status.HTTP_201_CREATED, responses=problems(409, 422),
             summary="Add a signed adjustment to a seller's balance, with a reason (owners; once per Idempotency-Key)")
async def add_adjustment(body: AdjustmentCreate, client_key: ClientKey, session: DbSession, identity: OwnerIdentity,
                         response: Response) -> AdjustmentOut:
    row, created = await service.add(session, identity, body, client_key)
    if not created:
        response.status_code = status.HTTP_200_OK
    return AdjustmentOut.of(row, await ledger.balance(session, row.seller_id))


@router.get("", summary="Adjustments, newest first, optionally of one seller (owners)")
async def list_adjustments(
    session: DbSession, _: OwnerIdentity, page: Paging,
    seller_id: Annotated[QueryText | None, Query(max_length=64)] = None,
) -> AdjustmentPage:
    rows, total = await service.listing(session, seller_id, page)
    return AdjustmentPage(items=[AdjustmentOut.of(row, await ledger.balance(session, row.seller_id)) for row in rows],
                          total=total, page=page.page, page_size=page.page_size)

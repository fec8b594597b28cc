"""The operator console's reconciliation with Stripe."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from homecraft_shared.dependencies import DbSession, OwnerIdentity
from payments.models import OperatorAction, ReconciliationRun
from payments.reconciliation import service

router = APIRouter(prefix="/operator/reconciliation", tags=["operator"])


class RunOut(BaseModel):
    id: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    clean: bool
    error: str | None
    differences: list[dict[str, Any]]


class ReconciliationOut(BaseModel):
    last_run: RunOut | None
    last_clean_at: dt.datetime | None


def run_out(row: ReconciliationRun) -> RunOut:
    return RunOut(id=row.id, started_at=row.started_at, finished_at=row.finished_at, clean=row.clean, error=row.error,
                  differences=json.loads(row.differences))


@router.get("", summary="The last reconciliation run's differences and the time of the last clean run (owners)")
async def reconciliation(session: DbSession, _: OwnerIdentity) -> ReconciliationOut:
    last, clean = await service.latest(session)
    return ReconciliationOut(last_run=run_out(last) if last else None, last_clean_at=clean.finished_at if clean else None)


@router.post("/runs", summary="Reconcile the ledger with Stripe now (owners); recorded as an operator action")
async def run_now(request: Request, session: DbSession, identity: OwnerIdentity) -> RunOut:
    runtime = request.app.state.runtime
    row = await service.run(runtime.sessionmaker, runtime.state["deps"])
    session.add(OperatorAction(actor_id=identity.user_id, actor_name=identity.username, action="reconciliation_run",
                               target=str(row.id), detail="clean" if row.clean else f"{len(json.loads(row.differences))} "
                               f"differences{'; error: ' + row.error if row.error else ''}"))
    return run_out(row)

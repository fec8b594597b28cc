"""The operator console's reconciliation with Stripe."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from homecraft_shared.dependencies import DbSession, OwnerIdentity, runtime_of, settings_of
from homecraft_shared.openapi import problems
from payments.models import OperatorAction, ReconciliationRun
from payments.reconciliation import job, lease, service
from payments.settings import PaymentsSettings

Settings = Annotated[PaymentsSettings, Depends(settings_of(PaymentsSettings))]

router = APIRouter(prefix="/operator/reconciliation", tags=["operator"], responses=problems(401, 403))


class RunOut(BaseModel):
    id: int
    trigger: str  # schedule | operator
    started_at: dt.datetime
    finished_at: dt.datetime | None
    clean: bool
    error: str | None
    differences: list[dict[str, Any]]


class ReconciliationOut(BaseModel):
    last_run: RunOut | None
    last_clean_at: dt.datetime | None
    scheduled_every_seconds: float | None  # None: only on demand
    running_since: dt.datetime | None  # a run in progress on some replica


def run_out(row: ReconciliationRun) -> RunOut:
    return RunOut(id=row.id, trigger=row.trigger, started_at=row.started_at, finished_at=row.finished_at, clean=row.clean, error=row.error,
                  differences=json.loads(row.differences))


@router.get("", summary="The last reconciliation run's differences and the time of the last clean run (owners)")
async def reconciliation(session: DbSession, _: OwnerIdentity, settings: Settings) -> ReconciliationOut:
    last, clean = await service.latest(session)
    held = await lease.current(session, job.LEASE)
    return ReconciliationOut(
        last_run=run_out(last) if last else None, last_clean_at=clean.finished_at if clean else None,
        scheduled_every_seconds=settings.reconciliation_interval_seconds if settings.reconciliation_scheduled else None,
        running_since=held.acquired_at if held else None)


@router.post("/runs", responses=problems(409),
             summary="Reconcile the ledger with Stripe now (owners); recorded as an operator action; 409 while a "
                     "run is in progress")
async def run_now(request: Request, session: DbSession, identity: OwnerIdentity) -> RunOut:
    runtime = runtime_of(request)
    row = await job.run_now(runtime.sessionmaker, runtime.state["deps"], lease.holder_id(f"operator:{identity.user_id}"))
    session.add(OperatorAction(actor_id=identity.user_id, actor_name=identity.username, action="reconciliation_run",
                               target=str(row.id), detail="clean" if row.clean else f"{len(json.loads(row.differences))} "
                               f"differences{'; error: ' + row.error if row.error else ''}"))
    return run_out(row)

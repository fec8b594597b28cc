from __future__ import annotations

from fastapi import APIRouter

from homecraft_shared.dependencies import DbSession, OwnerIdentity
from homecraft_shared.openapi import problems
from orders.siteconfig import service
from orders.siteconfig.schemas import SiteConfigOut, SiteConfigUpdate
from orders.web import ConfigCache

router = APIRouter(prefix="/site-config", tags=["site configuration"])


@router.get("", summary="The site configuration in force (S1)")
async def get_config(session: DbSession) -> SiteConfigOut:
    return SiteConfigOut.model_validate(await service.load(session))


@router.patch("", summary="Edit the site configuration (owners; S1)", responses=problems(403))
async def update_config(body: SiteConfigUpdate, session: DbSession, owner: OwnerIdentity, cache: ConfigCache) -> SiteConfigOut:
    return SiteConfigOut.model_validate(await service.update(session, cache, owner, body))

"""FastAPI dependencies of the engagement service: its settings, the ingestion buffer, callers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from engagement.ingestion.buffer import IngestionBuffer
from engagement.settings import EngagementSettings
from homecraft_shared.dependencies import CurrentIdentity
from homecraft_shared.errors import Forbidden
from homecraft_shared.identity import Identity

SERVICE_ROLE = "service"


def get_settings(request: Request) -> EngagementSettings:
    return request.app.state.runtime.settings


def get_buffer(request: Request) -> IngestionBuffer:
    return request.app.state.runtime.state["ingestion_buffer"]


async def require_service(identity: CurrentIdentity) -> Identity:
    if SERVICE_ROLE not in identity.roles and not identity.is_owner:
        raise Forbidden("This internal endpoint is for other services (role 'service') and marketplace owners only.")
    return identity


Settings = Annotated[EngagementSettings, Depends(get_settings)]
Buffer = Annotated[IngestionBuffer, Depends(get_buffer)]
ServiceCaller = Annotated[Identity, Depends(require_service)]

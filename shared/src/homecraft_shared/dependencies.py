"""FastAPI dependencies every service's endpoints use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.identity import Identity, optional_identity, require_identity, require_owner


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in request.app.state.runtime.session():
        yield session


# scope="function": the transaction commits when the endpoint returns, before the response is
# sent, so a failed commit is reported to the caller instead of being lost after a 200.
DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
CurrentIdentity = Annotated[Identity, Depends(require_identity)]
OptionalIdentity = Annotated[Identity | None, Depends(optional_identity)]
OwnerIdentity = Annotated[Identity, Depends(require_owner)]

"""FastAPI dependencies every service's endpoints use: the request's transaction, the caller's
identity (any, optional, owner, another service), the service's typed settings and its resources."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.errors import Forbidden
from homecraft_shared.identity import Identity, optional_identity, require_identity, require_owner
from homecraft_shared.runtime import ServiceRuntime
from homecraft_shared.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)
R = TypeVar("R")

SERVICE_ROLE = "service"


def runtime_of(request: Request) -> ServiceRuntime:
    """The app's runtime, typed (``request.app.state`` holds anything)."""
    runtime = request.app.state.runtime
    if not isinstance(runtime, ServiceRuntime):
        raise RuntimeError("the app has no ServiceRuntime; build it with homecraft_shared.app.create_service_app")
    return runtime


# The dependencies below are coroutines although they never wait: FastAPI runs a plain function
# dependency in its thread pool, which costs a thread hand-off on every request.


def settings_of(kind: type[S]) -> Callable[[Request], Awaitable[S]]:
    """A dependency giving the service's own settings class: ``Annotated[CatalogSettings, Depends(settings_of(CatalogSettings))]``."""

    async def dependency(request: Request) -> S:
        settings = runtime_of(request).settings
        if not isinstance(settings, kind):
            raise RuntimeError(f"the runtime's settings are {type(settings).__name__}, not {kind.__name__}")
        return settings

    return dependency


def resource(kind: type[R]) -> Callable[[Request], Awaitable[R]]:
    """A dependency giving one of the runtime's resources: ``Annotated[MediaStorage, Depends(resource(MediaStorage))]``."""

    async def dependency(request: Request) -> R:
        return runtime_of(request).resources.get(kind)

    return dependency


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in runtime_of(request).session():
        yield session


async def require_service(identity: Annotated[Identity, Depends(require_identity)]) -> Identity:
    """Another service (a token with role ``service``) or a marketplace owner, for ``/internal`` calls."""
    if SERVICE_ROLE not in identity.roles and not identity.is_owner:
        raise Forbidden("This internal endpoint is for other services (role 'service') and marketplace owners only.")
    return identity


# scope="function": the transaction commits when the endpoint returns, before the response is
# sent, so a failed commit is reported to the caller instead of being lost after a 200.
DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
CurrentIdentity = Annotated[Identity, Depends(require_identity)]
OptionalIdentity = Annotated[Identity | None, Depends(optional_identity)]
OwnerIdentity = Annotated[Identity, Depends(require_owner)]
ServiceIdentity = Annotated[Identity, Depends(require_service)]

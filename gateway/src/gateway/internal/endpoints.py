"""The gateway's internal API, for other services, never for browsers (decision 0602).

- ``GET /internal/users/{user_id}/contact``: a registered user's email address and display name, so a
  service's mail worker can address lifecycle emails to a user id (the addresses live with the
  accounts, here, and are in no event). Only a SERVICE identity token (decision 0201) whose service
  this gateway is configured to trust (``GATEWAY_TRUSTED_SERVICE_KEYS``) opens it: a user's token,
  even an owner's, is a 403, no token a 401. An unknown or deactivated account is a 404.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from gateway.models import User
from homecraft_shared.dependencies import CurrentIdentity, DbSession
from homecraft_shared.errors import Forbidden, NotFound
from homecraft_shared.openapi import problems

USER_ID_MAX = 64  # gateway.models.User.id

router = APIRouter(prefix="/internal", tags=["internal"], responses=problems(401, 403))


class UserContact(BaseModel):
    user_id: str
    # None when the account has no email address (it is optional at registration, I2).
    email: str | None
    display_name: str


@router.get("/users/{user_id}/contact", summary="A user's email address and display name (trusted services only)",
            responses=problems(404))
async def user_contact(user_id: str, session: DbSession, caller: CurrentIdentity) -> UserContact:
    if caller.service is None:
        raise Forbidden("This internal endpoint answers other services only: call it with your service's own "
                        "identity token (decision 0201), not a user's.")
    # An id longer than the column names nobody: a 404 like any unknown id (not a validation error).
    user = await session.get(User, user_id) if len(user_id) <= USER_ID_MAX else None
    if user is None or not user.is_active:
        raise NotFound(f"No active account has the id {user_id!r}.")
    full_name = f"{user.first_name} {user.last_name}".strip()
    return UserContact(user_id=user.id, email=user.email or None, display_name=full_name or user.username)

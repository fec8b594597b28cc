"""Server-side sessions (I3): the cookie holds a random key, the row (keyed by its SHA-256) holds the
user, the cart and the CSRF token. Rotated at sign-in, deleted at sign-out (revocable).

CSRF (synchronizer token): every state-changing form carries ``csrf_token``, compared in constant
time with the token kept in the session row; a POST without it, or with another, is refused (403).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import User, WebSession
from gateway.settings import GatewaySettings
from homecraft_shared.db import utcnow
from homecraft_shared.dependencies import DbSession, settings_of
from homecraft_shared.identity import Identity, IdentitySigner

COOKIE = "hc_session"
LIFETIME = dt.timedelta(days=14)

Settings = Annotated[GatewaySettings, Depends(settings_of(GatewaySettings))]


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class CsrfRefused(Exception):
    """A state-changing form without the session's CSRF token."""


@dataclass
class PageContext:
    """The browser's session for one request: who is signed in, their cart, their CSRF token."""

    request: Request
    db: AsyncSession
    settings: GatewaySettings
    row: WebSession | None
    user: User | None
    data: dict[str, Any] = field(default_factory=dict)
    new_key: str | None = None  # set when a cookie must be (re)issued
    dirty: bool = False

    # --- session data -------------------------------------------------------------------------
    @property
    def csrf_token(self) -> str:
        token = self.data.get("csrf")
        if not token:
            token = secrets.token_urlsafe(32)
            self.set("csrf", token)
        return str(token)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.dirty = True

    def flash(self, message: str, kind: str = "info") -> None:
        self.set("flash", [*self.data.get("flash", []), {"kind": kind, "text": message}])

    def take_flashes(self) -> list[dict[str, str]]:
        messages = list(self.data.get("flash", []))
        if messages:
            self.set("flash", [])
        return messages

    @property
    def cart(self) -> dict[str, int]:
        return dict(self.data.get("cart", {}))

    @property
    def cart_count(self) -> int:
        """K1: the number of distinct lines."""
        return len(self.data.get("cart", {}))

    def check_csrf(self, submitted: object) -> None:
        expected = self.data.get("csrf")
        if not expected or not isinstance(submitted, str) or not secrets.compare_digest(str(expected), submitted):
            raise CsrfRefused()

    @property
    def visitor(self) -> str | None:
        """The visitor key for engagement (E1): the session row's key hash, never the cookie's key."""
        return self.row.key_hash if self.row is not None else None

    # --- identity -----------------------------------------------------------------------------
    @property
    def identity(self) -> Identity | None:
        if self.user is None:
            return None
        roles = {"buyer"}
        if self.user.is_seller:
            roles.add("seller")
        if self.user.is_owner:
            roles.add("owner")
        return Identity(user_id=self.user.id, username=self.user.username, roles=frozenset(roles))

    def auth_headers(self) -> dict[str, str]:
        """The signed identity token for calls made on this user's behalf (decision 0003)."""
        identity = self.identity
        key = self.settings.identity_private_key
        if identity is None or key is None:
            return {}
        return {"Authorization": f"Bearer {IdentitySigner(key.get_secret_value()).sign(identity)}"}

    # --- sign-in / out ------------------------------------------------------------------------
    async def sign_in(self, user: User) -> None:
        """Rotate the session key at sign-in (no fixation); the cart comes along."""
        carried = {k: v for k, v in self.data.items() if k in ("cart", "flash")}
        if self.row is not None:
            await self.db.delete(self.row)
            await self.db.flush()
        self.row, self.user, self.data = None, user, carried
        self.set("csrf", secrets.token_urlsafe(32))

    async def sign_out(self) -> None:
        if self.row is not None:
            await self.db.delete(self.row)
            await self.db.flush()
        self.row, self.user, self.data = None, None, {}
        self.dirty = True

    # --- persistence --------------------------------------------------------------------------
    async def save(self) -> None:
        if not self.dirty:
            return
        if self.row is None:
            self.new_key = secrets.token_urlsafe(32)
            self.row = WebSession(key_hash=_hash(self.new_key), user_id=self.user.id if self.user else None,
                                  data=dict(self.data), expires_at=utcnow() + LIFETIME)
            self.db.add(self.row)
        else:
            self.row.data = dict(self.data)
        await self.db.flush()
        self.dirty = False

    def set_cookie(self, response: Response) -> None:
        if self.new_key is None:
            return
        secure = self.request.url.scheme == "https" or self.settings.environment != "local"
        response.set_cookie(COOKIE, self.new_key, max_age=int(LIFETIME.total_seconds()), httponly=True,
                            secure=secure, samesite="lax", path="/")

    async def finish(self, response: Response) -> Response:
        await self.save()
        self.set_cookie(response)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    async def redirect(self, url: str) -> Response:
        return await self.finish(RedirectResponse(url, status_code=303))

    async def html(self, body: str, status: int = 200) -> Response:
        return await self.finish(HTMLResponse(body, status_code=status))


async def page_context(request: Request, db: DbSession, settings: Settings) -> PageContext:
    key = request.cookies.get(COOKIE)
    row = user = None
    if key:
        row = await db.get(WebSession, _hash(key))
        if row is not None and row.expires_at < utcnow():
            await db.delete(row)
            row = None
        if row is not None and row.user_id is not None:
            user = await db.get(User, row.user_id)
            if user is None or not user.is_active:
                await db.delete(row)
                row, user = None, None
    return PageContext(request=request, db=db, settings=settings, row=row, user=user,
                       data=dict(row.data) if row is not None else {})


Ctx = Annotated[PageContext, Depends(page_context)]

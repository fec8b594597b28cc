"""Server-side sessions (I3): the cookie holds a random key, the row (keyed by its SHA-256) holds the
user, the cart and the CSRF token. Rotated at sign-in, deleted at sign-out (revocable).

CSRF: WTForms' ``SessionCSRF`` (synchronizer tokens bound to the server-side session): the row keeps a
random value, every state-changing form carries ``csrf_token`` = an HMAC of that value and an expiry
under the gateway's secret; a POST without it, with another session's, a forged or an expired one is
refused (403 page). Decision 0701.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from sqlalchemy import CursorResult, delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import ImmutableMultiDict
from wtforms import Form
from wtforms.csrf.core import CSRFTokenField
from wtforms.csrf.session import SessionCSRF

from gateway.models import User, WebSession
from gateway.settings import GatewaySettings
from homecraft_shared.background import run_passes
from homecraft_shared.db import utcnow
from homecraft_shared.dependencies import DbSession, settings_of
from homecraft_shared.identity import Identity, IdentitySigner

logger = logging.getLogger(__name__)

COOKIE = "hc_session"
LIFETIME = dt.timedelta(days=14)
# Read-your-writes (decision 0703): after a user posts, deletes or reports something in reviews or Q&A,
# their session holds this wall-clock time (epoch seconds; the row is shared by every replica) until
# which their product pages read engagement fresh instead of through the shared caches. It must outlast
# what those caches may show: a kept page (fresh + stale, 10 s) built from a read (fresh + stale, 10 s,
# plus one call).
FRESH_READS_UNTIL = "fresh_reads_until"
READ_YOUR_WRITES_SECONDS = 30.0

Settings = Annotated[GatewaySettings, Depends(settings_of(GatewaySettings))]


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


CSRF_TIME_LIMIT = dt.timedelta(hours=12)  # a form left open longer asks to be reloaded
_LOCAL_CSRF_SECRET = secrets.token_bytes(32)  # local mode without an identity key only (one process)


class CsrfRefused(Exception):
    """A state-changing form without a valid CSRF token of this session."""


class CsrfForm(Form):
    """The CSRF part every state-changing form shares (WTForms' session-bound tokens)."""

    class Meta:
        csrf = True
        csrf_class = SessionCSRF
        csrf_field_name = "csrf_token"
        csrf_time_limit = CSRF_TIME_LIMIT


def csrf_secret(settings: GatewaySettings) -> bytes:
    """The HMAC key of the CSRF tokens: derived from the identity private key (required outside local
    mode, the same on every replica), so there is no second secret to provision."""
    key = settings.identity_private_key
    if key is None:
        return _LOCAL_CSRF_SECRET
    return hmac.new(key.get_secret_value().encode(), b"homecraft-gateway csrf v1", hashlib.sha256).digest()


def csrf_token_for(data: dict[str, Any], settings: GatewaySettings) -> str:
    """A form's CSRF token for the session whose data is ``data`` (WTForms adds the session's random
    value to ``data`` when it has none yet: the caller then saves the row)."""
    field = CsrfForm(meta={"csrf_context": data, "csrf_secret": csrf_secret(settings)})["csrf_token"]
    assert isinstance(field, CSRFTokenField)
    return str(field.current_token)


class _LazyCsrfToken:
    """The token as a template value, made only when a template prints it: a page without a form
    creates no session row."""

    def __init__(self, ctx: PageContext) -> None:
        self._ctx = ctx

    def __html__(self) -> Markup:
        return escape(self._ctx.csrf_token)

    def __str__(self) -> str:
        return self._ctx.csrf_token


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
    _csrf: str | None = None

    def _csrf_meta(self) -> dict[str, Any]:
        return {"csrf_context": self.data, "csrf_secret": csrf_secret(self.settings)}

    @property
    def csrf_token(self) -> str:
        """This session's CSRF token for a form (WTForms keeps its random value in the session data)."""
        if self._csrf is None:
            fresh = "csrf" not in self.data
            self._csrf = csrf_token_for(self.data, self.settings)
            if fresh:
                self.dirty = True
        return self._csrf

    @property
    def lazy_csrf_token(self) -> _LazyCsrfToken:
        return _LazyCsrfToken(self)

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

    def note_own_write(self) -> None:
        """This user just changed reviews or Q&A: read them fresh for ``READ_YOUR_WRITES_SECONDS``."""
        self.set(FRESH_READS_UNTIL, time.time() + READ_YOUR_WRITES_SECONDS)

    @property
    def reads_fresh(self) -> bool:
        """Whether this visitor's pages read engagement fresh (read-your-writes, decision 0703)."""
        until = self.data.get(FRESH_READS_UNTIL)
        return isinstance(until, int | float) and until > time.time()

    def check_csrf(self, submitted: object) -> None:
        if "csrf" not in self.data:  # no session, or one that never showed a form
            raise CsrfRefused("This session has no form open.")
        formdata = ImmutableMultiDict([("csrf_token", submitted)] if isinstance(submitted, str) else [])
        form = CsrfForm(formdata, meta=self._csrf_meta())
        if not form.validate():
            raise CsrfRefused(" ".join(str(e) for e in form["csrf_token"].errors))

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
        await delete_expired_sessions(self.db)
        if self.row is not None:
            await self.db.delete(self.row)
            await self.db.flush()
        self.row, self.user, self.data = None, user, carried  # a new CSRF value comes with the new row
        self._csrf = None
        self.dirty = True

    async def sign_out(self) -> None:
        if self.row is not None:
            await self.db.delete(self.row)
            await self.db.flush()
        self.row, self.user, self.data = None, None, {}
        self._csrf = None
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

    async def html(self, body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return await self.finish(HTMLResponse(body, status_code=status, headers=headers))


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
        # End the read's transaction now: the database connection goes back to the pool while the
        # page calls the services and renders (it was held to the end of the request, so 8 browsers
        # at once opened and closed overflow connections, decision 0701). The row stays loaded
        # (expire_on_commit=False); a later change to it (cart, sign-in, CSRF value) runs in the
        # request's next transaction, which the request commits at its end as before. Nothing is
        # lost: the read took no lock, and the session is still read fresh on every request.
        await db.commit()
    return PageContext(request=request, db=db, settings=settings, row=row, user=user,
                       data=dict(row.data) if row is not None else {})


Ctx = Annotated[PageContext, Depends(page_context)]


async def delete_expired_sessions(db: AsyncSession) -> int:
    """Delete every expired session row (the caller's transaction); how many went."""
    result = await db.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))
    return int(cast("CursorResult[Any]", result).rowcount or 0)


async def sweep_expired_sessions(sessionmaker: async_sessionmaker[AsyncSession], every_seconds: float) -> None:
    """The background sweep: expired rows are deleted now and then every ``every_seconds``; a failed
    pass is logged and tried next time."""

    async def one_pass() -> int:
        async with sessionmaker() as db, db.begin():
            deleted = await delete_expired_sessions(db)
        if deleted:
            logger.info("expired sessions deleted", extra={"count": deleted})
        return deleted

    await run_passes(one_pass, poll_seconds=every_seconds, logger=logger,
                     failure_message="the expired-session sweep failed")

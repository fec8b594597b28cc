"""The page cache (decisions 0702, 0703).

Home, browse, category and product pages are the same for every visitor except for a few personal
parts: the header's account block (cart count, who is signed in, the sign-out form), the messages
waiting, the CSRF token of the page's forms and, on a product page, the Q&A section's forms (who may
delete, report, reply, ask). So such a page is rendered once for nobody, as a ``Shell`` with those
parts as slots (``gateway.templating``), and kept ``fresh`` seconds with the anonymous visitor's copy
made from it (a per-process random placeholder where the token goes). The ASGI middleware below
answers kept pages before FastAPI's routing, dependencies and template:

- no session cookie: a page without a form is answered as it is (``Cache-Control: public, max-age``
  with ``Vary: Cookie``, so an ingress or CDN may keep it too); a page with a form is not served
  from here (rendering it makes the visitor's session, as before);
- a session cookie: the row and its user are read (one statement, every time: sessions stay
  revocable at once) and the page is served if the row is live with no message waiting, and either
  signed out (the anonymous copy with their token; with a cart, the shell filled with its count) or
  signed in as an active user with a CSRF value already, on a page meant for signed-in users too
  (not home: theirs is the dashboard), and not a product page within their read-your-writes window
  (``sessions.READ_YOUR_WRITES_SECONDS`` after they changed reviews or Q&A): the shell filled for them
  (``no-store``). Nothing personal is ever kept: the shell is rendered with no visitor at all.

Everyone else (a message waiting, an expired or unknown cookie, a deactivated user) goes the usual
way, and so does every other address and method. A hit of a product page records the view (and the
card click) for engagement exactly as the page does (E1).

Staleness: an entry is ``fresh`` seconds old at most when served, or, once older, up to ``fresh +
stale`` while ONE request re-renders it (the others keep getting the old page meanwhile; a re-render
that did not store lets the next request try). Pages are rendered from the read cache
(``homecraft_shared.caching.RefreshingCache``), so what a page shows is at most page age + read age
behind the services.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import aiosqlite
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.engagement import EngagementRecorder
from gateway.models import User, WebSession
from gateway.sessions import COOKIE, FRESH_READS_UNTIL, csrf_token_for
from gateway.settings import GatewaySettings
from gateway.templating import PLACEHOLDER, Shell
from homecraft_shared.db import utcnow
from homecraft_shared.runtime import ServiceRuntime

logger = logging.getLogger(__name__)

_PLACEHOLDER = PLACEHOLDER.encode()
MAX_ENTRIES = 2048  # addresses kept (a query string is part of the address): the oldest go first
TOKEN_REUSE_SECONDS = 60.0  # a session's form token is made again after this long (it lives 12 hours)
MAX_TOKENS = 10_000

Key = tuple[str, bytes]


def cacheable_path(path: str) -> bool:
    """The anonymous storefront pages that may be kept: home, browse and search, categories, products."""
    return path == "/" or path.startswith(("/browse", "/categories/", "/products/"))


@dataclass(slots=True)
class PageEntry:
    body: bytes  # the page as an anonymous visitor with an empty cart sees it, PLACEHOLDER for the CSRF token
    needs_token: bool
    product_id: str | None  # a product page: a hit records its view (E1)
    stored_at: float
    shell: Shell  # the page for nobody, its personal parts as slots: filled for every other visitor (0703)
    signed_in_too: bool  # whether signed-in users may be served it (not home: theirs is the dashboard, C6)


@dataclass
class PageStats:
    hits: int = 0
    stores: int = 0
    refreshes: int = 0


class PageCache:
    def __init__(self, fresh_seconds: float, stale_seconds: float | None = None, *, max_entries: int = MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.fresh_seconds = fresh_seconds
        self.stale_seconds = fresh_seconds if stale_seconds is None else stale_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[Key, PageEntry] = {}
        self._refreshing: dict[Key, float] = {}  # key -> when the one re-render started
        self.stats = PageStats()

    @property
    def enabled(self) -> bool:
        return self.fresh_seconds > 0

    def peek(self, key: Key) -> PageEntry | None:
        """The entry if it may still be served (fresh or within its stale window), without deciding."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() - entry.stored_at >= self.fresh_seconds + self.stale_seconds:
            del self._entries[key]
            return None
        return entry

    def lookup(self, key: Key) -> PageEntry | None:
        """The entry to serve, or None: then this request renders the page (a miss, or the one
        re-render of a stale entry; while it runs the others are answered the stale entry)."""
        entry = self.peek(key)
        if entry is None:
            return None
        now = self._clock()
        if now - entry.stored_at < self.fresh_seconds:
            return entry
        started = self._refreshing.get(key)
        if started is not None and now - started < self.stale_seconds:
            return entry
        self._refreshing[key] = now
        self.stats.refreshes += 1
        return None

    def store(self, key: Key, shell: Shell, product_id: str | None, signed_in_too: bool = True) -> bool:
        """Keep a page rendered for nobody; whether an anonymous visitor's copy has a form."""
        data = shell.fill(None, 0, lambda: PLACEHOLDER, []).encode()
        needs_token = _PLACEHOLDER in data
        if not self.enabled:
            return needs_token
        self._refreshing.pop(key, None)
        self._entries.pop(key, None)
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = PageEntry(data, needs_token, product_id, self._clock(), shell, signed_in_too)
        self.stats.stores += 1
        return needs_token

    def forget_path(self, path: str) -> None:
        """Drop every kept page of ``path`` (whatever its query string): a write this process took
        changed what it shows (decision 0703)."""
        for key in [key for key in self._entries if key[0] == path]:
            del self._entries[key]
            self._refreshing.pop(key, None)

    def end_refresh(self, key: Key) -> None:
        self._refreshing.pop(key, None)

    def invalidate(self) -> None:
        self._entries.clear()
        self._refreshing.clear()

    def __len__(self) -> int:
        return len(self._entries)


def key_of(scope: Scope) -> Key:
    return scope["path"], scope.get("query_string", b"")


class SessionState(NamedTuple):
    """A session row and its user, as the page cache needs them."""

    user_id: str | None
    data: dict[str, Any]
    expires_at: dt.datetime
    username: str | None  # None: no user row (signed out, or the user is gone)
    active: bool


_SESSION_STATE = (
    select(WebSession.user_id, WebSession.data, WebSession.expires_at, User.username, User.is_active)
    .select_from(WebSession).outerjoin(User, User.id == WebSession.user_id)
    .where(WebSession.key_hash == bindparam("key_hash")))
_SESSION_STATE_SQLITE = ("SELECT s.user_id, s.data, s.expires_at, u.username, u.is_active FROM web_sessions AS s "
                         "LEFT JOIN users AS u ON u.id = s.user_id WHERE s.key_hash = ?")


class SessionStates:
    """A session row's state and its user's name for the page cache, read from the database on EVERY
    request, in one statement (sessions stay revocable at once: nothing of a row or a user is cached;
    decision 0703).

    On SQLite (the run command, tests) through one long-lived read connection of its own, in
    autocommit (each read sees the latest commit): the engine's pooled connection costs about ten
    times the CPU for a one-row read (decision 0702's profile: ~460 vs ~40 µs). Elsewhere
    (PostgreSQL) through the service's engine and its pool, as a Core statement (no ORM objects)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        url = engine.url
        self._sqlite_path = url.database if url.get_backend_name() == "sqlite" and url.database not in (
            None, "", ":memory:") else None
        self._connection: aiosqlite.Connection | None = None
        self._opening = asyncio.Lock()

    async def read(self, key_hash: str) -> SessionState | None:
        if self._sqlite_path is None:
            async with self._engine.connect() as conn:
                row = (await conn.execute(_SESSION_STATE, {"key_hash": key_hash})).first()
            if row is None:
                return None
            return SessionState(row.user_id, row.data if isinstance(row.data, dict) else {}, row.expires_at,
                                row.username, bool(row.is_active))
        connection = self._connection or await self._open()
        rows = list(await connection.execute_fetchall(_SESSION_STATE_SQLITE, (key_hash,)))  # one trip to its thread
        if not rows:
            return None
        user_id, raw, expires, username, active = rows[0]
        data = json.loads(raw) if raw else {}
        expires_at = dt.datetime.fromisoformat(expires)
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=dt.UTC)
        return SessionState(user_id, data if isinstance(data, dict) else {}, expires_at, username, bool(active))

    async def _open(self) -> aiosqlite.Connection:
        async with self._opening:
            if self._connection is None:
                assert self._sqlite_path is not None
                connection = await aiosqlite.connect(self._sqlite_path, isolation_level=None)
                await connection.execute("PRAGMA busy_timeout=30000")
                self._connection = connection
            return self._connection

    async def aclose(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a kept page is filled for: what its slots print of the user (the header, the Q&A forms)."""

    id: str
    username: str


class PageCacheMiddleware:
    """Pure ASGI: answers kept pages before the framework (see the module's docstring)."""

    def __init__(self, app: ASGIApp, runtime: ServiceRuntime) -> None:
        self.app = app
        self.runtime = runtime
        settings = runtime.settings
        assert isinstance(settings, GatewaySettings)
        self.settings = settings
        self.max_age = f"public, max-age={int(settings.page_cache_seconds)}".encode()
        self._tokens: dict[str, tuple[float, str]] = {}  # a session's CSRF value -> (made at, its token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not cacheable_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        cache = self.runtime.resources.get(PageCache)
        key = key_of(scope)
        entry = cache.peek(key) if cache.enabled else None
        if entry is None:
            await self.app(scope, receive, send)
            return
        cookie = _session_cookie(scope)
        visitor: str | None = None
        state: SessionState | None = None
        if cookie:
            visitor = hashlib.sha256(cookie.encode()).hexdigest()
            try:
                state = await self.runtime.resources.get(SessionStates).read(visitor)
            except Exception as exc:  # the cache is a shortcut: the page's own path answers (or fails) as usual
                logger.warning("the page cache could not read a session", extra={"error": repr(exc)})
                state = None
            if state is None or not _servable(state, entry):
                await self.app(scope, receive, send)
                return
        data = state.data if state is not None else {}
        user = SignedIn(state.user_id, state.username) if (
            state is not None and state.user_id is not None and state.username is not None) else None
        entry = cache.lookup(key)
        if entry is None or (entry.needs_token and "csrf" not in data):
            try:
                await self.app(scope, receive, send)
            finally:
                cache.end_refresh(key)  # a re-render that stored nothing lets the next request try
            return
        cart_count = len(data.get("cart") or {})
        if user is None and not cart_count:  # the anonymous page, as kept (0702)
            body = entry.body
            if entry.needs_token:
                body = body.replace(_PLACEHOLDER, self._token(data["csrf"], data).encode())
        else:  # a signed-in user, or a visitor with a cart: the shell, filled for them (0703)
            body = entry.shell.fill(user, cart_count, lambda: self._token(data["csrf"], data), []).encode()
        cache.stats.hits += 1
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                   (b"x-page-cache", b"hit")]
        if cookie:
            headers.append((b"cache-control", b"no-store"))
        else:
            headers += [(b"cache-control", self.max_age), (b"vary", b"Cookie")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        if entry.product_id is not None:  # E1, as the product page records it
            recorder = self.runtime.resources.get(EngagementRecorder)
            if parse_qs(scope.get("query_string", b"").decode("latin-1")).get("via") == ["card"]:
                recorder.record("CLICK", entry.product_id, visitor)
            recorder.record("VIEW", entry.product_id, visitor)

    def _token(self, value: str, data: dict[str, Any]) -> str:
        """The session's form token (WTForms), made again at most every ``TOKEN_REUSE_SECONDS`` per
        session: a token lives 12 hours, so one made a minute ago is as good (and as bound to the session)."""
        now = time.monotonic()
        made = self._tokens.get(value)
        if made is not None and now - made[0] < TOKEN_REUSE_SECONDS:
            return made[1]
        token = csrf_token_for(data, self.settings)
        self._tokens.pop(value, None)
        while len(self._tokens) >= MAX_TOKENS:
            del self._tokens[next(iter(self._tokens))]
        self._tokens[value] = (now, token)
        return token


def _servable(state: SessionState, entry: PageEntry) -> bool:
    """Whether a kept page may be filled for this session: it is live; signed out, or signed in as an
    active user the page is for; no message waiting (showing it is a write: the page's own path does
    it); a signed-in user's forms need the session's CSRF value already; and on a product page, a user
    who just posted, deleted or reported something in its reviews or Q&A reads them fresh for
    ``READ_YOUR_WRITES_SECONDS`` (the page's own path, decision 0703)."""
    data = state.data
    if state.expires_at < utcnow() or data.get("flash"):
        return False
    if state.user_id is None:
        return True
    if state.username is None or not state.active or not entry.signed_in_too or "csrf" not in data:
        return False
    fresh_until = data.get(FRESH_READS_UNTIL)
    return entry.product_id is None or not isinstance(fresh_until, int | float) or fresh_until <= time.time()


def _session_cookie(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"cookie":
            return cookie_parser(value.decode("latin-1")).get(COOKIE) or None
    return None


def page_cache_headers(had_cookie: bool, needs_token: bool, settings: GatewaySettings) -> dict[str, str] | None:
    """A kept page answered by the page itself: public for a visitor without a session when it has no
    form (the same bytes for everyone), else the usual ``no-store``."""
    if had_cookie or needs_token or settings.page_cache_seconds <= 0:
        return None
    return {"Cache-Control": f"public, max-age={int(settings.page_cache_seconds)}", "Vary": "Cookie"}

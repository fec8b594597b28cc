"""Expired server-side sessions are deleted (I3, decision 0701): at every sign-in and by a periodic sweep."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select
from test_accounts import _app, csrf_of, register

from gateway.models import WebSession
from gateway.sessions import sweep_expired_sessions
from homecraft_shared.db import create_engine, create_sessionmaker, utcnow
from homecraft_shared.testing import serve_app


async def session_keys(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    async with create_sessionmaker(engine)() as db:
        keys = set((await db.execute(select(WebSession.key_hash))).scalars())
    await engine.dispose()
    return keys


async def add_sessions(database_url: str, **expires_in: dt.timedelta) -> None:
    engine = create_engine(database_url)
    async with create_sessionmaker(engine)() as db, db.begin():
        for key, delta in expires_in.items():
            db.add(WebSession(key_hash=key, data={}, expires_at=utcnow() + delta))
    await engine.dispose()


async def test_a_sign_in_deletes_the_expired_sessions(database_url: str, nats_url: str) -> None:
    async with serve_app(_app(database_url, nats_url)) as client:
        await register(client, "sweeper")
        await client.post("/account/signout", data={"csrf_token": csrf_of(await client.get("/"))})
        await add_sessions(database_url, old1=-dt.timedelta(seconds=1), old2=-dt.timedelta(days=3),
                           live=dt.timedelta(days=1))
        form = await client.get("/account/signin")
        signed = await client.post("/account/signin", data={
            "csrf_token": csrf_of(form), "username": "sweeper", "password": "correct horse 1"})
        assert signed.status_code == 303
        keys = await session_keys(database_url)
        assert "old1" not in keys and "old2" not in keys
        assert "live" in keys


async def test_the_periodic_sweep_deletes_expired_rows_only(database_url: str, nats_url: str) -> None:
    async with serve_app(_app(database_url, nats_url)):  # migrated
        await add_sessions(database_url, stale=-dt.timedelta(minutes=1), fresh=dt.timedelta(days=14))
        engine = create_engine(database_url)
        sweep = asyncio.create_task(sweep_expired_sessions(create_sessionmaker(engine), every_seconds=0.05))
        try:
            for _ in range(200):
                if "stale" not in await session_keys(database_url):
                    break
                await asyncio.sleep(0.05)
        finally:
            sweep.cancel()
            await asyncio.gather(sweep, return_exceptions=True)
            await engine.dispose()
        keys = await session_keys(database_url)
        assert "stale" not in keys and "fresh" in keys


async def test_a_page_holds_no_database_connection_after_reading_its_session(database_url: str, nats_url: str) -> None:
    """Decision 0701: the session row is read (fresh, on every request) and its read transaction ends at
    once, so the connection is back in the pool while the page calls the services; a later change to
    the session (a CSRF value made while rendering) is still saved in the request's own transaction."""
    from fastapi import Request

    from gateway.sessions import COOKIE, _hash, page_context
    from gateway.settings import GatewaySettings

    async with serve_app(_app(database_url, nats_url)):  # the gateway's tables, migrated at start
        pass
    await add_sessions(database_url, **{_hash("the-key"): dt.timedelta(days=1)})
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as db:
            request = Request({"type": "http", "method": "GET", "path": "/", "query_string": b"",
                               "headers": [(b"cookie", f"{COOKIE}=the-key".encode())]})
            ctx = await page_context(request, db, GatewaySettings(database_url=database_url, nats_url=nats_url))
            assert ctx.row is not None and ctx.user is None
            assert not db.in_transaction()
            assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
            assert ctx.csrf_token  # made while rendering: the session row changes
            await ctx.save()
            await db.commit()
        rows = {key: data for key, data in (await _rows(database_url))}
        assert "csrf" in rows[_hash("the-key")]
    finally:
        await engine.dispose()


async def _rows(database_url: str) -> list[tuple[str, dict[str, object]]]:
    engine = create_engine(database_url)
    async with create_sessionmaker(engine)() as db:
        rows = [(r.key_hash, dict(r.data)) for r in (await db.execute(select(WebSession))).scalars()]
    await engine.dispose()
    return rows

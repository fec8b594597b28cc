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

"""Test support shared by every package: real nats-server, real databases, identity tokens.

The pytest plugin (``homecraft_shared.testing.plugin``) is registered through the ``pytest11``
entry point, so its fixtures are available in every package's tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from homecraft_shared.identity import Identity, IdentitySigner


@contextlib.asynccontextmanager
async def serve_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's real lifespan (migrations, NATS, relay, consumers) and talk to it over ASGI."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@contextlib.asynccontextmanager
async def serve_on_port(app: Any, port: int | None = None, *, start_seconds: float = 10.0) -> AsyncIterator[str]:
    """The app under a real uvicorn on a loopback port, in this event loop (its lifespan runs), for tests
    that need real HTTP (another process calls it, keep-alive behaviour, webhooks); yields its base URL."""
    from homecraft_shared.testing.infra import free_port

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(start_seconds):
            while not server.started:
                if task.done():
                    task.result()  # its start-up error, if it raised one
                    raise RuntimeError(f"uvicorn exited before serving on port {port}")
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=20)


def bearer(private_key_pem: str, user_id: str, *roles: str, username: str | None = None) -> dict[str, str]:
    """Authorization header for a gateway-signed identity."""
    token = IdentitySigner(private_key_pem).sign(
        Identity(user_id=user_id, username=username or f"user-{user_id}", roles=frozenset(roles))
    )
    return {"Authorization": f"Bearer {token}"}

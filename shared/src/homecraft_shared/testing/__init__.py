"""Test support shared by every package: real nats-server, real databases, identity tokens.

The pytest plugin (``homecraft_shared.testing.plugin``) is registered through the ``pytest11``
entry point, so its fixtures are available in every package's tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from homecraft_shared.identity import Identity, IdentitySigner


@contextlib.asynccontextmanager
async def serve_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's real lifespan (migrations, NATS, relay, consumers) and talk to it over ASGI."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def bearer(private_key_pem: str, user_id: str, *roles: str, username: str | None = None) -> dict[str, str]:
    """Authorization header for a gateway-signed identity."""
    token = IdentitySigner(private_key_pem).sign(
        Identity(user_id=user_id, username=username or f"user-{user_id}", roles=frozenset(roles))
    )
    return {"Authorization": f"Bearer {token}"}

"""The storefront degrades clearly when a service it composes from is down."""

from __future__ import annotations

from gateway.app import create_app
from gateway.settings import GatewaySettings
from homecraft_shared.testing import serve_app
from homecraft_shared.testing.infra import free_port


async def test_home_page_says_so_when_the_catalog_is_unreachable(database_url: str, nats_url: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    app = create_app(GatewaySettings(database_url=database_url, nats_url=nats_url, catalog_url=closed))
    async with serve_app(app) as client:
        page = await client.get("/")
    assert page.status_code == 200
    assert "The catalog is not reachable right now" in page.text
    assert 'class="card"' not in page.text

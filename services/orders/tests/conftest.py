from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from support import CatalogProcess, Keys, Mailbox, Orders, catalog_process, orders_settings, running_orders, smtp_server

from homecraft_shared.identity import generate_keypair


@pytest.fixture(scope="session")
def keys(identity_keys: tuple[str, str]) -> Keys:
    orders_private, orders_public = generate_keypair()
    return Keys(identity_keys[0], identity_keys[1], orders_private, orders_public)


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[CatalogProcess]:
    """The real catalog service, seeded with the demo marketplace, over HTTP."""
    with catalog_process(tmp_path_factory.mktemp("catalog"), keys.gateway_public, keys.orders_public) as running:
        yield running


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mailbox(smtp: tuple[Mailbox, int]) -> Mailbox:
    return smtp[0]


@pytest.fixture
async def orders(database_url: str, nats_url: str, keys: Keys, catalog: CatalogProcess,
                 smtp: tuple[Mailbox, int]) -> AsyncIterator[Orders]:
    async with running_orders(orders_settings(database_url, nats_url, keys, catalog, smtp[1]), keys, catalog) as running:
        yield running

"""Fixtures shared by the catalog's read-side tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from browse_support import Catalog, payout, running_catalog


@pytest.fixture
async def catalog(database_url: str, nats_url: str, identity_keys: tuple[str, str]) -> AsyncIterator[Catalog]:
    """A running catalog (read cache off) with one payout-ready seller, ``seller-ready``."""
    async with running_catalog(database_url, nats_url, identity_keys[1]) as running:
        async with running.session() as s:
            payout(s, "seller-ready", True)
        yield running

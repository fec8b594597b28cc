"""The one fixture of the catalog's tests: ``catalog``, the running service with its harness.

A module tunes it by overriding ``catalog_settings`` (settings to run with) or ``payout_ready``
(sellers made payout-ready through the real projection before each test).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support import CatalogHarness, running_catalog


@pytest.fixture
def catalog_settings() -> dict[str, Any]:
    return {}


@pytest.fixture
def payout_ready() -> tuple[str, ...]:
    return ()


@pytest.fixture
async def catalog(
    database_url: str,
    nats_url: str,
    identity_keys: tuple[str, str],
    tmp_path: Path,
    catalog_settings: dict[str, Any],
    payout_ready: tuple[str, ...],
) -> AsyncIterator[CatalogHarness]:
    async with running_catalog(database_url, nats_url, identity_keys, tmp_path, **catalog_settings) as running:
        for seller in payout_ready:
            await running.make_ready(seller)
        yield running

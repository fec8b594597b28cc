"""Fixtures of the engagement tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support import Engagement, running_engagement


@pytest.fixture
async def eng(database_url: str, nats_url: str, identity_keys: tuple[str, str]) -> AsyncIterator[Engagement]:
    """A running engagement service whose background loops the test drives itself."""
    async with running_engagement(database_url, nats_url, identity_keys) as running:
        yield running

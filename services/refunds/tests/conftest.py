"""Fixtures of the refunds tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from support import Refunds, running_refunds

from homecraft_shared.testing.mail import Mailbox, smtp_server


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
async def refunds(database_url: str, nats_url: str, identity_keys: tuple[str, str],
                  smtp: tuple[Mailbox, int]) -> AsyncIterator[Refunds]:
    async with running_refunds(database_url, nats_url, identity_keys, smtp[1]) as running:
        yield running

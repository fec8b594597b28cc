"""Fixtures of the payments tests: the running service in the shared harness (``payments``), and the
service beside the Stripe stand-in on real ports (``stand``). Test files that need other settings
tune their own fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from standin_support import Stand, running_stand
from support import Payments, payments_settings, running_payments


@pytest.fixture
async def payments(database_url: str, nats_url: str, identity_keys: tuple[str, str]) -> AsyncIterator[Payments]:
    async with running_payments(payments_settings(database_url, nats_url, identity_keys[1]), identity_keys[0]) as running:
        yield running


@pytest.fixture
async def stand(database_url: str, nats_url: str, identity_keys: tuple[str, str]) -> AsyncIterator[Stand]:
    async with running_stand(database_url, nats_url, identity_keys) as running:
        yield running

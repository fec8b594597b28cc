"""Write-side API tests (categories, listings, media, workflow, internal API, projections): the
listing seller ``seller-1`` is payout-ready unless a module says otherwise."""

from __future__ import annotations

import pytest


@pytest.fixture
def payout_ready() -> tuple[str, ...]:
    return ("seller-1",)

"""Read-side API tests (browse, search, home, pages, seed) over rows written straight through the
models (rows.py); their default seller ``seller-ready`` is payout-ready."""

from __future__ import annotations

import pytest


@pytest.fixture
def payout_ready() -> tuple[str, ...]:
    return ("seller-ready",)

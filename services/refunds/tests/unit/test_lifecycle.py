"""R3: the refund request lifecycle."""

from __future__ import annotations

import pytest

from homecraft_shared.errors import Conflict
from refunds.domain import Status, check_transition


@pytest.mark.parametrize(("current", "target"), [
    (Status.REQUESTED, Status.APPROVED), (Status.REQUESTED, Status.DECLINED), (Status.REQUESTED, Status.CANCELED),
    (Status.APPROVED, Status.REFUNDED),
])
def test_allowed(current: Status, target: Status) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(("current", "target"), [
    (Status.DECLINED, Status.REFUNDED), (Status.REFUNDED, Status.REFUNDED), (Status.APPROVED, Status.CANCELED),
    (Status.DECLINED, Status.CANCELED), (Status.REQUESTED, Status.REFUNDED), (Status.APPROVED, Status.APPROVED),
])
def test_refused_with_a_409_naming_the_rule(current: Status, target: Status) -> None:
    with pytest.raises(Conflict, match="R3"):
        check_transition(current, target)

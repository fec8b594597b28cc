"""Refund rules, free of the web framework and the database (R1-R4).

- ``allocate``: an amount split over lines in proportion to a weight, exact to the cent (R1).
- ``request_amounts``: what a refund request for one line is worth (R1).
- ``check_transition``: the request lifecycle (R3).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from homecraft_shared.errors import Conflict


class Status(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    DECLINED = "declined"
    REFUNDED = "refunded"
    CANCELED = "canceled"


class Reason(enum.StrEnum):
    """R2: why the buyer wants the money back."""

    DAMAGED = "damaged"
    NOT_AS_DESCRIBED = "not_as_described"
    LATE = "late"
    WRONG_ITEM = "wrong_item"
    OTHER = "other"


@dataclass(frozen=True)
class Line:
    line_id: str
    gross_cents: int
    requires_shipping: bool
    is_digital: bool


def allocate(amount_cents: int, weights: Sequence[tuple[str, int]]) -> dict[str, int]:
    """Split ``amount_cents`` over keys in proportion to their weights, adding up exactly (R1).

    Each key gets the floor of its exact share; the cents left over go one each to the largest
    fractional parts (ties: the larger weight, then the earlier key), so every share is within one
    cent of its exact proportion and the shares add up to ``amount_cents``. Zero total weight:
    nothing is allocated (there is no line to carry it).
    """
    if amount_cents < 0:
        raise ValueError("amount must not be negative")
    total = sum(weight for _, weight in weights)
    if total <= 0 or amount_cents == 0:
        return {key: 0 for key, _ in weights}
    exact = [(key, weight, Fraction(amount_cents * weight, total)) for key, weight in weights]
    shares = {key: int(share) for key, _, share in exact}  # floor: shares are never negative
    left = amount_cents - sum(shares.values())
    by_fraction = sorted(range(len(exact)), key=lambda i: (-(exact[i][2] - int(exact[i][2])), -exact[i][1], i))
    for i in by_fraction[:left]:
        shares[exact[i][0]] += 1
    return shares


@dataclass(frozen=True)
class RequestAmounts:
    line_gross_cents: int
    tax_share_cents: int
    shipping_share_cents: int

    @property
    def total_cents(self) -> int:
        return self.line_gross_cents + self.tax_share_cents + self.shipping_share_cents


def order_shares(lines: Sequence[Line], tax_cents: int, shipping_cents: int) -> dict[str, RequestAmounts]:
    """Every line's due (R1): its gross, its share of the tax (over all lines by gross) and of the
    shipping (over the shippable lines by gross). The shares add up exactly to tax and shipping."""
    tax = allocate(tax_cents, [(line.line_id, line.gross_cents) for line in lines])
    shippable = [(line.line_id, line.gross_cents) for line in lines if line.requires_shipping]
    shipping = allocate(shipping_cents, shippable) if shippable else {}
    return {
        line.line_id: RequestAmounts(line.gross_cents, tax[line.line_id], shipping.get(line.line_id, 0))
        for line in lines
    }


def request_amounts(lines: Sequence[Line], line_id: str, tax_cents: int, shipping_cents: int,
                    left_refundable_cents: int) -> RequestAmounts:
    """What a request for ``line_id`` is worth (R1), never more than is left refundable on the
    payment: when less is left (a partial refund from the dashboard came first), the shipping share,
    then the tax share, then the line gross are reduced, in that order."""
    due = order_shares(lines, tax_cents, shipping_cents)[line_id]
    excess = max(0, due.total_cents - max(0, left_refundable_cents))
    shipping = due.shipping_share_cents - min(excess, due.shipping_share_cents)
    excess -= due.shipping_share_cents - shipping
    tax = due.tax_share_cents - min(excess, due.tax_share_cents)
    excess -= due.tax_share_cents - tax
    gross = due.line_gross_cents - min(excess, due.line_gross_cents)
    return RequestAmounts(gross, tax, shipping)


# R3: requested -> approved | declined | canceled; approved -> refunded.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.REQUESTED: frozenset({Status.APPROVED, Status.DECLINED, Status.CANCELED}),
    Status.APPROVED: frozenset({Status.REFUNDED}),
    Status.DECLINED: frozenset(),
    Status.REFUNDED: frozenset(),
    Status.CANCELED: frozenset(),
}

_WHY_NOT = {
    Status.APPROVED: "Only a request still waiting for a decision can be approved",
    Status.DECLINED: "Only a request still waiting for a decision can be declined",
    Status.CANCELED: "A request can be canceled only before the seller decides",
    Status.REFUNDED: "Only an approved request that was not refunded yet can be refunded",
}


def check_transition(current: Status, target: Status) -> None:
    """Raise a 409 naming the rule when ``current -> target`` is not allowed (R3)."""
    if target not in TRANSITIONS[current]:
        raise Conflict(f"{_WHY_NOT[target]} (R3); this one is {current.value}.")

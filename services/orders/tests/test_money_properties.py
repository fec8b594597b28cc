"""Property tests on the money snapshot (O2) and the lifecycle (O3), framework-free (orders.domain)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homecraft_shared.money import round_half_up
from orders import domain

percents = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)
items = st.builds(
    domain.PricedItem,
    product_id=st.uuids().map(str),
    seller_id=st.sampled_from(["s1", "s2", "s3"]),
    title=st.just("t"),
    is_file=st.booleans(),
    unit_price_cents=st.integers(min_value=0, max_value=10_000_000),
    quantity=st.integers(min_value=1, max_value=domain.MAX_QUANTITY),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(items, min_size=1, max_size=20), percents)
def test_fees_and_nets_add_up_to_gross_and_follow_o2(lines: list[domain.PricedItem], percent: Decimal) -> None:
    money = domain.snapshot(lines, percent)
    assert sum(line.fee_cents for line in money.lines) + sum(line.net_cents for line in money.lines) == sum(
        line.gross_cents for line in money.lines)
    for item, line in zip(lines, money.lines, strict=True):
        expected_quantity = 1 if item.is_file else item.quantity  # FILE forced to 1
        assert line.quantity == expected_quantity
        assert line.gross_cents == expected_quantity * item.unit_price_cents
        # Each fee is the half-up rounded percent of its own line (not of the order).
        assert line.fee_cents == round_half_up(Decimal(line.gross_cents) * percent / 100)
        assert line.net_cents >= 0 and line.net_cents == line.gross_cents - line.fee_cents
        assert line.is_digital == item.is_file and line.requires_shipping == (not item.is_file)
    assert money.subtotal_cents == sum(line.gross_cents for line in money.lines)
    assert money.total_cents == money.subtotal_cents + money.tax_cents + money.shipping_cents
    digital, physical = any(i.is_file for i in lines), any(not i.is_file for i in lines)
    assert money.kind == (domain.Kind.MIXED if digital and physical else domain.Kind.DIGITAL if digital else domain.Kind.PHYSICAL)
    flags = domain.reconcile(paid=True, free=False, percent=money.percent, subtotal_cents=money.subtotal_cents,
                             has_stripe_ids=True,
                             lines=[domain.LineFacts(m.seller_id, m.gross_cents, m.fee_cents, m.net_cents) for m in money.lines],
                             payouts=[])
    assert not flags.totals_mismatch and not flags.ledger_mismatch  # a correct snapshot is never flagged (A1)


@given(st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False, allow_infinity=False))
def test_percent_is_clamped_to_0_100(percent: Decimal) -> None:
    clamped = domain.clamp_percent(percent)
    assert Decimal(0) <= clamped <= Decimal(100)


def test_half_up_rounding_on_a_half_cent() -> None:
    # 10 % of 5 cents is 0.5 cents: half-up gives 1 (banker's rounding would give 0).
    (line,) = domain.snapshot([domain.PricedItem("p", "s", "t", False, 5, 1)], Decimal(10)).lines
    assert (line.fee_cents, line.net_cents) == (1, 4)


@given(st.sampled_from(list(domain.Status)), st.sampled_from(list(domain.Status)))
def test_only_o3_transitions_are_allowed(current: domain.Status, target: domain.Status) -> None:
    allowed = {(domain.Status.PENDING, domain.Status.PAID), (domain.Status.PENDING, domain.Status.CANCELED),
               (domain.Status.PAID, domain.Status.REFUNDED)}
    if (current, target) in allowed:
        domain.ensure_transition(current, target)
    else:
        with pytest.raises(domain.IllegalTransition):
            domain.ensure_transition(current, target)


def test_ledger_mismatch_is_per_line() -> None:
    # Two lines whose fees were each rounded correctly do not flag, though the order-level percent of the
    # subtotal differs by a cent (the seed's order-level check would flag it: A1).
    lines = [domain.LineFacts("s", 5, 1, 4), domain.LineFacts("s", 5, 1, 4)]
    flags = domain.reconcile(paid=True, free=False, percent=Decimal(10), subtotal_cents=10, has_stripe_ids=True,
                             lines=lines, payouts=[])
    assert not flags.ledger_mismatch and flags.no_transfer and flags.payout_state == domain.PayoutState.PENDING
    wrong = domain.reconcile(paid=True, free=False, percent=Decimal(10), subtotal_cents=10, has_stripe_ids=False,
                             lines=[domain.LineFacts("s", 5, 0, 5), domain.LineFacts("s", 5, 1, 4)], payouts=[])
    assert wrong.ledger_mismatch and wrong.missing_stripe_ids
    free = domain.reconcile(paid=True, free=True, percent=Decimal(10), subtotal_cents=0, has_stripe_ids=False,
                            lines=[domain.LineFacts("s", 0, 0, 0)], payouts=[])
    assert not free.missing_stripe_ids and not free.no_transfer  # not for FREE

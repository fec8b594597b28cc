"""R1: the shares of an order's lines add up exactly to its tax and shipping, each within a cent of
its exact proportion; no request exceeds its line's due or what is left refundable."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from refunds.domain import Line, allocate, order_shares, request_amounts

lines_strategy = st.lists(
    st.tuples(st.integers(min_value=1, max_value=500_000), st.booleans()), min_size=1, max_size=10,
).map(lambda raw: [Line(f"l{i}", gross, requires_shipping=not digital, is_digital=digital)
                   for i, (gross, digital) in enumerate(raw)])
cents = st.integers(min_value=0, max_value=200_000) | st.sampled_from([0, 1, 2, 3, 7])


@settings(max_examples=300, deadline=None)
@given(lines=lines_strategy, tax=cents, shipping=cents)
def test_shares_add_up_exactly_and_stay_within_a_cent(lines: list[Line], tax: int, shipping: int) -> None:
    shares = order_shares(lines, tax, shipping)
    assert sum(s.tax_share_cents for s in shares.values()) == tax
    shippable = [line for line in lines if line.requires_shipping]
    assert sum(s.shipping_share_cents for s in shares.values()) == (shipping if shippable else 0)
    total_gross = sum(line.gross_cents for line in lines)
    shippable_gross = sum(line.gross_cents for line in shippable)
    for line in lines:
        share = shares[line.line_id]
        assert share.line_gross_cents == line.gross_cents
        assert abs(share.tax_share_cents - Fraction(tax * line.gross_cents, total_gross)) < 1
        if line.requires_shipping:
            assert abs(share.shipping_share_cents - Fraction(shipping * line.gross_cents, shippable_gross)) < 1
        else:
            assert share.shipping_share_cents == 0
    # The sum of every possible request never exceeds the order's total.
    total = total_gross + tax + (shipping if shippable else 0)
    assert sum(s.total_cents for s in shares.values()) <= total


@settings(max_examples=200, deadline=None)
@given(lines=lines_strategy, tax=cents, shipping=cents, left=st.integers(min_value=-5, max_value=2_000_000))
def test_a_request_never_exceeds_its_due_or_what_is_left(lines: list[Line], tax: int, shipping: int, left: int) -> None:
    due = order_shares(lines, tax, shipping)[lines[0].line_id]
    amounts = request_amounts(lines, lines[0].line_id, tax, shipping, left)
    assert amounts.total_cents <= due.total_cents
    assert amounts.total_cents <= max(0, left)
    assert amounts.total_cents == min(due.total_cents, max(0, left))
    assert min(amounts.line_gross_cents, amounts.tax_share_cents, amounts.shipping_share_cents) >= 0


def test_a_one_cent_tax_over_three_equal_lines_goes_to_the_first() -> None:
    # R1: the seed rounds each share half-up on its own (0 + 0 + 0 = 0 cents of a 1-cent tax).
    assert allocate(1, [("a", 100), ("b", 100), ("c", 100)]) == {"a": 1, "b": 0, "c": 0}


def test_the_remainder_goes_to_the_largest_fractions() -> None:
    # 10 over 1:1:1 -> 3.33 each; 100 over 1:2 -> 33.3 / 66.7: the larger fraction takes the cent.
    assert allocate(10, [("a", 1), ("b", 1), ("c", 1)]) == {"a": 4, "b": 3, "c": 3}
    assert allocate(100, [("a", 1), ("b", 2)]) == {"a": 33, "b": 67}


def test_shipping_is_split_over_shippable_lines_only() -> None:
    lines = [Line("print", 3000, True, False), Line("file", 1000, False, True)]
    shares = order_shares(lines, tax_cents=400, shipping_cents=599)
    assert shares["print"].shipping_share_cents == 599 and shares["file"].shipping_share_cents == 0
    assert shares["print"].tax_share_cents == 300 and shares["file"].tax_share_cents == 100

"""Money helpers: integer cents, half-up rounding, strict parsing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from homecraft_shared.money import dollars_to_cents, format_cents, percent_of, round_half_up


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.5", 1), ("1.5", 2), ("2.5", 3),  # half-up, not banker's rounding (2.5 -> 2)
        ("0.49", 0), ("0.4999999", 0), ("2.51", 3), ("0", 0), ("7", 7),
        ("-0.5", -1), ("-2.5", -3), ("-0.49", 0),  # halves go away from zero
    ],
)
def test_round_half_up(amount: str, expected: int) -> None:
    assert round_half_up(Decimal(amount)) == expected


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [
        (1000, 10, 100),
        (1000, "2.5", 25),
        (999, 10, 100),  # 99.9
        (333, 10, 33),  # 33.3
        (5, 10, 1),  # exactly half a cent rounds up
        (15, 10, 2),  # 1.5 -> 2
        (25, 10, 3),  # 2.5 -> 3 (banker's would give 2)
        (1, 49, 0),
        (0, 15, 0),
        (1999, Decimal("12.5"), 250),  # 249.875
        (10_000_000_00, "0.01", 100_000),  # $10M at 0.01%
    ],
)
def test_percent_of(amount: int, percent: object, expected: int) -> None:
    assert percent_of(amount, percent) == expected  # type: ignore[arg-type]


def test_percent_of_float_percent_uses_its_decimal_text() -> None:
    # Decimal(0.1) would be 0.1000000000000000055...; the helper goes through str().
    assert percent_of(5, 10.0) == 1
    assert percent_of(1000, 0.1) == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.50", 1250), ("12.5", 1250), ("12", 1200), ("0.01", 1), ("0", 0), ("0.00", 0),
        (" 3.00 ", 300), ("12.500", 1250), ("1e2", 10000), ("-1.50", -150),
        (Decimal("19.99"), 1999), (7, 700), ("1000000.99", 100000099),
    ],
)
def test_dollars_to_cents(value: object, expected: int) -> None:
    assert dollars_to_cents(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["1.005", "0.001", "12.345", "1e-3"])
def test_dollars_to_cents_rejects_fractions_of_a_cent(value: str) -> None:
    with pytest.raises(ValueError, match="more than two decimal places"):
        dollars_to_cents(value)


@pytest.mark.parametrize("value", ["", "abc", "12,50", "$12", "NaN", "Infinity", "-inf", "1.2.3"])
def test_dollars_to_cents_rejects_non_amounts(value: str) -> None:
    with pytest.raises(ValueError, match="is not an amount"):
        dollars_to_cents(value)


@pytest.mark.parametrize(
    ("cents", "currency", "expected"),
    [(0, "usd", "$0.00"), (5, "usd", "$0.05"), (123456789, "usd", "$1,234,567.89"), (-1250, "USD", "-$12.50"),
     (100, "eur", "1.00 EUR")],
)
def test_format_cents(cents: int, currency: str, expected: str) -> None:
    assert format_cents(cents, currency) == expected

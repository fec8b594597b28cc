"""Money is integer cents everywhere; these helpers are the only place rounding happens."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("1")


def round_half_up(amount_cents: Decimal) -> int:
    """Round a (possibly fractional) cents amount half-up to whole cents."""
    return int(amount_cents.quantize(CENT, rounding=ROUND_HALF_UP))


def percent_of(amount_cents: int, percent: Decimal | str | int) -> int:
    """``percent`` % of ``amount_cents``, rounded half-up (e.g. a marketplace fee)."""
    return round_half_up(Decimal(amount_cents) * Decimal(str(percent)) / Decimal(100))


def dollars_to_cents(value: str | Decimal | int) -> int:
    """Parse a decimal currency amount ("12.50") into cents; more than 2 decimals is an error."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{value!r} has more than two decimal places")
    return int(cents)


def format_cents(amount_cents: int, currency: str = "usd") -> str:
    sign = "-" if amount_cents < 0 else ""
    whole, cents = divmod(abs(amount_cents), 100)
    symbol = "$" if currency.lower() == "usd" else ""
    suffix = "" if symbol else f" {currency.upper()}"
    return f"{sign}{symbol}{whole:,}.{cents:02d}{suffix}"

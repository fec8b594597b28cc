"""The order's rules with no framework in sight: the money snapshot (O2), the lifecycle (O3) and the
reconciliation flags (A1). Pure functions and small value types; the service layer persists them."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from homecraft_shared.money import percent_of

MAX_QUANTITY = 100
FREE_PAYMENT = "FREE"


class Status(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    REFUNDED = "refunded"
    CANCELED = "canceled"


class Kind(enum.StrEnum):
    DIGITAL = "digital"
    PHYSICAL = "physical"
    MIXED = "mixed"


class EventType(enum.StrEnum):
    """Timeline entries (O4)."""

    CREATED = "created"
    STRIPE_SESSION_CREATED = "stripe_session_created"
    PAID = "paid"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    TRANSFER_CREATED = "transfer_created"
    WARNING = "warning"


# O3: pending → paid → refunded; pending → canceled. Nothing leaves canceled or refunded.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.PAID, Status.CANCELED}),
    Status.PAID: frozenset({Status.REFUNDED}),
    Status.REFUNDED: frozenset(),
    Status.CANCELED: frozenset(),
}


class IllegalTransition(Exception):
    def __init__(self, current: Status, target: Status) -> None:
        super().__init__(f"an order that is {current.value} cannot become {target.value}")
        self.current = current
        self.target = target


def ensure_transition(current: Status, target: Status) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)


@dataclass(frozen=True)
class PricedItem:
    """A product as the catalog prices it now, with the quantity asked for."""

    product_id: str
    seller_id: str
    title: str
    is_file: bool
    unit_price_cents: int
    quantity: int


@dataclass(frozen=True)
class LineMoney:
    product_id: str
    seller_id: str
    title: str
    kind: str  # "FILE" | "MODEL"
    is_digital: bool
    requires_shipping: bool
    quantity: int
    unit_price_cents: int
    gross_cents: int
    fee_cents: int
    net_cents: int


@dataclass(frozen=True)
class OrderMoney:
    percent: Decimal
    lines: tuple[LineMoney, ...]
    subtotal_cents: int
    tax_cents: int
    shipping_cents: int
    total_cents: int
    kind: Kind


def effective_quantity(is_file: bool, quantity: int) -> int:
    """O2/K1: a FILE line is always quantity 1 (a larger quantity is forced to 1, not refused)."""
    return 1 if is_file else quantity


def line_money(item: PricedItem, percent: Decimal) -> LineMoney:
    quantity = effective_quantity(item.is_file, item.quantity)
    gross = quantity * item.unit_price_cents
    fee = min(gross, percent_of(gross, percent))
    return LineMoney(
        product_id=item.product_id, seller_id=item.seller_id, title=item.title,
        kind="FILE" if item.is_file else "MODEL", is_digital=item.is_file, requires_shipping=not item.is_file,
        quantity=quantity, unit_price_cents=item.unit_price_cents, gross_cents=gross, fee_cents=fee,
        net_cents=gross - fee,
    )


def order_kind(lines: Iterable[LineMoney]) -> Kind:
    lines = list(lines)
    digital = any(line.is_digital for line in lines)
    physical = any(line.requires_shipping for line in lines)
    if digital and physical:
        return Kind.MIXED
    return Kind.DIGITAL if digital else Kind.PHYSICAL


def snapshot(items: Sequence[PricedItem], percent: Decimal, *, tax_cents: int = 0, shipping_cents: int = 0) -> OrderMoney:
    """O2: the order's money at this moment. Percent is clamped to 0-100 (S1)."""
    if not items:
        raise ValueError("an order needs at least one line")
    percent = clamp_percent(percent)
    lines = tuple(line_money(item, percent) for item in items)
    subtotal = sum(line.gross_cents for line in lines)
    return OrderMoney(percent=percent, lines=lines, subtotal_cents=subtotal, tax_cents=tax_cents,
                      shipping_cents=shipping_cents, total_cents=subtotal + tax_cents + shipping_cents,
                      kind=order_kind(lines))


def clamp_percent(percent: Decimal) -> Decimal:
    return min(Decimal(100), max(Decimal(0), Decimal(percent))).quantize(Decimal("0.01"))


# --- reconciliation flags (A1) -------------------------------------------------------------------


class PayoutState(enum.StrEnum):
    UNPAID = "unpaid"  # the order is not paid (nothing to pay out)
    PENDING = "pending"  # paid, some seller with net > 0 has neither a transfer nor a skip yet
    PAID_OUT = "paid_out"  # every seller with net > 0 has a transfer
    SKIPPED = "skipped"  # every seller is settled and at least one was skipped


@dataclass(frozen=True)
class LineFacts:
    seller_id: str
    gross_cents: int
    fee_cents: int
    net_cents: int


@dataclass(frozen=True)
class PayoutFacts:
    seller_id: str
    transferred: bool
    skip_reason: str | None


@dataclass(frozen=True)
class Flags:
    totals_mismatch: bool
    ledger_mismatch: bool
    missing_stripe_ids: bool
    no_transfer: bool
    skipped_unready: bool
    payout_state: PayoutState


def reconcile(
    *,
    paid: bool,
    free: bool,
    percent: Decimal,
    subtotal_cents: int,
    has_stripe_ids: bool,
    lines: Sequence[LineFacts],
    payouts: Sequence[PayoutFacts],
) -> Flags:
    """A1's flags for one order, from its own snapshot and the payout facts it consumed."""
    totals_mismatch = subtotal_cents != sum(line.gross_cents for line in lines)
    ledger_mismatch = any(
        line.fee_cents != percent_of(line.gross_cents, percent) or line.fee_cents + line.net_cents != line.gross_cents
        for line in lines
    )
    sellers_owed = {line.seller_id for line in lines if line.net_cents > 0}
    transferred = {p.seller_id for p in payouts if p.transferred}
    skipped = {p.seller_id for p in payouts if not p.transferred}
    skipped_unready = any(p.skip_reason == "seller_not_ready" for p in payouts)
    if not paid:
        state = PayoutState.UNPAID
    elif sellers_owed - transferred - skipped:
        state = PayoutState.PENDING
    elif skipped & sellers_owed:
        state = PayoutState.SKIPPED
    else:
        state = PayoutState.PAID_OUT
    no_transfer = paid and not free and bool(sellers_owed - transferred - skipped)
    return Flags(
        totals_mismatch=totals_mismatch,
        ledger_mismatch=ledger_mismatch,
        missing_stripe_ids=paid and not free and not has_stripe_ids,
        no_transfer=no_transfer,
        skipped_unready=skipped_unready,
        payout_state=state,
    )

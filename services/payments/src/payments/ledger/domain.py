"""The seller ledger's rules (P5-P8), framework-free: plain values in, plain decisions out.

Nothing here touches a database, Stripe or the clock. The service layer loads the facts (the
order's lines, balances, earlier debits, what the charge can still fund), asks this module what
to do, then records the entries under their unique keys and calls Stripe.

Money moves as a ``Movement``: one fact (an order's sales, one transfer, one Stripe refund, one
lost dispute) with its entries. The movement's ``key`` is unique in the database and recorded with
its entries in one transaction, so a fact seen twice (a webhook redelivered, a refund seen by the
webhook and by the refund request) moves the ledger once -- even when the second look would
allocate differently, because the first one's debits are now "earlier debits". Each entry's own
``key`` is unique too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    """Why an entry moved a seller's balance (P6); the sign follows the reason."""

    SALE = "sale"  # + the seller's net on a paid order (P5)
    PAYOUT = "payout"  # - a Stripe transfer to the seller (P5)
    REFUND = "refund"  # - a Stripe refund's debit (P7)
    CHARGEBACK = "chargeback"  # - a lost dispute's debit (P8)
    ADJUSTMENT = "adjustment"  # +/- an operator's correction


DEBIT_REASONS = frozenset({Reason.REFUND, Reason.CHARGEBACK})


@dataclass(frozen=True)
class Line:
    """One order line's money snapshot (O2), as the orders service reported it."""

    line_id: str
    seller_id: str
    gross_cents: int
    fee_cents: int
    net_cents: int


@dataclass(frozen=True)
class Entry:
    """A ledger entry to record: signed cents, once per ``key``."""

    key: str
    seller_id: str
    amount_cents: int
    reason: Reason
    order_id: str | None = None
    line_id: str | None = None
    stripe_object_id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Movement:
    """One fact's effect on the ledger, recorded at most once per ``key`` (possibly with no entries)."""

    key: str
    kind: str
    order_id: str | None
    entries: tuple[Entry, ...]
    stripe_object_id: str | None = None

    @property
    def total_cents(self) -> int:
        return sum(entry.amount_cents for entry in self.entries)


def check_lines(lines: Sequence[Line]) -> None:
    """The snapshot's own arithmetic (O2): refuse to move money on a snapshot that does not add up."""
    for line in lines:
        if line.gross_cents < 0 or line.fee_cents < 0 or line.net_cents < 0:
            raise ValueError(f"line {line.line_id} has a negative amount")
        if line.fee_cents + line.net_cents != line.gross_cents:
            raise ValueError(f"line {line.line_id}: fee + net != gross")
    ids = [line.line_id for line in lines]
    if len(set(ids)) != len(ids):
        raise ValueError("an order line appears twice")


def net_by_seller(lines: Sequence[Line]) -> dict[str, int]:
    """Each seller's net on the order, sellers in a stable order (by id)."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.seller_id] = totals.get(line.seller_id, 0) + line.net_cents
    return dict(sorted(totals.items()))


# --- P5: earnings and payouts --------------------------------------------------------------------


def sales(order_id: str, lines: Sequence[Line]) -> Movement:
    return Movement(f"sales:{order_id}", "sales", order_id, tuple(sale_entries(order_id, lines)))


def sale_entries(order_id: str, lines: Sequence[Line]) -> list[Entry]:
    """P5: a SALE of +net per seller with net > 0, recorded whether or not the seller is ready.

    (The seed never credits a sale; every payout then drags the balance negative and later sales
    are eaten by earlier payouts. Crediting the sale is the fix.)
    """
    return [
        Entry(key=f"sale:{order_id}:{seller_id}", seller_id=seller_id, amount_cents=net, reason=Reason.SALE,
              order_id=order_id, note=f"sale on order {order_id}")
        for seller_id, net in net_by_seller(lines).items()
        if net > 0
    ]


class SkipReason(StrEnum):
    NOT_READY = "not_ready"  # the seller is not payout-ready (P2); the earnings wait in the balance
    NO_BALANCE = "no_balance"  # balance <= 0 after the sale: a negative balance is carried (P6)
    CHARGE_EXHAUSTED = "charge_exhausted"  # the charge cannot fund any more transfers


@dataclass(frozen=True)
class SellerPayout:
    seller_id: str
    net_cents: int
    balance_before_cents: int  # before this order's sale
    amount_cents: int  # the transfer; 0 when skipped
    skip_reason: SkipReason | None

    @property
    def transfers(self) -> bool:
        return self.amount_cents > 0


def plan_payouts(
    lines: Sequence[Line],
    *,
    balances_before: Mapping[str, int],
    ready: Mapping[str, bool],
    fundable_cents: int,
    only_sellers: Iterable[str] | None = None,
) -> list[SellerPayout]:
    """P5: what each seller of a paid order is transferred, given the balances before its sales.

    payout = max(0, balance after the sale), never more than the charge can still fund
    (``fundable_cents`` = charge amount - refunded - already transferred from it). When the charge
    cannot fund everyone, each seller's own net on this order is funded first (in seller order),
    then any older positive balance from what is left, so one seller's carried earnings never
    take the money another seller's sale on this order brought in. What is not transferred
    stays in the balance for the next payout.
    """
    nets = net_by_seller(lines)
    wanted = set(only_sellers) if only_sellers is not None else None
    sellers = [s for s, net in nets.items() if net > 0 and (wanted is None or s in wanted)]
    remaining = max(0, fundable_cents)
    first: dict[str, int] = {}
    for seller in sellers:  # pass 1: this order's own net
        balance_after = balances_before.get(seller, 0) + nets[seller]
        if not ready.get(seller, False) or balance_after <= 0:
            first[seller] = 0
            continue
        first[seller] = min(nets[seller], balance_after, remaining)
        remaining -= first[seller]
    plans: list[SellerPayout] = []
    for seller in sellers:  # pass 2: older positive balance from what the charge has left
        before = balances_before.get(seller, 0)
        balance_after = before + nets[seller]
        amount = first[seller]
        if ready.get(seller, False) and balance_after > amount:
            extra = min(balance_after - amount, remaining)
            amount += extra
            remaining -= extra
        skip: SkipReason | None = None
        if not ready.get(seller, False):
            skip = SkipReason.NOT_READY
        elif balance_after <= 0:
            skip = SkipReason.NO_BALANCE
        elif amount <= 0:
            skip = SkipReason.CHARGE_EXHAUSTED
        plans.append(SellerPayout(seller, nets[seller], before, amount if skip is None else 0, skip))
    return plans


def payout(order_id: str, seller_id: str, amount_cents: int, transfer_id: str) -> Movement:
    """P5: a transfer's PAYOUT entry; once per order and seller (the movement key), whatever the transfer id."""
    return Movement(f"payout:{order_id}:{seller_id}", "payout", order_id,
                    (payout_entry(order_id, seller_id, amount_cents, transfer_id),), transfer_id)


def payout_entry(order_id: str, seller_id: str, amount_cents: int, transfer_id: str) -> Entry:
    if amount_cents <= 0:
        raise ValueError("a payout entry needs a positive transfer amount")
    return Entry(key=f"payout:{transfer_id}", seller_id=seller_id, amount_cents=-amount_cents, reason=Reason.PAYOUT,
                 order_id=order_id, stripe_object_id=transfer_id, note=f"Stripe transfer {transfer_id}")


# --- P7 / P8: refunds and chargebacks ---------------------------------------------------------------


def remaining_net(lines: Sequence[Line], debited: Mapping[str, int]) -> dict[str, int]:
    """What is left of each line's net after earlier refund and chargeback debits (never below 0)."""
    return {line.line_id: max(0, line.net_cents - debited.get(line.line_id, 0)) for line in lines}


def allocate_refund(
    lines: Sequence[Line],
    *,
    amount_cents: int,
    debited: Mapping[str, int],
    line_ids: Sequence[str] | None = None,
) -> dict[str, int]:
    """P7: how much of a Stripe refund each line's seller is debited.

    - Tied to lines (a refund request names them in the refund's metadata): each named line is
      debited what is left of its net; the platform absorbs its fee, tax and shipping. The total
      never exceeds the refund itself (a refund smaller than the named lines' net debits them in
      order until it is used up).
    - Not tied to lines (made from the Stripe dashboard): min(refund, order's net left) is spread over
      the lines in proportion to their net, integer floor shares, the remainder to the last line; a
      share above what is left of a line's net (earlier debits) moves to the next lines that still
      have room, so the total is exact.
    No line is ever debited more than its net in total.
    """
    if amount_cents <= 0:
        return {}
    left = remaining_net(lines, debited)
    if line_ids is not None:
        named = [line for line in lines if line.line_id in set(line_ids)]
        unknown = set(line_ids) - {line.line_id for line in named}
        if unknown:
            raise ValueError(f"refund names lines not on the order: {sorted(unknown)}")
        budget = amount_cents
        debits: dict[str, int] = {}
        for line in named:
            debit = min(left[line.line_id], budget)
            if debit > 0:
                debits[line.line_id] = debit
                budget -= debit
        return debits
    eligible = [line for line in lines if line.net_cents > 0]
    total_net = sum(line.net_cents for line in eligible)
    to_allocate = min(amount_cents, sum(left.values()))
    if to_allocate <= 0 or total_net <= 0:
        return {}
    shares: dict[str, int] = {}
    allotted = 0
    for index, line in enumerate(eligible):
        share = to_allocate - allotted if index == len(eligible) - 1 else to_allocate * line.net_cents // total_net
        shares[line.line_id] = share
        allotted += share
    debits = {line_id: min(share, left[line_id]) for line_id, share in shares.items()}
    overflow = to_allocate - sum(debits.values())
    for line in eligible:  # shares capped by earlier debits: the rest goes where there is room
        if overflow <= 0:
            break
        room = left[line.line_id] - debits[line.line_id]
        extra = min(room, overflow)
        debits[line.line_id] += extra
        overflow -= extra
    return {line_id: debit for line_id, debit in debits.items() if debit > 0}


def refund(order_id: str, lines: Sequence[Line], refund_id: str, *, amount_cents: int, debited: Mapping[str, int],
           line_ids: Sequence[str] | None = None) -> Movement:
    """P7: one Stripe refund's debits; ``debited`` must be the order's earlier debits."""
    debits = allocate_refund(lines, amount_cents=amount_cents, debited=debited, line_ids=line_ids)
    return Movement(f"refund:{refund_id}", "refund", order_id, tuple(refund_entries(order_id, lines, refund_id, debits)),
                    refund_id)


def chargeback(order_id: str, lines: Sequence[Line], dispute_id: str, debited: Mapping[str, int]) -> Movement:
    """P8: a lost dispute's debits, once per dispute."""
    return Movement(f"dispute:{dispute_id}", "chargeback", order_id,
                    tuple(chargeback_entries(order_id, lines, dispute_id, debited)), dispute_id)


def refund_entries(order_id: str, lines: Sequence[Line], refund_id: str, debits: Mapping[str, int]) -> list[Entry]:
    sellers = {line.line_id: line.seller_id for line in lines}
    return [
        Entry(key=f"refund:{refund_id}:{line_id}", seller_id=sellers[line_id], amount_cents=-debit, reason=Reason.REFUND,
              order_id=order_id, line_id=line_id, stripe_object_id=refund_id, note=f"Stripe refund {refund_id}")
        for line_id, debit in debits.items()
        if debit > 0
    ]


def chargeback_entries(order_id: str, lines: Sequence[Line], dispute_id: str, debited: Mapping[str, int]) -> list[Entry]:
    """P8: a dispute closed as lost debits what is left of every line's net (after earlier debits)."""
    left = remaining_net(lines, debited)
    return [
        Entry(key=f"chargeback:{dispute_id}:{line.line_id}", seller_id=line.seller_id, amount_cents=-left[line.line_id],
              reason=Reason.CHARGEBACK, order_id=order_id, line_id=line.line_id, stripe_object_id=dispute_id,
              note=f"dispute {dispute_id} lost")
        for line in lines
        if left[line.line_id] > 0
    ]


def balance(entries: Iterable[Entry]) -> dict[str, int]:
    """P6: balance per seller = the sum of their entries."""
    totals: dict[str, int] = {}
    for entry in entries:
        totals[entry.seller_id] = totals.get(entry.seller_id, 0) + entry.amount_cents
    return totals


def reversal(movement_key: str, order_id: str | None, stripe_object_id: str, entries: Sequence[Entry]) -> Movement:
    """An earlier movement undone once (a refund that failed after it succeeded): each entry credited back as an
    ADJUSTMENT, so the line's earlier debits shrink by as much."""
    return Movement(f"reversal:{movement_key}", "reversal", order_id, tuple(
        Entry(key=f"reversal:{entry.key}", seller_id=entry.seller_id, amount_cents=-entry.amount_cents,
              reason=Reason.ADJUSTMENT, order_id=order_id, line_id=entry.line_id, stripe_object_id=stripe_object_id,
              note=f"reversal of {entry.key}")
        for entry in entries if entry.amount_cents != 0), stripe_object_id)


MAX_ADJUSTMENT_CENTS = 10_000_000  # $100,000 either way: beyond that it is not a correction


def check_adjustment(amount_cents: int) -> str | None:
    """Why an operator's adjustment amount is refused, or None (P6: signed, never zero)."""
    if amount_cents == 0:
        return "an adjustment of 0 cents changes nothing; give a signed amount (negative debits the seller)"
    if abs(amount_cents) > MAX_ADJUSTMENT_CENTS:
        return f"an adjustment is at most {MAX_ADJUSTMENT_CENTS} cents either way"
    return None


def adjustment(client_key: str, seller_id: str, amount_cents: int, reason: str) -> Movement:
    """P6's Σ adjustments term: one signed entry, once per the operator's client key."""
    key = f"adjustment:{client_key}"
    return Movement(key, "adjustment", None, (
        Entry(key=key, seller_id=seller_id, amount_cents=amount_cents, reason=Reason.ADJUSTMENT, note=reason),))

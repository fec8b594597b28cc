"""The ledger's rules (P5-P8) on their own: examples, then a stateful property test.

The stateful machine plays random sequences (orders with one to four sellers at odd percents,
one-cent lines, payouts, refunds before and after payout, partial and line-tied refunds, disputes
won and lost, duplicated facts, sellers becoming ready late, operator adjustments either way with
repeated client keys) through ``payments.ledger.domain``
with a ledger that, like the tables, accepts each movement key and each entry key once, and checks it against a simple
independent model after every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from homecraft_shared.money import percent_of
from payments.ledger.domain import (
    Entry,
    Line,
    Movement,
    Reason,
    SkipReason,
    adjustment,
    allocate_refund,
    balance,
    chargeback,
    chargeback_entries,
    check_adjustment,
    check_lines,
    payout,
    payout_entry,
    plan_payouts,
    refund,
    sale_entries,
    sales,
)


def line(line_id: str, seller: str, gross: int, percent: str = "10") -> Line:
    fee = percent_of(gross, Decimal(percent))
    return Line(line_id, seller, gross, fee, gross - fee)


# --- examples ----------------------------------------------------------------------------------


def test_p5_second_sale_is_paid_in_full_after_a_first_payout() -> None:
    """P5: the seed never credited sales, so a seller's second sale was skipped; here it is paid."""
    ledger: list[Entry] = []
    for order in ("o1", "o2"):
        lines = [line(f"{order}-l1", "ada", 1000)]
        ledger += sale_entries(order, lines)
        before = balance(ledger)["ada"] - 900
        [plan] = plan_payouts(lines, balances_before={"ada": before}, ready={"ada": True}, fundable_cents=1000)
        assert plan.amount_cents == 900 and plan.skip_reason is None
        ledger.append(payout_entry(order, "ada", plan.amount_cents, f"tr_{order}"))
    assert balance(ledger) == {"ada": 0}


def test_p5_unready_seller_is_credited_and_skipped_then_paid_with_the_next_order() -> None:
    lines1 = [line("l1", "ada", 1000)]
    [plan] = plan_payouts(lines1, balances_before={}, ready={"ada": False}, fundable_cents=1000)
    assert plan.skip_reason is SkipReason.NOT_READY and plan.amount_cents == 0
    lines2 = [line("l2", "ada", 500)]
    [plan] = plan_payouts(lines2, balances_before={"ada": 900}, ready={"ada": True}, fundable_cents=500)
    # only what this order's charge can fund; the rest (900) waits in the balance
    assert plan.amount_cents == 500


def test_p5_negative_balance_is_carried_into_the_next_payout() -> None:
    [plan] = plan_payouts([line("l", "ada", 1000)], balances_before={"ada": -300}, ready={"ada": True},
                          fundable_cents=1000)
    assert plan.amount_cents == 600
    [plan] = plan_payouts([line("l", "ada", 100)], balances_before={"ada": -300}, ready={"ada": True},
                          fundable_cents=100)
    assert plan.amount_cents == 0 and plan.skip_reason is SkipReason.NO_BALANCE


def test_p5_a_sellers_old_balance_never_takes_another_sellers_share_of_the_charge() -> None:
    lines = [line("a", "ada", 1000, "0"), line("b", "bob", 1000, "0")]
    plans = plan_payouts(lines, balances_before={"ada": 5000}, ready={"ada": True, "bob": True}, fundable_cents=2000)
    assert {p.seller_id: p.amount_cents for p in plans} == {"ada": 1000, "bob": 1000}


def test_p5_sale_entries_skip_zero_net_and_group_by_seller() -> None:
    lines = [line("1", "ada", 500), line("2", "ada", 500), line("3", "bob", 0)]
    assert [(e.seller_id, e.amount_cents, e.key) for e in sale_entries("o", lines)] == [("ada", 900, "sale:o:ada")]


def test_p7_a_one_line_refund_debits_only_that_lines_seller() -> None:
    """P7: the seed spread every refund over all sellers of the order; a line-tied one debits its line."""
    lines = [line("l1", "ada", 1000), line("l2", "bob", 3000)]
    debits = allocate_refund(lines, amount_cents=1100, debited={}, line_ids=["l1"])
    assert debits == {"l1": 900}  # the line's net; the platform absorbs its fee and tax/shipping


def test_p7_dashboard_refund_spreads_by_net_floor_shares_remainder_last() -> None:
    lines = [line("l1", "ada", 1000, "0"), line("l2", "bob", 2000, "0"), line("l3", "cy", 4000, "0")]
    debits = allocate_refund(lines, amount_cents=1000, debited={})
    assert debits == {"l1": 142, "l2": 285, "l3": 573}
    assert sum(debits.values()) == 1000


def test_p7_no_line_is_debited_beyond_its_net_and_earlier_debits_count() -> None:
    lines = [line("l1", "ada", 1000, "0"), line("l2", "bob", 1000, "0")]
    debits = allocate_refund(lines, amount_cents=1500, debited={"l1": 900})
    assert debits == {"l1": 100, "l2": 1000}  # l1 only had 100 left; the rest moved to l2
    assert allocate_refund(lines, amount_cents=5000, debited={}) == {"l1": 1000, "l2": 1000}
    assert allocate_refund(lines, amount_cents=100, debited={}, line_ids=["l1"]) == {"l1": 100}


def test_p7_refund_naming_an_unknown_line_is_refused() -> None:
    with pytest.raises(ValueError, match="not on the order"):
        allocate_refund([line("l1", "ada", 1000)], amount_cents=10, debited={}, line_ids=["nope"])


def test_p8_lost_dispute_debits_what_is_left_of_each_lines_net() -> None:
    lines = [line("l1", "ada", 1000, "0"), line("l2", "bob", 500, "0")]
    entries = chargeback_entries("o", lines, "dp_1", {"l1": 400})
    assert [(e.line_id, e.amount_cents, e.reason) for e in entries] == [
        ("l1", -600, Reason.CHARGEBACK), ("l2", -500, Reason.CHARGEBACK)]


def test_o2_snapshot_that_does_not_add_up_is_refused() -> None:
    with pytest.raises(ValueError, match="fee \\+ net"):
        check_lines([Line("l", "ada", 1000, 100, 800)])


def test_p6_an_adjustment_is_signed_never_zero_and_keyed_by_the_client_key() -> None:
    assert check_adjustment(0) is not None and check_adjustment(10_000_001) is not None
    assert check_adjustment(-10_000_000) is None and check_adjustment(1) is None
    movement = adjustment("key-1", "ada", -250, "label")
    assert movement.key == "adjustment:key-1" and movement.total_cents == -250
    assert [(e.reason, e.seller_id, e.note, e.order_id) for e in movement.entries] == [
        (Reason.ADJUSTMENT, "ada", "label", None)]


# --- the stateful property test -------------------------------------------------------------------

SELLERS = ("ada", "bob", "cy", "dee")
PERCENTS = ("0", "10", "12.5", "33.33", "100", "7.25")


@dataclass
class Order:
    order_id: str
    lines: list[Line]
    total: int  # charge amount: subtotal + tax + shipping
    refunded: int = 0
    transferred: int = 0
    paid_out: bool = False
    disputed_lost: bool = False


@dataclass
class Model:
    """The simple model: per seller, the sums P6 names, kept without the domain's help."""

    sales: dict[str, int] = field(default_factory=dict)
    payouts: dict[str, int] = field(default_factory=dict)
    debits: dict[str, int] = field(default_factory=dict)
    adjustments: dict[str, int] = field(default_factory=dict)
    line_debits: dict[str, int] = field(default_factory=dict)

    def add(self, bucket: dict[str, int], key: str, amount: int) -> None:
        bucket[key] = bucket.get(key, 0) + amount


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[str, Entry] = {}  # the table: one row per unique key
        self.movements: set[str] = set()
        self.ready: dict[str, bool] = {}
        self.orders: list[Order] = []
        self.model = Model()
        self.seen_facts: list[tuple[str, ...]] = []  # facts that may be delivered again
        self.refund_seq = 0

    @initialize(ready=st.lists(st.booleans(), min_size=len(SELLERS), max_size=len(SELLERS)))
    def start(self, ready: list[bool]) -> None:
        self.ready = dict(zip(SELLERS, ready, strict=True))

    # the ledger tables: a movement whose key exists already changes nothing
    def record(self, movement: Movement) -> list[Entry]:
        if movement.key in self.movements:
            return []
        self.movements.add(movement.key)
        for entry in movement.entries:
            assert entry.key not in self.entries
            self.entries[entry.key] = entry
        return list(movement.entries)

    def debited(self, order: Order) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.entries.values():
            if e.order_id == order.order_id and e.reason in (Reason.REFUND, Reason.CHARGEBACK) and e.line_id:
                out[e.line_id] = out.get(e.line_id, 0) - e.amount_cents
        return out

    @rule(
        data=st.data(),
        n_lines=st.integers(1, 4),
        tax=st.integers(0, 300),
        shipping=st.integers(0, 500),
    )
    def place_and_pay_order(self, data: st.DataObject, n_lines: int, tax: int, shipping: int) -> None:
        percent = data.draw(st.sampled_from(PERCENTS))
        order_id = f"o{len(self.orders)}"
        lines = []
        for i in range(n_lines):
            seller = data.draw(st.sampled_from(SELLERS))
            gross = data.draw(st.one_of(st.just(1), st.integers(1, 20_000)))
            lines.append(line(f"{order_id}-l{i}", seller, gross, percent))
        check_lines(lines)
        order = Order(order_id, lines, sum(x.gross_cents for x in lines) + tax + shipping)
        self.orders.append(order)
        for entry in self.record(sales(order_id, lines)):
            self.model.add(self.model.sales, entry.seller_id, entry.amount_cents)
        self.seen_facts.append(("paid", order_id))

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def pay_out(self, data: st.DataObject) -> None:
        """order.paid processed (or retried by an operator, P9): transfers for sellers without one."""
        order = data.draw(st.sampled_from(self.orders))
        if order.disputed_lost:
            return
        have = {e.seller_id for e in self.entries.values() if e.order_id == order.order_id and e.reason is Reason.PAYOUT}
        pending = [s for s in {x.seller_id for x in order.lines} if s not in have]
        bal = balance(self.entries.values())
        plans = plan_payouts(order.lines, balances_before={s: bal.get(s, 0) - sum(
            e.amount_cents for e in self.entries.values()
            if e.order_id == order.order_id and e.reason is Reason.SALE and e.seller_id == s) for s in pending},
            ready=self.ready, fundable_cents=order.total - order.refunded - order.transferred, only_sellers=pending)
        for plan in plans:
            balance_after_sale = bal.get(plan.seller_id, 0)
            assert plan.amount_cents <= balance_after_sale or plan.amount_cents == 0  # never more than the balance
            if plan.transfers:
                transfer_id = f"tr_{order.order_id}_{plan.seller_id}"
                for entry in self.record(payout(order.order_id, plan.seller_id, plan.amount_cents, transfer_id)):
                    self.model.add(self.model.payouts, entry.seller_id, -entry.amount_cents)
                    order.transferred += plan.amount_cents
                    assert order.transferred <= order.total - order.refunded  # the charge funds it
        order.paid_out = True

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), tied=st.booleans(), fraction=st.sampled_from([1, 2, 3, 7, 100]))
    def refund(self, data: st.DataObject, tied: bool, fraction: int) -> None:
        order = data.draw(st.sampled_from(self.orders))
        refundable = order.total - order.refunded
        if refundable <= 0:
            return
        if tied:
            target = data.draw(st.sampled_from(order.lines))
            amount = min(refundable, target.gross_cents + data.draw(st.integers(0, 200)))
            line_ids: list[str] | None = [target.line_id]
        else:
            amount = max(1, refundable // fraction)
            line_ids = None
        self.refund_seq += 1
        refund_id = f"re_{self.refund_seq}"
        order.refunded += amount
        self.apply_refund(order, refund_id, amount, line_ids)
        self.seen_facts.append(("refund", order.order_id, refund_id, str(amount), ",".join(line_ids or [])))

    def apply_refund(self, order: Order, refund_id: str, amount: int, line_ids: list[str] | None) -> None:
        before = self.debited(order)
        left_before = sum(max(0, x.net_cents - before.get(x.line_id, 0)) for x in order.lines
                          if line_ids is None or x.line_id in line_ids)
        already = f"refund:{refund_id}" in self.movements
        fresh = self.record(refund(order.order_id, order.lines, refund_id, amount_cents=amount, debited=before,
                                   line_ids=line_ids))
        if not already:
            # the simple model: a refund debits exactly min(amount, the net left on the lines it covers)
            assert sum(-e.amount_cents for e in fresh) == min(amount, left_before)
        for entry in fresh:
            self.model.add(self.model.debits, entry.seller_id, -entry.amount_cents)
            self.model.add(self.model.line_debits, entry.line_id or "", -entry.amount_cents)
            if line_ids is not None:  # P7: a line-tied refund never touches another line
                assert entry.line_id in line_ids

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), lost=st.booleans())
    def dispute_closed(self, data: st.DataObject, lost: bool) -> None:
        order = data.draw(st.sampled_from(self.orders))
        if not lost:
            return  # won or other outcomes: a warning, no money moves (P8)
        self.apply_dispute_lost(order, f"dp_{order.order_id}")
        self.seen_facts.append(("dispute_lost", order.order_id))

    def apply_dispute_lost(self, order: Order, dispute_id: str) -> None:
        order.disputed_lost = True
        for entry in self.record(chargeback(order.order_id, order.lines, dispute_id, self.debited(order))):
            self.model.add(self.model.debits, entry.seller_id, -entry.amount_cents)
            self.model.add(self.model.line_debits, entry.line_id or "", -entry.amount_cents)

    @precondition(lambda self: self.seen_facts)
    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        """A webhook or event delivered again, late: nothing may move twice."""
        fact = data.draw(st.sampled_from(self.seen_facts))
        count = len(self.entries)
        order = next(o for o in self.orders if o.order_id == fact[1])
        if fact[0] == "paid":
            self.record(sales(order.order_id, order.lines))
        elif fact[0] == "refund":
            self.apply_refund(order, fact[2], int(fact[3]), fact[4].split(",") if fact[4] else None)
        else:
            self.apply_dispute_lost(order, f"dp_{order.order_id}")
        assert len(self.entries) == count

    @rule(seller=st.sampled_from(SELLERS), amount=st.integers(-5_000, 5_000).filter(bool), client_key=st.integers(0, 5))
    def operator_adjusts(self, seller: str, amount: int, client_key: int) -> None:
        """P6's Σ adjustments: once per the operator's client key (a repeated key moves nothing)."""
        assert check_adjustment(amount) is None
        for entry in self.record(adjustment(f"k{client_key}", seller, amount, "correction")):
            self.model.add(self.model.adjustments, entry.seller_id, entry.amount_cents)

    @rule(seller=st.sampled_from(SELLERS))
    def seller_becomes_ready(self, seller: str) -> None:
        self.ready[seller] = True

    @invariant()
    def balances_match_the_model(self) -> None:
        bal = balance(self.entries.values())
        for seller in SELLERS:
            expected = (self.model.sales.get(seller, 0) - self.model.payouts.get(seller, 0)
                        - self.model.debits.get(seller, 0) + self.model.adjustments.get(seller, 0))
            assert bal.get(seller, 0) == expected

    @invariant()
    def no_line_debited_beyond_its_net(self) -> None:
        for order in self.orders:
            for x in order.lines:
                assert self.model.line_debits.get(x.line_id, 0) <= x.net_cents

    @invariant()
    def every_stripe_object_moves_each_line_once(self) -> None:
        seen = [(e.stripe_object_id, e.line_id) for e in self.entries.values() if e.stripe_object_id]
        assert len(seen) == len(set(seen))


LedgerMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestLedgerProperties = LedgerMachine.TestCase

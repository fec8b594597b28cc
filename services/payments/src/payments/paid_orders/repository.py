"""The ``order.paid`` projection: what payments knows of an order's money."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from sqlalchemy import String, Table, any_, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.connections import Prepared, execute, session_connection
from homecraft_shared.transaction_values import KeptForTransaction
from payments.ledger.domain import Line
from payments.models import PaidOrder, PaidOrderLine


async def get(session: AsyncSession, order_id: str) -> PaidOrder | None:
    return await session.get(PaidOrder, order_id)


async def by_payment(session: AsyncSession, *, payment_intent_id: str | None, charge_id: str | None) -> PaidOrder | None:
    for column, value in ((PaidOrder.payment_intent_id, payment_intent_id), (PaidOrder.charge_id, charge_id)):
        if value:
            found = await session.scalar(select(PaidOrder).where(column == value))
            if found is not None:
                return found
    return None


async def lines(session: AsyncSession, order_id: str) -> list[PaidOrderLine]:
    return list((await session.scalars(
        select(PaidOrderLine).where(PaidOrderLine.order_id == order_id).order_by(PaidOrderLine.position))).all())


_LINES = cast(Table, PaidOrderLine.__table__)
_DOMAIN_LINES = (select(_LINES.c.line_id, _LINES.c.seller_id, _LINES.c.gross_cents, _LINES.c.fee_cents, _LINES.c.net_cents)
                 .where(_LINES.c.order_id == bindparam("order_id")).order_by(_LINES.c.position))


async def domain_lines(session: AsyncSession, order_id: str) -> list[Line]:
    """The order's lines as the ledger's rules see them (columns only, one statement built once: 0306; on the
    session's connection, no ORM execution: 0307)."""
    rows = await execute(await session_connection(session), _DOMAIN_LINES, {"order_id": order_id})
    return [Line(line_id, seller_id, gross, fee, net) for line_id, seller_id, gross, fee, net in rows.all()]


async def seller_orders(session: AsyncSession, seller_id: str, *, offset: int, limit: int) -> list[str]:
    rows = await session.execute(
        select(PaidOrder.order_id).join(PaidOrderLine, PaidOrderLine.order_id == PaidOrder.order_id)
        .where(PaidOrderLine.seller_id == seller_id).group_by(PaidOrder.order_id, PaidOrder.paid_at)
        .order_by(PaidOrder.paid_at.desc()).offset(offset).limit(limit))
    return [order_id for (order_id,) in rows.all()]


async def find(session: AsyncSession, *, order_id: str | None, payment_intent_id: str | None,
               charge_id: str | None) -> PaidOrder | None:
    """The paid order a Stripe object is about: by our order id (metadata), else by its payment."""
    if order_id:
        found = await get(session, order_id)
        if found is not None:
            return found
    return await by_payment(session, payment_intent_id=payment_intent_id, charge_id=charge_id)


class OrderMoney(Protocol):
    """What a Stripe refund needs of a paid order: a ``PaidOrder`` or a ``PaidOrderFacts``."""

    @property
    def order_id(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def total_cents(self) -> int: ...
    @property
    def payment_intent_id(self) -> str | None: ...
    @property
    def charge_id(self) -> str | None: ...
    @property
    def refunded_cause(self) -> str | None: ...


@dataclass(frozen=True)
class PaidOrderFacts:
    """A paid order's columns a Stripe refund needs, read without an ORM object (decision 0307)."""

    order_id: str
    currency: str
    total_cents: int
    payment_intent_id: str | None
    charge_id: str | None
    refunded_cause: str | None


_ORDERS = cast(Table, PaidOrder.__table__)
# The columns a Stripe object names its paid order by, in the order they are tried: our order id, then its payment.
_KEY_COLUMNS = ("order_id", "payment_intent_id", "charge_id")
_FACTS = select(_ORDERS.c.order_id, _ORDERS.c.currency, _ORDERS.c.total_cents, _ORDERS.c.payment_intent_id,
                _ORDERS.c.charge_id, _ORDERS.c.refunded_cause)
# Built once (decision 0307): by our order id, by payment intent, by charge; and the same locking the row. Run
# straight on asyncpg on PostgreSQL (decision 0318): one per refund event.
_FACTS_BY = {column: _FACTS.where(_ORDERS.c[column] == bindparam("key")).limit(1) for column in _KEY_COLUMNS}
_FACTS_LOCKED_BY = {column: Prepared(statement.with_for_update()) for column, statement in _FACTS_BY.items()}
_FACTS_UNLOCKED_BY = {column: Prepared(statement) for column, statement in _FACTS_BY.items()}


@dataclass(frozen=True)
class OrderKeys:
    """How a Stripe object names its paid order: our order id (its metadata), else its payment."""

    order_id: str | None
    payment_intent_id: str | None
    charge_id: str | None

    def in_lookup_order(self) -> list[tuple[str, str]]:
        """(column, value) in the order ``find`` tries them, the empty ones left out."""
        return [(column, value) for column, value in zip(
            _KEY_COLUMNS, (self.order_id, self.payment_intent_id, self.charge_id), strict=True) if value]


async def find_facts(session: AsyncSession, keys: OrderKeys, *, lock: bool = False) -> PaidOrderFacts | None:
    """``find``'s order as plain facts (Core statements built once, on the session's connection). ``lock``:
    its row locked until commit on PostgreSQL, as ``ledger.lock_order`` does, in the same round trip
    (SQLite serializes writers anyway). An order this transaction locked ahead (``lock_ahead``) is answered
    from what that statement read, without a round trip."""
    lookups = keys.in_lookup_order()
    if not lookups:
        return None
    found_ahead = (_LOCKED_AHEAD.get(session) or {}).get(lookups[0])
    if found_ahead is not None:
        return found_ahead
    connection = await session_connection(session)
    statements = _FACTS_LOCKED_BY if lock and connection.dialect.name != "sqlite" else _FACTS_UNLOCKED_BY
    for column, value in lookups:
        found = (await execute(connection, statements[column], {"key": value})).first()
        if found is not None:
            return PaidOrderFacts(*found)
    return None


# The paid orders of a consumer transaction's Stripe events, locked before its first handler (decision 0324) in
# one statement per kind of key the events name them by first (nearly always our order id: one statement), each
# in order id order, with their facts, kept for ``find_facts`` in that transaction by (column, value). One
# statement per column, not one with three ORed conditions: PostgreSQL's generic plan for that scanned the whole
# table (2.7 ms a batch). Those facts do not change once the order is projected, except ``refunded_cause``,
# which its writers read again from the ORM row they change.
_LOCKED_AHEAD: KeptForTransaction[dict[tuple[str, str], PaidOrderFacts]] = KeptForTransaction("paid_orders_locked_ahead")
_FACTS_LOCKED_AMONG = {
    column: Prepared(_FACTS.where(_ORDERS.c[column] == any_(bindparam("keys", type_=postgresql.ARRAY(String))))
                     .order_by(_ORDERS.c.order_id).with_for_update())
    for column in _KEY_COLUMNS}


async def lock_ahead(session: AsyncSession, wanted: Sequence[OrderKeys]) -> None:
    """PostgreSQL: lock the paid orders these keys name first and keep their facts for ``find_facts`` in this
    transaction; a key that names no order is looked up again when it is asked for (the order may be projected
    meanwhile). SQLite: nothing (it serializes writers, and its point reads cost no round trip)."""
    connection = await session_connection(session)
    if connection.dialect.name == "sqlite" or not wanted:
        return
    first_keys: dict[str, set[str]] = {column: set() for column in _FACTS_LOCKED_AMONG}
    for keys in wanted:
        lookups = keys.in_lookup_order()
        if lookups:
            first_keys[lookups[0][0]].add(lookups[0][1])
    kept: dict[tuple[str, str], PaidOrderFacts] = {}
    for column, values in first_keys.items():
        if not values:
            continue
        for row in (await execute(connection, _FACTS_LOCKED_AMONG[column], {"keys": sorted(values)})).all():
            facts = PaidOrderFacts(*row)
            for key in OrderKeys(facts.order_id, facts.payment_intent_id, facts.charge_id).in_lookup_order():
                kept.setdefault(key, facts)
    _LOCKED_AHEAD.keep(session, kept)


def wait_key(keys: OrderKeys) -> str | None:
    """What an event about a not-yet-projected order waits for (matched again on order.paid)."""
    return keys.order_id or keys.payment_intent_id or keys.charge_id

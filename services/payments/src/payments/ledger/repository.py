"""The ledger's tables: movements (one per fact), entries (append-only) and running balances."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Select, Table, bindparam, event, func, insert, literal_column, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from homecraft_shared.connections import Prepared, execute, session_connection
from homecraft_shared.db import dialect_of, utcnow
from payments.ledger.domain import DEBIT_REASONS, Line, Movement, Reason
from payments.models import LedgerEntry, LedgerMovement, PaidOrder, PaidOrderLine, SellerBalance

_ENTRIES = cast(Table, LedgerEntry.__table__)


_MOVEMENTS = cast(Table, LedgerMovement.__table__)
_BALANCES = cast(Table, SellerBalance.__table__)


def _movement_once(dialect: Any) -> Any:
    return (dialect.insert(_MOVEMENTS).values({column: bindparam(column) for column in _MOVEMENT_COLUMNS})
            .on_conflict_do_nothing(index_elements=["key"]).returning(_MOVEMENTS.c.key))


def _add_to_balance(dialect: Any) -> Any:
    upsert = dialect.insert(_BALANCES)
    return upsert.on_conflict_do_update(index_elements=["seller_id"], set_={
        "balance_cents": _BALANCES.c.balance_cents + upsert.excluded.balance_cents,
        "updated_at": upsert.excluded.updated_at})


_MOVEMENT_COLUMNS = ("key", "kind", "order_id", "stripe_object_id", "total_cents", "created_at")
_ENTRY_COLUMNS = ("key", "seller_id", "amount_cents", "reason", "order_id", "line_id", "stripe_object_id", "note")


def _movement_with_entries() -> Any:
    """PostgreSQL: the movement (once, by its key) and its entries in ONE statement (decision 0318): the
    movement's INSERT is a CTE whose RETURNING row the entries are joined to, so they are written only when
    the movement is new. The entries come as one array per column (``entry_<column>``), unnested in order."""
    movement = (postgresql.insert(_MOVEMENTS).values({column: bindparam(column) for column in _MOVEMENT_COLUMNS})
                .on_conflict_do_nothing(index_elements=["key"]).returning(_MOVEMENTS.c.key).cte("movement"))
    entries = (func.unnest(*(bindparam(f"entry_{column}", type_=postgresql.ARRAY(_ENTRIES.c[column].type))
                             for column in _ENTRY_COLUMNS))
               .table_valued(*_ENTRY_COLUMNS, with_ordinality="position").render_derived().alias("entry"))
    rows = (select(entries.c.key, movement.c.key, *(entries.c[column] for column in _ENTRY_COLUMNS[1:]),
                   bindparam("created_at", type_=_ENTRIES.c.created_at.type))
            .select_from(movement).join(entries, true()).order_by(entries.c.position))  # ids in the entries' order
    return (insert(_ENTRIES).from_select(["key", "movement_key", *_ENTRY_COLUMNS[1:], "created_at"], rows)
            .returning(_ENTRIES.c.id).add_cte(movement))


# Built once per dialect (decisions 0306, 0307): their cache keys are computed once, not per movement.
_MOVEMENT_ONCE = {"sqlite": _movement_once(sqlite), "postgresql": _movement_once(postgresql)}
_MOVEMENT_WITH_ENTRIES = Prepared(_movement_with_entries())  # straight on asyncpg (decision 0318)
_ADD_TO_BALANCE = {"sqlite": _add_to_balance(sqlite), "postgresql": _add_to_balance(postgresql)}
_INSERT_ENTRIES = insert(_ENTRIES)


def _dialect(connection: AsyncConnection | Connection) -> str:
    return "sqlite" if connection.dialect.name == "sqlite" else "postgresql"


async def record(session: AsyncSession, movement: Movement) -> bool:
    """Record a movement and its entries, or nothing when its key is already there (returns False).

    Built once and run on the session's connection without the unit of work (decisions 0306, 0307); the
    movement's ``INSERT ... ON CONFLICT DO NOTHING`` decides "once", also between two transactions at once.
    PostgreSQL: one statement for the movement and its entries (0318); SQLite: the movement, then the
    entries in one executemany INSERT. The sellers' balances follow at the transaction's commit, or before
    a balance is read in it (``_PENDING_BALANCES``, decision 0314).
    """
    now = utcnow()
    connection = await session_connection(session)
    row = {"key": movement.key, "kind": movement.kind, "order_id": movement.order_id,
           "stripe_object_id": movement.stripe_object_id, "total_cents": movement.total_cents, "created_at": now}
    if movement.entries and _dialect(connection) == "postgresql":
        written = (await execute(connection, _MOVEMENT_WITH_ENTRIES, {**row, **_entry_arrays(movement)})).all()
        if not written:
            return False
    else:
        if (await execute(connection, _MOVEMENT_ONCE[_dialect(connection)], row)).scalar() is None:
            return False
        if not movement.entries:
            return True
        await execute(connection, _INSERT_ENTRIES, [
            dict(key=entry.key, movement_key=movement.key, seller_id=entry.seller_id, amount_cents=entry.amount_cents,
                 reason=entry.reason.value, order_id=entry.order_id, line_id=entry.line_id,
                 stripe_object_id=entry.stripe_object_id, note=entry.note, created_at=now)
            for entry in movement.entries])
    pending: dict[str, int] = session.info.setdefault(_PENDING_BALANCES, {})
    for entry in movement.entries:
        pending[entry.seller_id] = pending.get(entry.seller_id, 0) + entry.amount_cents
    return True


def _entry_arrays(movement: Movement) -> dict[str, list[Any]]:
    """The movement's entries as one list per column, the parameters of ``_MOVEMENT_WITH_ENTRIES``."""
    rows = [{**vars(entry), "reason": entry.reason.value} for entry in movement.entries]
    return {f"entry_{column}": [row[column] for row in rows] for column in _ENTRY_COLUMNS}


# The balance changes of a transaction's movements wait in its session until it commits, or until a balance
# is read in it (decision 0314): then one upsert applies them all. So a consumer batch of refunds sends one
# balance statement, not one per refund, and on PostgreSQL the sellers' balance rows, which every sale and
# refund of a seller writes, are locked for the last statement and the commit only. They are also the last
# locks a transaction takes (after its orders' rows): two transactions never wait for each other in a cycle.
_PENDING_BALANCES = "payments_pending_balances"


async def _apply_pending_balances(session: AsyncSession) -> None:
    pending = session.info.pop(_PENDING_BALANCES, None)
    if pending:
        await _add_to_balances(session, pending)


@event.listens_for(Session, "before_commit")
def _apply_pending_balances_before_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_BALANCES, None)
    if pending:  # runs inside the AsyncSession's greenlet: the sync API reaches the async driver
        connection = session.connection()
        connection.execute(_ADD_TO_BALANCE[_dialect(connection)], _balance_rows(pending, utcnow()))


@event.listens_for(Session, "after_transaction_end")
def _forget_pending_balances(session: Session, transaction: SessionTransaction) -> None:
    # The session's own transaction ended without applying them: a rollback, or closed without a commit.
    # (A flush's inner transaction ends too; that is not the end of the database transaction.)
    if transaction.parent is None:
        session.info.pop(_PENDING_BALANCES, None)


def _balance_rows(amounts: dict[str, int], now: dt.datetime) -> list[dict[str, Any]]:
    # Sellers in id order: transactions lock the same rows in the same order.
    return [dict(seller_id=seller_id, balance_cents=amounts[seller_id], updated_at=now) for seller_id in sorted(amounts)]


async def _add_to_balances(session: AsyncSession, amounts: dict[str, int]) -> None:
    """balance += amount per seller in the database itself (one executemany INSERT ... ON CONFLICT DO UPDATE),
    never read-modify-write in Python: two transactions crediting one seller at once must both count."""
    if not amounts:
        return
    connection = await session_connection(session)
    await execute(connection, _ADD_TO_BALANCE[_dialect(connection)], _balance_rows(amounts, utcnow()))


async def lock_order(session: AsyncSession, order_id: str) -> None:
    """Serialize the ledger decisions about one order (payouts, refund allocation, chargebacks): each reads
    the order's earlier debits and transfers, so two at once must not decide from the same picture.
    PostgreSQL: the order's row is locked until commit; SQLite serializes writers anyway."""
    if dialect_of(session) != "sqlite":
        await session.execute(select(PaidOrder.order_id).where(PaidOrder.order_id == order_id).with_for_update())


async def movement_exists(session: AsyncSession, key: str) -> bool:
    return await session.get(LedgerMovement, key) is not None


async def lock_balances(session: AsyncSession, seller_ids: Iterable[str]) -> dict[str, int]:
    """The sellers' balances, their rows locked until commit (PostgreSQL), so two payouts never spend
    the same balance; SQLite serializes writers anyway."""
    ids = sorted(set(seller_ids))
    await _add_to_balances(session, {**dict.fromkeys(ids, 0), **session.info.pop(_PENDING_BALANCES, {})})
    query = select(SellerBalance).where(SellerBalance.seller_id.in_(ids)).order_by(SellerBalance.seller_id)
    if dialect_of(session) != "sqlite":
        query = query.with_for_update()
    rows = (await session.scalars(query.execution_options(populate_existing=True))).all()
    return {row.seller_id: row.balance_cents for row in rows}


async def balance(session: AsyncSession, seller_id: str) -> int:
    await _apply_pending_balances(session)
    found = await session.scalar(select(SellerBalance.balance_cents).where(SellerBalance.seller_id == seller_id))
    return int(found or 0)


_DEBIT_REASONS = [r.value for r in DEBIT_REASONS] + [Reason.ADJUSTMENT.value]
# Written into the statement as SQL literals (our own enum words), not as an expanding list parameter, which
# SQLAlchemy renders again at every execution of a statement otherwise built once.
if not all(reason.isidentifier() for reason in _DEBIT_REASONS):  # safe to write as SQL literals
    raise RuntimeError(f"ledger reasons must be plain words to be SQL literals: {_DEBIT_REASONS}")
_DEBIT_REASON_LITERALS: list[ColumnElement[Any]] = [literal_column(f"'{reason}'") for reason in _DEBIT_REASONS]
_LINES = cast(Table, PaidOrderLine.__table__)
_ORDERS = cast(Table, PaidOrder.__table__)


def lines_and_debits_statement(*leading: ColumnElement[Any]) -> Select[Any]:
    """An order's lines with each line's earlier debits (``:order_id``), in ONE statement, after ``leading``
    order-level columns (the same on every row; the order's one row, lines NULL, when it has no lines).
    Build it once (decision 0307) and read it with ``lines_and_debits_of``."""
    debits = (select(func.sum(_ENTRIES.c.amount_cents))
              .where(_ENTRIES.c.order_id == _LINES.c.order_id, _ENTRIES.c.line_id == _LINES.c.line_id,
                     _ENTRIES.c.reason.in_(_DEBIT_REASON_LITERALS))
              .correlate(_LINES).scalar_subquery())
    return (select(*leading, _LINES.c.line_id, _LINES.c.seller_id, _LINES.c.gross_cents, _LINES.c.fee_cents,
                   _LINES.c.net_cents, debits)
            .select_from(_ORDERS).outerjoin(_LINES, _LINES.c.order_id == _ORDERS.c.order_id)
            .where(_ORDERS.c.order_id == bindparam("order_id")).order_by(_LINES.c.position))


def lines_and_debits_of(rows: Sequence[Sequence[Any]], leading: int = 0) -> tuple[list[Line], dict[str, int]]:
    """(the order's lines as the ledger's rules see them, each line's earlier refund and chargeback debits in
    positive cents, less reversals of them (line adjustments)) from the rows of a ``lines_and_debits_statement``
    with ``leading`` columns: a line with no debit entries has no key."""
    lines = [Line(*row[leading:leading + 5]) for row in rows if row[leading] is not None]
    return lines, {str(row[leading]): -int(row[-1]) for row in rows if row[leading] is not None and row[-1] is not None}


_LINES_AND_DEBITS = lines_and_debits_statement()


async def lines_and_debits(session: AsyncSession, order_id: str) -> tuple[list[Line], dict[str, int]]:
    """(the order's lines, their earlier debits) in one statement: see ``lines_and_debits_of``."""
    rows = (await execute(await session_connection(session), _LINES_AND_DEBITS, {"order_id": order_id})).all()
    return lines_and_debits_of(rows)


async def entries_of_movement(session: AsyncSession, key: str) -> list[LedgerEntry]:
    return list((await session.scalars(select(LedgerEntry).where(LedgerEntry.movement_key == key)
                                       .order_by(LedgerEntry.id))).all())


async def seller_entries(session: AsyncSession, seller_id: str, *, reason: str | None, text: str | None,
                         offset: int, limit: int) -> tuple[list[LedgerEntry], int]:
    query = select(LedgerEntry).where(LedgerEntry.seller_id == seller_id)
    if reason:
        query = query.where(LedgerEntry.reason == reason)
    if text:
        pattern = f"%{text.lower()}%"
        query = query.where(or_(func.lower(LedgerEntry.note).like(pattern), func.lower(LedgerEntry.order_id).like(pattern)))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(LedgerEntry.id.desc()).offset(offset).limit(limit))
    return list(rows.all()), int(total or 0)


async def order_entries(session: AsyncSession, order_id: str, seller_id: str | None = None) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.order_id == order_id)
    if seller_id is not None:
        query = query.where(LedgerEntry.seller_id == seller_id)
    return list((await session.scalars(query.order_by(LedgerEntry.id))).all())


async def balances_against_entries(session: AsyncSession) -> dict[str, tuple[int, int]]:
    """seller -> (stored balance, Σ entries), read in ONE statement so both come from the same snapshot
    (two statements under READ COMMITTED could straddle a commit and show a difference that is not there)."""
    await _apply_pending_balances(session)
    summed = (select(LedgerEntry.seller_id.label("seller_id"), func.sum(LedgerEntry.amount_cents).label("total"))
              .group_by(LedgerEntry.seller_id).subquery())
    rows = await session.execute(
        select(SellerBalance.seller_id, SellerBalance.balance_cents, func.coalesce(summed.c.total, 0))
        .outerjoin(summed, summed.c.seller_id == SellerBalance.seller_id))
    return {seller: (int(stored), int(total)) for seller, stored, total in rows.all()}


async def sum_by_seller(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(LedgerEntry.seller_id, func.sum(LedgerEntry.amount_cents))
                                 .group_by(LedgerEntry.seller_id))
    return {seller: int(total) for seller, total in rows.all()}

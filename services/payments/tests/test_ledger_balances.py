"""The sellers' running balances (P6) follow the ledger's movements (decision 0314): applied at the
transaction's commit, or before a balance is read in it, also across an ORM flush; never those of a
transaction rolled back, or of one whose session was closed without a commit."""

from __future__ import annotations

from support import Payments

from payments.ledger import domain
from payments.ledger import repository as ledger
from payments.models import SellerAccount


def adjustment(key: str, seller_id: str, cents: int) -> domain.Movement:
    return domain.adjustment(key, seller_id, cents, "balance test")


async def test_p6_balances_follow_movements_at_commit_and_reads_in_the_transaction_see_them(payments: Payments) -> None:
    async with payments.sessionmaker() as session:
        assert await ledger.record(session, adjustment("a1", "ada", 1000))
        assert await ledger.record(session, adjustment("g1", "grace", 500))
        assert await ledger.balance(session, "ada") == 1000  # read inside the transaction: includes its movements
        assert await ledger.record(session, adjustment("a2", "ada", -300))
        assert await ledger.lock_balances(session, ["ada", "grace", "hedy"]) == {"ada": 700, "grace": 500, "hedy": 0}
        assert await ledger.record(session, adjustment("a3", "ada", 40))
        session.add(SellerAccount(seller_id="zed", details_submitted=False, charges_enabled=False,
                                  payouts_enabled=False, ready=False))
        await session.flush()  # an ORM flush in between (its inner transaction ends; the database's goes on)
        await session.commit()
    async with payments.sessionmaker() as session:
        assert await ledger.balance(session, "ada") == 740
        assert await ledger.record(session, adjustment("a4", "ada", 5))
        await session.rollback()  # its balance change goes with it, also in this same session's next transaction
        assert await ledger.record(session, adjustment("g2", "grace", 1))
        await session.commit()
    async with payments.sessionmaker() as session:
        assert await ledger.record(session, adjustment("a5", "ada", 7))
        await session.close()  # closed without a commit: the same as a rollback
        assert await ledger.record(session, adjustment("g3", "grace", 2))
        await session.commit()
    async with payments.sessionmaker() as session:
        assert {seller: stored for seller, (stored, _) in (await ledger.balances_against_entries(session)).items()} == {
            "ada": 740, "grace": 503, "hedy": 0}
        assert all(stored == total for stored, total in (await ledger.balances_against_entries(session)).values())

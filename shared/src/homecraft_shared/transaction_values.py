"""A value a hot path keeps on its session for the session's current transaction only.

Several hot paths answer a question once per transaction and keep the answer on the session
(``session.info``) for the rest of it: the transaction's connection (``connections.session_connection``),
the stored Stripe events a consumer batch read ahead, the paid orders it locked ahead (payments). The answer
belongs to that transaction: after its commit or rollback, in the next transaction, it would be stale (a
row changed since, a lock no longer held, a connection given back to the pool).

``KeptForTransaction`` keeps the value with the transaction it was kept in, and ``get`` gives it back only
while that same transaction is the session's current one and still usable (not after a failed flush), so a
caller that finds nothing simply asks again.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


class KeptForTransaction(Generic[T]):
    """One kind of value, kept per session for its current transaction. Create once per kind, at import time."""

    __slots__ = ("_key",)

    def __init__(self, name: str) -> None:
        self._key = f"kept_for_transaction:{name}"

    def keep(self, session: AsyncSession, value: T) -> None:
        """Keep ``value`` for the session's current transaction (it must have begun)."""
        transaction = session.sync_session.get_transaction()
        if transaction is None:
            raise RuntimeError("nothing to keep a value for: the session has no transaction")
        session.info[self._key] = (transaction, value)

    def get(self, session: AsyncSession) -> T | None:
        """The value kept in the session's current transaction, if it is still usable; else None."""
        kept = session.info.get(self._key)
        if kept is None:
            return None
        transaction = session.sync_session.get_transaction()
        if transaction is None or kept[0] is not transaction or not transaction.is_active:
            return None
        value: T = kept[1]
        return value

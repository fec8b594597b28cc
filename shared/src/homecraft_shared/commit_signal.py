"""Signals raised by commits: a background loop of this process wakes as soon as work for it commits.

Code that writes rows a loop acts on (the outbox's relay; payments' transfer maker) flags its session;
when that transaction commits, every waiter of the signal in this process is set, so the loop runs now
instead of at its next poll. A rollback drops the flag. The poll stays the loops' guarantee (other
processes' commits, a flag lost with a crash); the signal only cuts latency.
"""

from __future__ import annotations

import asyncio
import weakref

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction


class CommitSignal:
    """One kind of committed work. Create once per kind, at import time (it registers session listeners)."""

    def __init__(self, name: str) -> None:
        self._key = f"commit_signal:{name}"
        self._waiters: weakref.WeakSet[asyncio.Event] = weakref.WeakSet()
        event.listen(Session, "after_commit", self._after_commit)
        event.listen(Session, "after_soft_rollback", self._after_rollback)

    def flag(self, session: AsyncSession | Session) -> None:
        """The session's transaction wrote work of this kind: wake the waiters when it commits."""
        session.info[self._key] = True

    def waiter(self) -> asyncio.Event:
        """An event set at each such commit in this process (the loop clears it before each pass)."""
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        return waiter

    def wake(self) -> None:
        """Wake the waiters now (for work committed without a flagged session, e.g. by a group commit)."""
        for waiter in list(self._waiters):
            waiter.set()

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(self._key, False):
            self.wake()

    def _after_rollback(self, session: Session, _transaction: SessionTransaction) -> None:
        session.info.pop(self._key, None)

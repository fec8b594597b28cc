"""The loop of a background worker that works in passes: the outbox relay, payments' transfer maker, sweeper and
reconciliation schedule, the retention and engagement pruners, trending, refund escalation, the session sweep.

A pass does what is due and says how much it did. The loop runs the next pass at once when the last one
did a full batch (more is likely waiting), else when a wake-up event is set (a ``CommitSignal`` waiter: work
for it committed in this process) or the poll interval has passed, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


async def run_passes(
    pass_: Callable[[], Awaitable[int]],
    *,
    poll_seconds: float,
    logger: logging.Logger,
    failure_message: str,
    wake: asyncio.Event | None = None,
    full: int | None = None,
    first_after_poll: bool = False,
) -> None:
    """Run ``pass_`` until cancelled: again at once after a full pass (it returned ``full`` or more), else
    once ``wake`` is set or ``poll_seconds`` have passed. A pass that raises is logged on ``logger`` as a
    warning (``failure_message``, the error's repr) and the next one runs ``poll_seconds`` later, whatever
    wakes meanwhile: a pass that failed (NATS down, the database busy) would fail again at every commit.
    ``first_after_poll``: the first pass ``poll_seconds`` after the start, not at once (nothing is due yet)."""
    if first_after_poll:
        await _wake_up_or_poll(None, poll_seconds)
    while True:
        if wake is not None:
            # Cleared before the pass, not after it: work committed during the pass sets it again and the
            # wait below returns at once; cleared after the pass, that wake-up would wait for the next poll.
            wake.clear()
        try:
            done = await pass_()
        except Exception as exc:
            logger.warning(failure_message, extra={"error": repr(exc)})
            await asyncio.sleep(poll_seconds)
            continue
        if full is None or done < full:
            await _wake_up_or_poll(wake, poll_seconds)


async def _wake_up_or_poll(wake: asyncio.Event | None, poll_seconds: float) -> None:
    if wake is None:
        await asyncio.sleep(poll_seconds)
        return
    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that arrives as
    # the wait completes, and the service would never stop.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(poll_seconds):
            await wake.wait()

"""run_passes: the loop of every background worker that works in passes (the outbox relay, sweepers, pruners).

The poll interval is 60 s wherever a test proves that something other than the poll ran the next pass; the
guard timeouts only stop a broken loop from hanging the test, no test measures how long anything took.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import pytest

from homecraft_shared.background import run_passes

NEVER = 60.0  # a poll interval no test waits for
GUARD = 10.0  # how long a test waits for a pass that should come (long before NEVER)
logger = logging.getLogger("test_background")


class LoopLeftRunning(BaseException):
    """Raised by the passes of a loop that swallowed its cancellation (not an Exception: the loop lets it out)."""


class Passes:
    """A pass that returns the given counts in turn (0 once they are used up) and lets a test await each pass;
    ``during`` runs inside the pass of that number (1-based) before it returns or raises."""

    def __init__(self, returns: Sequence[int | Exception] = (),
                 during: dict[int, Callable[[], Awaitable[object]]] | None = None) -> None:
        self.ran = 0
        self.stopped = False
        self._returns = list(returns)
        self._during = during or {}
        self._ran_changed = asyncio.Condition()

    async def __call__(self) -> int:
        await asyncio.sleep(0)  # a loop that never waits still lets the test run (and fail)
        if self.stopped:
            raise LoopLeftRunning
        self.ran += 1
        async with self._ran_changed:
            self._ran_changed.notify_all()
        if self.ran in self._during:
            await self._during[self.ran]()
        outcome = self._returns[self.ran - 1] if self.ran <= len(self._returns) else 0
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def until(self, count: int) -> None:
        """Wait until ``count`` passes have started (fails the test after GUARD seconds)."""
        async with asyncio.timeout(GUARD), self._ran_changed:
            await self._ran_changed.wait_for(lambda: self.ran >= count)

    async def settle(self) -> None:
        """Give the loop many turns (and a little time) to run a pass it should not run."""
        for _ in range(20):
            await asyncio.sleep(0.005)


@asynccontextmanager
async def running(passes: Passes, *, poll_seconds: float, wake: asyncio.Event | None = None,
                  full: int | None = None, first_after_poll: bool = False) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(run_passes(passes, poll_seconds=poll_seconds, logger=logger,
                                          failure_message="test pass failed", wake=wake, full=full,
                                          first_after_poll=first_after_poll))
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.wait([task], timeout=GUARD)
        if not task.done():  # it swallowed the cancellation: stopped through its next pass, or the test would hang
            passes.stopped = True
            if wake is not None:
                wake.set()
            await asyncio.wait([task], timeout=GUARD)


async def test_a_wake_up_runs_the_next_pass_at_once() -> None:
    passes, wake = Passes(), asyncio.Event()
    async with running(passes, poll_seconds=NEVER, wake=wake):
        await passes.until(1)
        await passes.settle()
        assert passes.ran == 1, "without a wake-up the loop waits for the poll"
        wake.set()
        await passes.until(2)


async def test_a_wake_up_during_a_pass_is_not_lost() -> None:
    wake = asyncio.Event()

    async def commit() -> None:  # work for the loop committed while its first pass runs
        wake.set()

    passes = Passes(during={1: commit})
    async with running(passes, poll_seconds=NEVER, wake=wake):
        await passes.until(2)


async def test_without_a_wake_up_the_next_pass_runs_after_the_poll_interval() -> None:
    passes = Passes()
    async with running(passes, poll_seconds=0.01, wake=asyncio.Event()):
        await passes.until(3)
    passes_without_wake = Passes()
    async with running(passes_without_wake, poll_seconds=0.01):
        await passes_without_wake.until(3)


async def test_a_full_pass_is_followed_by_another_at_once() -> None:
    passes = Passes(returns=[5, 7, 4])
    async with running(passes, poll_seconds=NEVER, wake=asyncio.Event(), full=5):
        await passes.until(3)  # after the full passes 5 and 7, neither woken nor polled
        await passes.settle()
        assert passes.ran == 3, "after a pass that was not full (4 < 5) the loop waits"


async def test_without_full_the_loop_waits_after_every_pass() -> None:
    passes = Passes(returns=[1_000])
    async with running(passes, poll_seconds=NEVER, wake=asyncio.Event()):
        await passes.until(1)
        await passes.settle()
        assert passes.ran == 1


async def test_a_failing_pass_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    passes = Passes(returns=[RuntimeError("database busy"), 0])
    with caplog.at_level(logging.WARNING, logger=logger.name):
        async with running(passes, poll_seconds=0.01, wake=asyncio.Event()):
            await passes.until(2)
    [record] = [record for record in caplog.records if record.name == logger.name]
    assert record.levelno == logging.WARNING and record.getMessage() == "test pass failed"
    assert record.__dict__["error"] == repr(RuntimeError("database busy"))


async def test_after_a_failing_pass_a_wake_up_does_not_cut_the_wait_short() -> None:
    passes, wake = Passes(returns=[RuntimeError("NATS down")]), asyncio.Event()
    async with running(passes, poll_seconds=NEVER, wake=wake):
        await passes.until(1)
        wake.set()
        await passes.settle()
        assert passes.ran == 1, "a failing pass would fail again at every commit"


async def test_cancelling_stops_the_loop_while_it_waits() -> None:
    passes = Passes()
    async with running(passes, poll_seconds=NEVER, wake=asyncio.Event()) as task:
        await passes.until(1)
        await passes.settle()
        task.cancel()
        await asyncio.wait([task], timeout=GUARD)
        assert task.cancelled()


async def test_cancelling_stops_the_loop_during_a_pass() -> None:
    passes = Passes(during={1: asyncio.Event().wait})  # the first pass never ends
    async with running(passes, poll_seconds=0.01) as task:
        await passes.until(1)
        task.cancel()
        await asyncio.wait([task], timeout=GUARD)
        assert task.cancelled()


async def test_first_after_poll_waits_one_interval_before_the_first_pass() -> None:
    """A pruner's first pass comes one interval after the start: nothing has expired yet."""
    waiting = Passes()
    async with running(waiting, poll_seconds=NEVER, first_after_poll=True):
        await waiting.settle()
        assert waiting.ran == 0
    polled = Passes()
    async with running(polled, poll_seconds=0.01, first_after_poll=True):
        await polled.until(2)  # then one after another, every interval

"""The best-effort batch drain (engagement's views and clicks, E1): bounded, batched, a failed batch
dropped and counted without stopping the rest, woken early by a full batch, flushed at a clean stop."""

from __future__ import annotations

import asyncio

from homecraft_shared.batching import BatchDrain


class Writer:
    def __init__(self, fail_batches: set[int] | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_batches = fail_batches or set()
        self.wrote = asyncio.Event()

    async def __call__(self, batch: list[int]) -> None:
        number = len(self.batches)
        self.batches.append(batch)
        self.wrote.set()
        if number in self.fail_batches:
            raise RuntimeError("the store is down")


async def test_a_full_queue_drops_new_items_and_counts_them() -> None:
    writer = Writer()
    drain = BatchDrain(writer, name="t", max_pending=3, max_batch=10, flush_seconds=60)
    assert drain.offer(range(5)) == 3
    assert (drain.pending, drain.stats.queued, drain.stats.dropped_full) == (3, 3, 2)
    await drain.flush()
    assert writer.batches == [[0, 1, 2]]
    assert drain.pending == 0


async def test_flush_writes_in_batches_of_at_most_max_batch_in_order() -> None:
    writer = Writer()
    drain = BatchDrain(writer, name="t", max_pending=100, max_batch=4, flush_seconds=60)
    drain.offer(range(10))
    await drain.flush()
    assert writer.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert drain.stats.batches == 3


async def test_a_failing_batch_is_dropped_and_counted_and_the_rest_are_written() -> None:
    writer = Writer(fail_batches={0})
    drain = BatchDrain(writer, name="t", max_pending=100, max_batch=2, flush_seconds=60)
    drain.offer(range(5))
    await drain.flush()  # never raises
    assert writer.batches == [[0, 1], [2, 3], [4]]
    assert (drain.stats.dropped_failed, drain.stats.batches, drain.pending) == (2, 2, 0)
    # Dropped means dropped: nothing is retried into a backlog.
    await drain.flush()
    assert len(writer.batches) == 3


async def test_a_full_batch_wakes_the_loop_before_its_interval() -> None:
    writer = Writer()
    drain = BatchDrain(writer, name="t", max_pending=100, max_batch=3, flush_seconds=3600)
    loop = asyncio.create_task(drain.run())
    try:
        drain.offer(range(2))
        await asyncio.sleep(0.05)
        assert writer.batches == []  # not full, the interval is an hour: nothing sent yet
        drain.offer([2])
        await asyncio.wait_for(writer.wrote.wait(), 5)
        assert writer.batches == [[0, 1, 2]]
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


async def test_stopping_the_loop_flushes_what_is_queued() -> None:
    writer = Writer()
    drain = BatchDrain(writer, name="t", max_pending=100, max_batch=50, flush_seconds=3600)
    loop = asyncio.create_task(drain.run())
    await asyncio.sleep(0)  # the loop is waiting
    drain.offer(range(3))
    loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)
    assert writer.batches == [[0, 1, 2]]

"""The long-lived heap frozen out of the garbage collector (decision 0312): full collections scan only
what was built after start-up, so they stop the event loop for milliseconds, not a tenth of a second. The
youngest generation is collected less often than CPython's default (decision 0325)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from homecraft_shared import heap
from homecraft_shared.runtime import ServiceRuntime
from homecraft_shared.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "services/orders/src/orders/migrations"


class Node:
    """A tracked object that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.me = self


def tracked(node: Node) -> bool:
    """Whether the cyclic collector still scans it (frozen objects are in no generation)."""
    return any(found is node for found in gc.get_objects())


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()  # the other tests' heap as they expect it
    gc.set_threshold(*thresholds)


def test_a_freeze_collects_the_garbage_first_then_takes_the_live_heap_out_of_the_collector() -> None:
    kept = Node()
    garbage = Node()
    collected = weakref.ref(garbage)
    del garbage
    assert tracked(kept)
    assert heap.freeze(full_collection=True) >= 1
    assert collected() is None, "a garbage cycle is collected before the freeze, not frozen for good"
    assert not tracked(kept)


async def test_the_runtime_collects_young_objects_less_often_and_freezes_the_heap_at_start_and_after_warm_up(
    database_url: str, nats_url: str, identity_keys: tuple[str, str]
) -> None:
    _, public_pem = identity_keys
    runtime = ServiceRuntime(ServiceSettings(service_name="demo", database_url=database_url, nats_url=nats_url,
                                             identity_public_key=public_pem, heap_freeze_after_seconds=0.2),
                             migrations=MIGRATIONS)
    before_start = Node()
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    await runtime.start()
    try:
        assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, 10, 10)
        assert not tracked(before_start)
        after_start = Node()
        assert tracked(after_start)
        for _ in range(100):  # the warm-up freeze, 0.2 s in
            if not tracked(after_start):
                break
            await asyncio.sleep(0.05)
        assert not tracked(after_start)
    finally:
        await runtime.stop()

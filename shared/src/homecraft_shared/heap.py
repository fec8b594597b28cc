"""Short full garbage collections: the long-lived heap frozen out of the cyclic collector (decision 0312).

Every full (generation 2) collection scans every tracked object of the process and stops the event loop
while it runs. A service's long-lived heap -- its modules, the ORM's mappers and compiled statements,
pydantic's validators, FastAPI's routes: ~170,000 objects in payments -- made each one take 100-140 ms
under load, about every 10 s: every request and event of that moment waited for it (the seconds-long
tails of issue 12's bench, with no disk stall beside them, were these). ``gc.freeze`` moves the objects
alive now into the permanent generation, which collections skip: the same collection then takes ~2 ms.

Frozen twice: when the service has started (after a full collection, so nothing collectable is frozen),
and once more when its first traffic has filled the caches that are built lazily (compiled statements,
validators, the first requests' imports), after a collection of the young generations. An object in a
garbage cycle that is frozen is never collected; after the full collection at start-up that can only be
a cycle that became garbage in the first minute and has already survived two collections: few, once.
Objects freed by their reference count (nearly all) are freed as before.
"""

from __future__ import annotations

import asyncio
import gc
import logging

logger = logging.getLogger(__name__)

# Allocations (less deallocations) between two collections of the youngest generation: CPython's default is
# 700. A service under load allocates that many in a fraction of a request, so the collector ran ~every
# request; each run walks every young object still alive (the in-flight requests' and events'), and nearly all
# of them are later freed by their reference count anyway. At 10,000 it runs ~14 times less often for a few
# hundred KB more of young objects (decision 0325). The older generations keep their defaults.
YOUNG_THRESHOLD = 10_000


def collect_young_less_often() -> None:
    """Raise the youngest generation's threshold to ``YOUNG_THRESHOLD`` (once, at start)."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def freeze(*, full_collection: bool) -> int:
    """Collect (every generation, or only the young ones), then freeze what is left; how many objects
    were frozen now."""
    if full_collection:
        gc.collect()
    else:
        gc.collect(1)
    before = gc.get_freeze_count()
    gc.freeze()
    return gc.get_freeze_count() - before


async def freeze_after_warm_up(seconds: float) -> None:
    """The second freeze, ``seconds`` into the service's life (its caches filled by then)."""
    await asyncio.sleep(seconds)
    frozen = freeze(full_collection=False)
    logger.info("froze the heap after warm-up", extra={"objects": frozen, "frozen_total": gc.get_freeze_count()})

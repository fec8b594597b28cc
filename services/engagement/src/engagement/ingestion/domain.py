"""E1, free of the web framework and the database: which engagement events are recorded.

Per visitor session: a VIEW of a product once per 10 minutes, a CLICK once per 5 minutes, an
ADD_TO_CART once per product for the session's life. The visitor key (the gateway's session id) is
never stored: only a keyed hash of it, inside the throttle key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from engagement.models import EventKind

VIEW_EVERY = dt.timedelta(minutes=10)
CLICK_EVERY = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Incoming:
    """An engagement event as received: what, which product, whose session, when (server time)."""

    kind: EventKind
    product_id: str
    visitor: str
    at: dt.datetime


def throttle_period(kind: EventKind, session_life: dt.timedelta) -> dt.timedelta:
    if kind is EventKind.VIEW:
        return VIEW_EVERY
    if kind is EventKind.CLICK:
        return CLICK_EVERY
    return session_life  # ADD_TO_CART: once per product per session


def visitor_hash(visitor: str) -> str:
    return hashlib.blake2b(visitor.encode(), digest_size=12, person=b"hc3-visitor").hexdigest()


def throttle_key(event: Incoming) -> str:
    return f"{visitor_hash(event.visitor)}:{event.kind.value}:{event.product_id}"


def epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def blocked_until(event: Incoming, session_life: dt.timedelta) -> int:
    """Epoch second from which the next event of the same key is accepted again."""
    return epoch(event.at + throttle_period(event.kind, session_life))


def by_key(events: Iterable[Incoming]) -> dict[str, list[Incoming]]:
    """Events grouped by throttle key, each group in time order."""
    grouped: dict[str, list[Incoming]] = {}
    for event in sorted(events, key=lambda e: e.at):
        grouped.setdefault(throttle_key(event), []).append(event)
    return grouped


def throttle_walk(events: list[Incoming], blocked: int | None, session_life: dt.timedelta
                  ) -> tuple[list[Incoming], int | None]:
    """E1 over one key's events in time order, starting from its stored block (epoch second, or
    None): the events that count, and the key's block after them (to the second)."""
    accepted: list[Incoming] = []
    for event in events:
        if blocked is not None and epoch(event.at) < blocked:
            continue
        accepted.append(event)
        blocked = blocked_until(event, session_life)
    return accepted, blocked

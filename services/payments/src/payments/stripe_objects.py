"""Reading Stripe's JSON objects defensively (fields may be ids or expanded objects, or absent)."""

from __future__ import annotations

from typing import Any


def text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def object_id(value: Any) -> str:
    """An id field that may also come expanded into the object."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        return text(value.get("id"))
    if value is not None and hasattr(value, "to_dict"):
        return text(value.to_dict().get("id"))
    return ""


def cents(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer amount in cents, got {value!r}")
    return value


def as_dict(obj: Any) -> dict[str, Any]:
    """A Stripe object (the library's StripeObject, or a parsed webhook payload) as a plain dict."""
    if isinstance(obj, dict):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    return to_dict() if callable(to_dict) else dict(obj)


async def collect(listing: Any) -> list[dict[str, Any]]:
    """Every item of a Stripe list, following its pages (async)."""
    return [as_dict(item) async for item in listing.auto_paging_iter()]

"""Calling the services a page is composed from: one call with a timeout that never raises."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from homecraft_shared.http_client import ServiceClient, ServiceUnavailable

logger = logging.getLogger(__name__)


class Call:
    """The outcome of one service call: ``data`` (the JSON) when it answered 2xx, else ``status``/``error``."""

    def __init__(self, data: Any = None, status: int | None = None, error: str | None = None) -> None:
        self.data, self.status, self.error = data, status, error

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


async def call(client: ServiceClient, method: str, url: str, *, within: float = 3.0, **kwargs: Any) -> Call:
    """One service call with a timeout; never raises for an unreachable or slow service."""
    try:
        response: httpx.Response = await asyncio.wait_for(client.request(method, url, **kwargs), within)
    except (ServiceUnavailable, TimeoutError, httpx.HTTPError) as exc:
        logger.warning("service call failed", extra={"url": url, "error": repr(exc)})
        return Call(error="unreachable")
    try:
        data = response.json() if response.content else None
    except ValueError:
        data = None
    return Call(data=data, status=response.status_code)


def problem_detail(result: Call, default: str = "Something went wrong; please try again.") -> str:
    if result.error:
        return "That part of the shop is not reachable right now; please try again in a moment."
    if isinstance(result.data, dict):
        errors = result.data.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e.get("message") or e.get("msg") or e) for e in errors if isinstance(e, dict)) or default
        if result.data.get("detail"):
            return str(result.data["detail"])
    return default

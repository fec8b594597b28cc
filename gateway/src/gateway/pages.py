"""Rendering pages: the templates (autoescaped: user text always shows as text) and the header's context."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
from fastapi.responses import Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.sessions import PageContext
from homecraft_shared.http_client import ServiceClient, ServiceUnavailable
from homecraft_shared.money import format_cents

logger = logging.getLogger(__name__)

env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                  autoescape=select_autoescape(default=True), enable_async=False)
env.filters["money"] = format_cents


def _stars(value: float | None) -> str:
    if value is None:
        return "☆☆☆☆☆"
    full = round(value)
    return "★" * full + "☆" * (5 - full)


env.filters["stars"] = _stars


async def render(ctx: PageContext, template: str, status: int = 200, **data: Any) -> Response:
    user = ctx.user
    body = env.get_template(template).render(
        user=user, cart_count=ctx.cart_count, csrf_token=ctx.lazy_csrf_token, flashes=ctx.take_flashes(),
        query=ctx.request.query_params.get("q", ""), **data,
    )
    return await ctx.html(body, status)


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

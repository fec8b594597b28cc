"""Rendering pages: the templates (autoescaped: user text always shows as text) and the header's context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.calls import Call, call, problem_detail
from gateway.composition import SharedPageData
from gateway.sessions import PageContext
from homecraft_shared.dependencies import runtime_of
from homecraft_shared.money import format_cents

__all__ = ["Call", "call", "env", "problem_detail", "render"]

env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                  autoescape=select_autoescape(default=True), enable_async=False,
                  auto_reload=False)  # templates change with a deploy, not while serving: no stat per render
env.filters["money"] = format_cents


def _stars(value: float | None) -> str:
    if value is None:
        return "☆☆☆☆☆"
    full = round(value)
    return "★" * full + "☆" * (5 - full)


env.filters["stars"] = _stars


async def render(ctx: PageContext, template: str, status: int = 200, **data: Any) -> Response:
    user = ctx.user
    nav = await runtime_of(ctx.request).resources.get(SharedPageData).category_nav()
    body = env.get_template(template).render(
        user=user, cart_count=ctx.cart_count, csrf_token=ctx.lazy_csrf_token, flashes=ctx.take_flashes(),
        query=ctx.request.query_params.get("q", ""), nav=nav, **data,
    )
    return await ctx.html(body, status)

"""Rendering pages: the templates (autoescaped: user text always shows as text) and the header's context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from gateway.calls import Call, call, problem_detail
from gateway.composition import SharedPageData
from gateway.pagecache import PLACEHOLDER, PageCache, cacheable_path, key_of, page_cache_headers
from gateway.sessions import COOKIE, PageContext
from homecraft_shared.dependencies import runtime_of
from homecraft_shared.money import format_cents

__all__ = ["Call", "call", "env", "problem_detail", "render"]

_DICT_ATTRIBUTES = frozenset(dir(dict))


class PageEnvironment(Environment):
    """Jinja2's environment with a fast path for ``p.title`` on the services' JSON (plain dicts).

    Jinja tries ``getattr(obj, name)`` first and falls back to ``obj[name]`` on the AttributeError;
    for a dict key that raise-and-catch was a fifth of a home page's render (decision 0701's
    profile). A dict has no attribute by that name unless it is one of dict's own (``items``,
    ``get``...), so looking the key up first gives exactly Jinja's answer, and dict's own names
    still go the usual way."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


env = PageEnvironment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                  autoescape=select_autoescape(default=True), enable_async=False,
                  auto_reload=False)  # templates change with a deploy, not while serving: no stat per render
env.filters["money"] = format_cents


def _stars(value: float | None) -> str:
    if value is None:
        return "☆☆☆☆☆"
    full = round(value)
    return "★" * full + "☆" * (5 - full)


env.filters["stars"] = _stars


async def render(ctx: PageContext, template: str, status: int = 200, *, keep: bool = False,
                 views_of: str | None = None, **data: Any) -> Response:
    """The page for this visitor. An anonymous storefront page (signed out, empty cart, no message)
    the caller says may be ``keep``-t (everything it shows was read; a page with a "not available"
    notice is not kept) is rendered with the page cache's placeholder for the CSRF token and kept
    (decision 0702); the visitor's own token is put in its place. ``views_of``: the product whose
    view a kept copy records (E1)."""
    request = ctx.request
    runtime = runtime_of(request)
    nav = await runtime.resources.get(SharedPageData).category_nav()
    query = request.query_params.get("q", "")
    page_cache = runtime.resources.get(PageCache)
    if (keep and nav is not None and page_cache.enabled and status == 200 and request.method == "GET" and cacheable_path(request.url.path)
            and ctx.user is None and not ctx.cart_count and not ctx.data.get("flash")):
        body = env.get_template(template).render(user=None, cart_count=0, csrf_token=Markup(PLACEHOLDER), flashes=[],
                                                 query=query, nav=nav, **data)
        needs_token = page_cache.store(key_of(request.scope), body, views_of)
        if needs_token:
            body = body.replace(PLACEHOLDER, ctx.csrf_token)
        had_cookie = COOKIE in request.cookies
        return await ctx.html(body, status, page_cache_headers(had_cookie, needs_token, ctx.settings))
    body = env.get_template(template).render(
        user=ctx.user, cart_count=ctx.cart_count, csrf_token=ctx.lazy_csrf_token, flashes=ctx.take_flashes(),
        query=query, nav=nav, **data,
    )
    return await ctx.html(body, status)

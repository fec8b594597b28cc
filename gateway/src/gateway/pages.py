"""Rendering pages: the templates (``gateway.templating``: autoescaped, user text always shows as text),
the header's context and the kept pages (decision 0703)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response
from markupsafe import Markup

from gateway.calls import Call, call, problem_detail
from gateway.composition import SharedPageData
from gateway.pagecache import PageCache, cacheable_path, key_of, page_cache_headers
from gateway.sessions import COOKIE, PageContext
from gateway.templating import PLACEHOLDER, SHELL_SLOTS, PageEnvironment, Shell, env
from homecraft_shared.dependencies import runtime_of

__all__ = ["Call", "PageEnvironment", "call", "env", "problem_detail", "render"]


async def render(ctx: PageContext, template: str, status: int = 200, *, keep: bool = False,
                 signed_in_too: bool = True, views_of: str | None = None, qa: dict[str, Any] | None = None,
                 **data: Any) -> Response:
    """The page for this visitor. A storefront page the caller says may be ``keep``-t (everything it
    shows was read; a page with a "not available" notice is not kept) is rendered once for nobody, as
    a ``Shell`` whose personal parts are slots, kept (decisions 0702, 0703), and filled for this
    visitor; ``signed_in_too``: whether signed-in users may be served it (home is the dashboard for
    them, C6); ``qa``: what a product page's Q&A slot shows; ``views_of``: the product whose view a
    kept copy records (E1). Other pages are rendered for the visitor as they are."""
    request = ctx.request
    runtime = runtime_of(request)
    nav = await runtime.resources.get(SharedPageData).category_nav()
    query = request.query_params.get("q", "")
    page_cache = runtime.resources.get(PageCache)
    if (keep and nav is not None and page_cache.enabled and status == 200 and request.method == "GET"
            and cacheable_path(request.url.path) and (signed_in_too or ctx.user is None)):
        shell = Shell(env.get_template(template).render(
            user=None, cart_count=0, csrf_token=Markup(PLACEHOLDER), flashes=[], query=query, nav=nav,
            shell=SHELL_SLOTS, **data), qa)
        needs_token = page_cache.store(key_of(request.scope), shell, views_of, signed_in_too)
        body = shell.fill(ctx.user, ctx.cart_count, lambda: ctx.csrf_token, ctx.take_flashes())
        # public (an ingress may keep it) only for a visitor with no session before or after this page
        personal = COOKIE in request.cookies or ctx.user is not None or ctx.dirty
        return await ctx.html(body, status, page_cache_headers(personal, needs_token, ctx.settings))
    body = env.get_template(template).render(
        user=ctx.user, cart_count=ctx.cart_count, csrf_token=ctx.lazy_csrf_token, flashes=ctx.take_flashes(),
        query=query, nav=nav, **data,
    )
    return await ctx.html(body, status)

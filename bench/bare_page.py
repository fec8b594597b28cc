"""The storefront bench's baseline: a bare FastAPI app rendering Jinja2 pages of the same size.

``bench/storefront_pages.py`` starts it under uvicorn (one worker, the same flags as the bench's other
baselines) with ``BARE_PAGES_DIR`` holding the pages the real gateway answered, one file per address
(``0.html``, ``1.html``, ...). ``GET /bare/{n}`` renders file ``n`` through a Jinja2 template (an
autoescaping environment, like the gateway's), so each scenario's baseline answers the very same HTML
bytes as the pages it is compared with: the difference is the gateway's work (sessions, the services'
calls, building the page), not the page's size.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse
from jinja2 import Environment, select_autoescape
from markupsafe import Markup


def create_app() -> FastAPI:
    pages = {int(p.stem): Markup(p.read_text(encoding="utf-8")) for p in Path(os.environ["BARE_PAGES_DIR"]).glob("*.html")}
    template = Environment(autoescape=select_autoescape(default=True)).from_string("{{ body }}")
    app = FastAPI()

    @app.get("/bare/{n}")
    async def bare(n: int) -> HTMLResponse:
        if n not in pages:
            raise HTTPException(404)
        return HTMLResponse(template.render(body=pages[n]))

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app

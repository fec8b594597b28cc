"""The storefront bench's baseline: a bare FastAPI app rendering a Jinja2 page of the same size.

``bench/storefront_pages.py`` starts it under uvicorn (one worker) with ``BARE_PAGE_FILE`` pointing
at a page the real gateway answered: each request renders that HTML through a Jinja2 template (the
same autoescaping environment as the gateway), so the difference to the gateway is the composition
(sessions, the services' calls), not the framework.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from jinja2 import Environment, select_autoescape
from markupsafe import Markup


def create_app() -> FastAPI:
    html = Path(os.environ["BARE_PAGE_FILE"]).read_text()
    template = Environment(autoescape=select_autoescape(default=True)).from_string("{{ body }}")
    app = FastAPI()

    @app.get("/bare")
    async def bare() -> HTMLResponse:
        return HTMLResponse(template.render(body=Markup(html)))

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app

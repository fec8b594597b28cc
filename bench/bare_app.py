"""The bench's baseline: a bare FastAPI app answering one JSON body from memory.

``bench/catalog_browse.py`` starts it under uvicorn exactly like the catalog (one worker, same flags)
with ``BARE_BODY_FILE`` pointing at a page the real catalog answered, so the ratio of a scenario's
throughput to this endpoint's says how close the catalog is to the framework's own speed on this
machine, in this run (the machine is shared, so absolute figures move between runs; ratios less so).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI


def create_app() -> FastAPI:
    body: dict[str, Any] = json.loads(Path(os.environ["BARE_BODY_FILE"]).read_text())
    app = FastAPI()

    @app.get("/bare")
    async def bare() -> dict[str, Any]:
        return body

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app

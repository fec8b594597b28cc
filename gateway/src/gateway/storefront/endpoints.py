from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from gateway.clients import ServiceClients, service_clients
from homecraft_shared.http_client import ServiceUnavailable
from homecraft_shared.money import format_cents

logger = logging.getLogger(__name__)

templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
templates.env.filters["money"] = format_cents

router = APIRouter(tags=["storefront"])


@router.get("/", response_class=HTMLResponse, summary="The storefront home page")
async def home(request: Request, clients: Annotated[ServiceClients, Depends(service_clients)]) -> HTMLResponse:
    buckets: dict[str, Any] | None = None
    try:
        response = await clients.catalog.get("/home")
        if response.status_code == 200:
            buckets = response.json()
        else:
            logger.warning("catalog home failed", extra={"status": response.status_code})
    except ServiceUnavailable as exc:
        logger.warning("catalog unreachable", extra={"error": str(exc)})
    return templates.TemplateResponse(request, "home.html", {"buckets": buckets})


@router.get("/media/images/{storage_key}", summary="Product images, served through the storefront")
async def product_image(
    storage_key: str, clients: Annotated[ServiceClients, Depends(service_clients)]
) -> Response:
    upstream = await clients.catalog.get(f"/media/images/{storage_key}")
    if upstream.status_code != 200:
        return Response(status_code=upstream.status_code)
    headers = {k: v for k, v in upstream.headers.items() if k.lower() in ("cache-control", "etag")}
    return Response(upstream.content, media_type=upstream.headers.get("content-type"), headers=headers)

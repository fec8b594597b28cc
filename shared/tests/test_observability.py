"""Structured request logs carry the correlation id, which is adopted from the caller or minted."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from fastapi import FastAPI

from homecraft_shared.observability import CorrelationMiddleware, JsonFormatter, correlation_id_var


def make_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(CorrelationMiddleware)

    @app.get("/hello")
    async def hello() -> dict[str, str | None]:
        logging.getLogger("demo").info("inside the handler")
        return {"correlation_id": correlation_id_var.get()}

    return app


async def test_incoming_correlation_id_is_used_echoed_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/hello", headers={"X-Correlation-Id": "abc-123"})
    assert response.json() == {"correlation_id": "abc-123"}
    assert response.headers["x-correlation-id"] == "abc-123"
    formatter = JsonFormatter("demo")
    lines = [json.loads(formatter.format(r)) for r in caplog.records]
    handler_line = next(line for line in lines if line["msg"] == "inside the handler")
    request_line = next(line for line in lines if line["msg"] == "request")
    assert handler_line["correlation_id"] == "abc-123"
    assert request_line["correlation_id"] == "abc-123"
    assert request_line["status"] == 200 and request_line["path"] == "/hello"


async def test_a_missing_or_oversized_correlation_id_is_replaced() -> None:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        minted = (await client.get("/hello")).json()["correlation_id"]
        oversized = (await client.get("/hello", headers={"X-Correlation-Id": "x" * 500})).json()["correlation_id"]
    assert minted and len(minted) == 32
    assert oversized != "x" * 500 and len(oversized) == 32

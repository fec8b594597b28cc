"""Errors every service answers: an unexpected exception is one logged problem+json 500 on a keep-alive
connection that stays usable (issue 7, finding 3); a 405 names the allowed methods (finding 4)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI

from homecraft_shared.app import create_service_app
from homecraft_shared.runtime import ServiceRuntime
from homecraft_shared.settings import ServiceSettings
from homecraft_shared.testing import serve_on_port
from homecraft_shared.testing.infra import free_port

# Any service's migrations create the messaging tables; the orders skeleton is the smallest.
MIGRATIONS = Path(__file__).resolve().parents[2] / "services/orders/src/orders/migrations"


def make_app(database_url: str, nats_url: str) -> FastAPI:
    runtime = ServiceRuntime(
        ServiceSettings(service_name="errdemo", database_url=database_url, nats_url=nats_url), migrations=MIGRATIONS
    )
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> dict[str, str]:
        raise RuntimeError("kaboom")

    @router.get("/things/{thing_id}")
    async def read_thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    @router.delete("/things/{thing_id}")
    async def delete_thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    return create_service_app(runtime, title="errors demo", description="", routers=[router])


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: str) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request and its response on an open keep-alive connection."""
    writer.write(request.encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    assert status_line, "the server closed the connection"
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def get(path: str, method: str = "GET", correlation: str = "c") -> str:
    return f"{method} {path} HTTP/1.1\r\nHost: t\r\nX-Correlation-Id: {correlation}\r\n\r\n"


async def test_an_unexpected_error_is_one_logged_problem_and_the_connection_stays_usable(
    database_url: str, nats_url: str
) -> None:
    app = make_app(database_url, nats_url)
    records = Records()
    logging.getLogger().addHandler(records)
    try:
        async with serve_on_port(app, port := free_port()):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            status, headers, body = await exchange(reader, writer, get("/boom", correlation="cid-boom"))
            assert status == 500
            assert headers["content-type"] == "application/problem+json"
            assert headers["x-correlation-id"] == "cid-boom"
            assert b'"correlation_id":"cid-boom"' in body and b"kaboom" not in body
            # The same connection answers the next request (it used to be reset).
            status, _, body = await exchange(reader, writer, get("/healthz"))
            assert status == 200 and b'"errdemo"' in body
            writer.close()
    finally:
        logging.getLogger().removeHandler(records)
    errors = [r for r in records.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].exc_info is not None and "kaboom" in str(errors[0].exc_info[1])
    assert getattr(errors[0], "correlation_id", None) == "cid-boom"
    request_lines = [r for r in records.records if r.getMessage() == "request" and getattr(r, "path", "") == "/boom"]
    assert [getattr(r, "status", None) for r in request_lines] == [500]


@pytest.mark.parametrize("method", ["TRACE", "PUT"])
async def test_a_method_not_allowed_names_every_allowed_method(database_url: str, nats_url: str, method: str) -> None:
    app = make_app(database_url, nats_url)
    async with serve_on_port(app, port := free_port()):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        status, headers, _ = await exchange(reader, writer, get("/things/7", method=method))
        writer.close()
    assert status == 405
    assert headers["content-type"] == "application/problem+json"
    assert headers["allow"] == "GET, DELETE"

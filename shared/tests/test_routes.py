"""RequestOnlyRoute (decision 0308): the endpoint gets the request and its response is sent as it is; the
app's problem handlers, 405 and the OpenAPI document work as for any route; a declaration that would
silently never run (a dependency, a parameter) is refused when the route is built."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import BaseModel

from homecraft_shared.errors import Problem, install_error_handlers
from homecraft_shared.openapi import install_openapi, problems
from homecraft_shared.routes import RequestOnlyRoute


class Answer(BaseModel):
    echoed: str
    length: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_openapi(app)
    router = APIRouter(route_class=RequestOnlyRoute, tags=["raw"])

    @router.post("/echo", response_model=Answer, responses=problems(400), summary="Echo the raw body")
    async def echo(request: Request) -> Response:
        # What FastAPI's own handler would have parsed for dependencies before the call (Starlette keeps it
        # on the request): nothing was.
        untouched = not any(hasattr(request, kept) for kept in ("_cookies", "_query_params"))
        body = await request.body()
        if not body:
            raise Problem("The body is empty.")
        answer = Answer(echoed=body.decode(), length=len(body))
        return Response(answer.model_dump_json(), status_code=202, media_type="application/json",
                        headers={"x-seen-query": request.url.query, "x-untouched": str(untouched)})

    app.include_router(router)
    return app


async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app()), base_url="http://t") as client:
        return await client.request(method, path, **kwargs)


async def test_the_endpoint_gets_the_request_and_its_response_is_sent_as_it_is() -> None:
    response = await call("POST", "/echo?x=1", content=b"not json at all")
    assert response.status_code == 202
    assert response.json() == {"echoed": "not json at all", "length": 15}
    assert response.headers["x-seen-query"] == "x=1"
    assert response.headers["x-untouched"] == "True"  # no dependency solving ran before the endpoint


async def test_a_problem_raised_by_the_endpoint_is_a_problem_answer_and_other_methods_are_405() -> None:
    response = await call("POST", "/echo", content=b"")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert json.loads(response.text)["detail"] == "The body is empty."
    assert (await call("GET", "/echo")).status_code == 405


async def test_the_route_is_documented_from_its_declaration() -> None:
    spec = (await call("GET", "/openapi.json")).json()
    operation = spec["paths"]["/echo"]["post"]
    assert operation["summary"] == "Echo the raw body" and operation["tags"] == ["raw"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Answer"}
    assert "400" in operation["responses"]
    assert set(spec["components"]["schemas"]["Answer"]["properties"]) == {"echoed", "length"}


async def needs_nothing() -> None:
    return None


def test_an_endpoint_declaring_more_than_the_request_is_refused() -> None:
    router = APIRouter(route_class=RequestOnlyRoute)
    with pytest.raises(TypeError, match="RequestOnlyRoute"):
        @router.post("/two")
        async def two(request: Request, extra: int) -> Response:
            return Response()
    with pytest.raises(TypeError, match="RequestOnlyRoute"):
        @router.post("/dependent", dependencies=[Depends(needs_nothing)])
        async def dependent(request: Request) -> Response:
            return Response()

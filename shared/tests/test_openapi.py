"""The OpenAPI document says what a service does (issue 7, finding 4): errors are problem+json with a
declared schema, the identity token is a bearer security scheme, optional identity is optional."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from homecraft_shared.dependencies import CurrentIdentity, OptionalIdentity
from homecraft_shared.errors import NotFound, install_error_handlers
from homecraft_shared.inputs import IdParam
from homecraft_shared.openapi import install_openapi, problems

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_openapi(app)

    @app.get("/mine/{thing_id}", responses=problems(403, 404))
    async def mine(thing_id: IdParam, identity: CurrentIdentity) -> dict[str, str]:
        raise NotFound(f"no thing {thing_id}")

    @app.get("/public")
    async def public(identity: OptionalIdentity) -> dict[str, str]:
        return {"who": identity.username if identity else "anonymous"}

    @app.get("/plain")
    async def plain() -> dict[str, str]:
        return {}

    return app


async def openapi() -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app()), base_url="http://t") as client:
        return (await client.get("/openapi.json")).json()


async def test_errors_are_declared_as_problem_json() -> None:
    spec = await openapi()
    responses = spec["paths"]["/mine/{thing_id}"]["get"]["responses"]
    assert sorted(responses) == ["200", "401", "403", "404", "422", "500"]
    for code in ("401", "403", "404", "422", "500"):
        assert responses[code]["content"] == PROBLEM, code
    assert responses["200"]["content"].keys() == {"application/json"}
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "correlation_id"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert sorted(spec["paths"]["/plain"]["get"]["responses"]) == ["200", "500"]


async def test_the_identity_token_is_a_bearer_scheme_required_or_optional() -> None:
    spec = await openapi()
    assert spec["components"]["securitySchemes"] == {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT (EdDSA), signed by the gateway",
            "description": "The identity token the gateway signs for the signed-in user (docs/decisions/0003).",
        }
    }
    assert spec["paths"]["/mine/{thing_id}"]["get"]["security"] == [{"bearer": []}]
    assert spec["paths"]["/public"]["get"]["security"] == [{}, {"bearer": []}]
    assert "401" in spec["paths"]["/public"]["get"]["responses"]  # a rejected token is still a 401
    assert "security" not in spec["paths"]["/plain"]["get"]

"""An OpenAPI document that says what the service does: its errors, its authentication.

FastAPI documents only 200 and 422, both as ``application/json``. ``install_openapi`` rewrites the
generated document once:

- every error response (4xx/5xx) is ``application/problem+json`` with the ``Problem`` schema
  (what ``homecraft_shared.errors.problem_response`` sends);
- every operation declares 500, operations with parameters or a body 422 (and with a body 400:
  unparseable), and operations that
  read the identity token 401 (missing or rejected token) — all three can happen anywhere;
- the identity token is the ``bearer`` security scheme; an operation where the token is optional
  lists ``{}`` as an alternative (see ``homecraft_shared.identity``).

Statuses only some endpoints produce (400, 403, 404, 409, 413, 415) are declared where they happen
with ``responses=problems(403, 404)`` on the route (or the router).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from homecraft_shared.errors import PROBLEM_MEDIA_TYPE

BEARER_SCHEME = "bearer"
# The scheme name optional-identity endpoints use while FastAPI generates; merged into "bearer".
OPTIONAL_BEARER_SCHEME = "bearer (optional)"

DESCRIPTIONS = {
    400: "Bad request",
    401: "Identity token missing or rejected",
    403: "Not allowed for this identity",
    404: "Not found",
    405: "Method not allowed (the Allow header lists the allowed ones)",
    409: "Conflict with the current state",
    413: "Upload too large",
    415: "Unsupported file type",
    422: "Validation failed (each field's problem in errors)",
    500: "Unexpected error (logged with the correlation id)",
}


class FieldProblem(BaseModel):
    field: str = Field(description="Dotted location, e.g. query.page or price_cents; empty for the whole request")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every service answers errors."""

    type: str = Field(examples=["about:blank"])
    title: str
    status: int
    detail: str = Field(description="A message the caller can act on")
    correlation_id: str
    errors: list[FieldProblem] = Field(default_factory=list, description="Per-field problems (validation); may be absent")


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: these statuses answer a problem+json ``Problem``."""
    return {status: {"description": DESCRIPTIONS.get(status, "Error"), "model": Problem} for status in statuses}


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": dict(_PROBLEM_REF)}}


def _document_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    security = operation.get("security") or []
    schemes = {name for requirement in security for name in requirement}
    if OPTIONAL_BEARER_SCHEME in schemes:
        operation["security"] = [{}, {BEARER_SCHEME: []}]
    if schemes:
        responses.setdefault("401", {})
    if operation.get("requestBody"):
        responses.setdefault("400", {"description": "The body is not valid JSON (or form data)"})
    if operation.get("parameters") or operation.get("requestBody"):
        responses.setdefault("422", {})
    responses.setdefault("500", {})
    for code, response in responses.items():
        if code.isdigit() and int(code) in DESCRIPTIONS:
            response["description"] = response.get("description") or DESCRIPTIONS.get(int(code), "Error")
            if response["description"] == "Validation Error":
                response["description"] = DESCRIPTIONS[422]
            response["content"] = _problem_content()


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a generated OpenAPI document as described in the module docstring (in place)."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    for path_item in schema.get("paths", {}).values():
        for method in _METHODS:
            if method in path_item:
                _document_operation(path_item[method])
    # FastAPI's validation error shapes are never sent: every 422 is a Problem.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    security_schemes = components.setdefault("securitySchemes", {})
    optional = security_schemes.pop(OPTIONAL_BEARER_SCHEME, None)
    if optional is not None or security_schemes.get(BEARER_SCHEME):
        security_schemes[BEARER_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT (EdDSA), signed by the gateway",
            "description": "The identity token the gateway signs for the signed-in user (docs/decisions/0003).",
        }
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve the rewritten document at /openapi.json (generated once, on first request)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

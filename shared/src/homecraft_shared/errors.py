"""Problem-style JSON errors (RFC 9457) for every service.

Domain code raises ``Problem`` subclasses (or ``Problem`` itself) with a message a user can act on;
the handlers installed by ``install_error_handlers`` turn them, validation errors and anything
unexpected into ``application/problem+json`` responses carrying the correlation id.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from homecraft_shared.observability import current_correlation_id

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    status: int = 400
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.errors = errors


class NotFound(Problem):
    status = 404
    title = "Not found"


class Forbidden(Problem):
    status = 403
    title = "Forbidden"


class Unauthorized(Problem):
    status = 401
    title = "Authentication required"


class Conflict(Problem):
    status = 409
    title = "Conflict"


class ValidationFailed(Problem):
    status = 422
    title = "Validation failed"


def invalid_field(field: str, message: str, *, detail: str | None = None) -> ValidationFailed:
    """A 422 about one field: ``errors`` names it, ``detail`` repeats the message unless given."""
    return ValidationFailed(detail or message, errors=[{"field": field, "message": message}])


class FieldErrors:
    """Collects every field problem of one request, then raises them together as one 422.

    ``detail`` is the messages joined (after ``prefix`` when given); ``errors`` lists each one.
    """

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, *, prefix: str = "") -> None:
        if self.items:
            detail = " ".join(item["message"] for item in self.items)
            raise ValidationFailed(prefix + detail, errors=list(self.items))


def problem_response(
    status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "correlation_id": current_correlation_id(),
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(part) for part in err["loc"] if part != "body"), "message": err["msg"]}
        for err in exc.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        detail = "; ".join(f"{e['field'] or 'request'}: {e['message']}" for e in errors)
        return problem_response(422, "Validation failed", detail, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem_response(exc.status_code, detail, detail)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(500, "Internal error", "Something went wrong on our side; it was logged.")

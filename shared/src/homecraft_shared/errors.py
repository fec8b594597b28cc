"""Problem-style JSON errors (RFC 9457) for every service.

Domain code raises ``Problem`` subclasses (or ``Problem`` itself) with a message a user can act on;
the handlers installed by ``install_error_handlers`` turn them, validation errors and anything
unexpected into ``application/problem+json`` responses carrying the correlation id.

Unexpected exceptions are caught by ``UnexpectedErrorMiddleware``, not by an ``Exception`` handler:
Starlette's ``ServerErrorMiddleware`` (where such a handler would run) re-raises after answering,
so the server logged the error a second time and closed the keep-alive connection. The middleware
answers one problem+json 500, logs once (with the correlation id) and returns normally, so the
connection stays usable.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

    def reject_nulls(self, changes: Mapping[str, object], *, clearable: Collection[str] = ()) -> None:
        """A partial update (PATCH) sent null for a field that cannot be cleared."""
        for field, value in changes.items():
            if value is None and field not in clearable:
                self.add(field, f"{field} cannot be null.")

    def raise_if_any(self, *, prefix: str = "") -> None:
        if self.items:
            detail = " ".join(item["message"] for item in self.items)
            raise ValidationFailed(prefix + detail, errors=list(self.items))


def problem_response(
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
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
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(part) for part in err["loc"] if part != "body"), "message": err["msg"]}
        for err in exc.errors()
    ]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method some route of this path accepts. Starlette's own Allow names only the first
    route matching the path, and a path's GET and PATCH are separate routes."""
    allowed = [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in request.app.router.routes)
    ]
    return ", ".join(allowed)


UNEXPECTED_DETAIL = "Something went wrong on our side; it was logged."


def install_error_handlers(app: FastAPI) -> None:
    """Problem handlers; call before adding the correlation middleware (see ``UnexpectedErrorMiddleware``)."""

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        detail = "; ".join(f"{e['field'] or 'request'}: {e['message']}" for e in errors)
        return problem_response(422, "Validation failed", detail, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return problem_response(exc.status_code, detail, detail, headers=headers or None)

    app.add_middleware(UnexpectedErrorMiddleware)


class UnexpectedErrorMiddleware:
    """Pure ASGI middleware: any exception the app lets escape becomes one logged problem+json 500.

    Installed inside the correlation middleware, so the answer and the log line carry the
    correlation id. If the response had already started, nothing can be answered any more: the
    error is logged and the server closes that connection (the only honest end of a broken body).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception(
                "unhandled error",
                extra={"method": scope.get("method"), "path": scope.get("path"), "response_started": started},
            )
            if not started:
                await problem_response(500, "Internal error", UNEXPECTED_DETAIL)(scope, receive, send)

"""Refuse an oversized upload before its body is read.

FastAPI parses a multipart body (spooling files to disk) before the endpoint and its dependencies
run, so the size check in ``MediaStorage.receive`` alone would let a client push gigabytes first.
Routes of an ``UploadLimitRoute`` router whose endpoint is marked with ``@upload_limit("setting")``
answer 413 at once when the declared Content-Length exceeds that setting (plus room for the form's
other fields); ``receive`` still enforces the exact limit on what actually arrives (chunked bodies).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute

from catalog.storage import PayloadTooLarge, human_size
from homecraft_shared.dependencies import runtime_of

FORM_OVERHEAD_BYTES = 64 * 1024
_ATTRIBUTE = "__catalog_upload_limit__"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def upload_limit(setting: str) -> Callable[[Endpoint], Endpoint]:
    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _ATTRIBUTE, setting)
        return endpoint

    return mark


class UploadLimitRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        setting = getattr(self.endpoint, _ATTRIBUTE, None)
        if setting is None:
            return handler

        async def guarded(request: Request) -> Response:
            limit = int(getattr(runtime_of(request).settings, setting))
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit + FORM_OVERHEAD_BYTES:
                raise PayloadTooLarge(f"The upload is too large: the limit is {human_size(limit)}.")
            return await handler(request)

        return guarded

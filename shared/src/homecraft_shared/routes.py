"""A route for a hot endpoint that takes only the request and answers with a ready response.

FastAPI's own route handler, on every request, solves the endpoint's dependencies (and parses the
query string, headers and cookies for them), validates the return value against the response model
and serializes it through ``jsonable_encoder``. For an endpoint that reads its raw body itself and
builds its answer itself (a webhook intake: decision 0308) all of that is work with no effect.

``RequestOnlyRoute`` (FastAPI's documented ``APIRoute`` customisation, ``route_class`` on a router)
calls the endpoint with the ``Request`` and sends back the ``Response`` it returns, nothing else.
Everything around the endpoint is unchanged: the middlewares, the app's exception handlers (a
``Problem`` raised by the endpoint is still a problem+json answer), routing and ``405``. The OpenAPI
document is still generated from the route's declaration (``response_model``, ``responses``,
summary, tags), so the endpoint is documented as before.

The endpoint must be ``async def endpoint(request: Request) -> Response``: declaring anything else
(a dependency, a parameter) is refused when the route is built, since it would silently never run.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

from fastapi import Request, Response
from fastapi.routing import APIRoute

RequestEndpoint = Callable[[Request], Awaitable[Response]]


class RequestOnlyRoute(APIRoute):
    """Use as ``APIRouter(route_class=RequestOnlyRoute)``; see the module's docstring."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        parameters = list(inspect.signature(endpoint).parameters.values())
        if not inspect.iscoroutinefunction(endpoint) or len(parameters) != 1 or kwargs.get("dependencies"):
            raise TypeError(f"{getattr(endpoint, '__name__', endpoint)!r} on {path}: a RequestOnlyRoute endpoint is "
                            "'async def endpoint(request: Request) -> Response' with no dependencies")
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = cast(RequestEndpoint, self.endpoint)

        async def handler(request: Request) -> Response:
            return await endpoint(request)

        return handler

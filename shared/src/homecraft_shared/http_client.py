"""The one service-to-service HTTP client.

httpx's API over an aiohttp transport (several times faster than httpx's own on fan-outs), with
timeouts on every call, retries only for idempotent calls, and the caller's correlation id and
identity token passed on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from homecraft_shared.identity import identity_token_var
from homecraft_shared.observability import CORRELATION_HEADER, current_correlation_id

logger = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUS = frozenset({502, 503, 504})


class ServiceUnavailable(Exception):
    """The other service could not be reached or kept failing."""


@dataclass(frozen=True)
class JsonAnswer:
    """What ``ServiceClient.post_json`` answers: the status and the raw body."""

    status_code: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class ServiceClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        retry_backoff: float = 0.1,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._retries = retries
        self._retry_backoff = retry_backoff
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 2.0))
        self._lean: aiohttp.ClientSession | None = None
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            transport=transport or AiohttpTransport(),
        )

    async def request(self, method: str, url: str, *, idempotent: bool | None = None, **kwargs: Any) -> httpx.Response:
        """Send a request; ``idempotent=True`` allows retrying a POST that carries an idempotency key."""
        method = method.upper()
        headers = httpx.Headers(kwargs.pop("headers", None))
        headers.setdefault(CORRELATION_HEADER, current_correlation_id())
        token = identity_token_var.get()
        if token and "authorization" not in headers:
            headers["Authorization"] = f"Bearer {token}"
        retryable = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        attempts = 1 + (self._retries if retryable else 0)
        for attempt in range(1, attempts + 1):
            try:
                response = await self._client.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                if attempt == attempts:
                    raise ServiceUnavailable(f"{method} {self._client.base_url}{url}: {exc!r}") from exc
            else:
                if response.status_code not in RETRYABLE_STATUS or attempt == attempts:
                    return response
            logger.info("retrying service call", extra={"method": method, "url": url, "attempt": attempt})
            await asyncio.sleep(self._retry_backoff * attempt)
        raise AssertionError("unreachable")

    async def post_json(self, url: str, payload: Any, *, headers: Mapping[str, str] | None = None,
                        idempotent: bool = False) -> JsonAnswer:
        """POST a JSON body straight over aiohttp, without httpx's request and response models: for a hot
        internal call (an order placement's price lookup, decision 0204). The same timeouts, retries (only
        when ``idempotent``), correlation id and identity token as ``request``."""
        send = {CORRELATION_HEADER: current_correlation_id(), **(headers or {})}
        token = identity_token_var.get()
        if token and not any(name.lower() == "authorization" for name in send):
            send["Authorization"] = f"Bearer {token}"
        if self._lean is None or self._lean.closed:
            self._lean = aiohttp.ClientSession(timeout=self._timeout)
        attempts = 1 + (self._retries if idempotent else 0)
        for attempt in range(1, attempts + 1):
            try:
                async with self._lean.post(self._base_url + url, json=payload, headers=send) as response:
                    answer = JsonAnswer(response.status, await response.read())
            except (aiohttp.ClientError, TimeoutError) as exc:
                if attempt == attempts:
                    raise ServiceUnavailable(f"POST {self._base_url}{url}: {exc!r}") from exc
            else:
                if answer.status_code not in RETRYABLE_STATUS or attempt == attempts:
                    return answer
            logger.info("retrying service call", extra={"method": "POST", "url": url, "attempt": attempt})
            await asyncio.sleep(self._retry_backoff * attempt)
        raise AssertionError("unreachable")

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def open_stream(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET whose body is not read yet (``aiter_bytes``, then ``aclose``): large files passed through
        without buffering them. No retries; the correlation id and identity token go with it."""
        headers = httpx.Headers(kwargs.pop("headers", None))
        headers.setdefault(CORRELATION_HEADER, current_correlation_id())
        token = identity_token_var.get()
        if token and "authorization" not in headers:
            headers["Authorization"] = f"Bearer {token}"
        request = self._client.build_request("GET", url, headers=headers, **kwargs)
        try:
            return await self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"GET {self._client.base_url}{url}: {exc!r}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._lean is not None:
            await self._lean.close()

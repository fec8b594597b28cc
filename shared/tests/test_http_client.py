"""ServiceClient against a real HTTP server on 127.0.0.1: retries only what is safe to retry,
and passes the correlation id and the caller's identity token on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from homecraft_shared.http_client import ServiceClient, ServiceUnavailable
from homecraft_shared.identity import identity_token_var
from homecraft_shared.observability import correlation_scope
from homecraft_shared.testing.infra import free_port


@dataclass
class Upstream:
    """A tiny service: /flaky answers 503 ``failures`` times, then 200; /echo returns the headers."""

    url: str
    failures: int = 0
    hits: dict[str, int] = field(default_factory=dict)


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    port = free_port()
    state = Upstream(url=f"http://127.0.0.1:{port}")

    async def flaky(request: web.Request) -> web.Response:
        key = f"{request.method} {request.path}"
        state.hits[key] = state.hits.get(key, 0) + 1
        if state.hits[key] <= state.failures:
            return web.json_response({"detail": "try later"}, status=503)
        return web.json_response({"ok": True, "hits": state.hits[key]})

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({k.lower(): v for k, v in request.headers.items()})

    app = web.Application()
    app.router.add_route("*", "/flaky", flaky)
    app.router.add_route("*", "/echo", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield state
    finally:
        await runner.cleanup()


@pytest.fixture
async def client(upstream: Upstream) -> AsyncIterator[ServiceClient]:
    service_client = ServiceClient(upstream.url, retries=2, retry_backoff=0.01)
    try:
        yield service_client
    finally:
        await service_client.aclose()


async def test_get_is_retried_on_503(upstream: Upstream, client: ServiceClient) -> None:
    upstream.failures = 2
    response = await client.get("/flaky")
    assert response.status_code == 200
    assert upstream.hits == {"GET /flaky": 3}


async def test_get_gives_up_after_its_retries(upstream: Upstream, client: ServiceClient) -> None:
    upstream.failures = 10
    response = await client.get("/flaky")
    assert response.status_code == 503  # the last answer is returned, not swallowed
    assert upstream.hits == {"GET /flaky": 3}


async def test_post_is_not_retried(upstream: Upstream, client: ServiceClient) -> None:
    upstream.failures = 1
    response = await client.post("/flaky", json={"amount_cents": 100})
    assert response.status_code == 503
    assert upstream.hits == {"POST /flaky": 1}


async def test_post_with_idempotency_is_retried(upstream: Upstream, client: ServiceClient) -> None:
    upstream.failures = 1
    response = await client.post("/flaky", json={}, headers={"Idempotency-Key": "k-1"}, idempotent=True)
    assert response.status_code == 200
    assert upstream.hits == {"POST /flaky": 2}


async def test_correlation_id_and_identity_token_are_passed_on(upstream: Upstream, client: ServiceClient) -> None:
    token = identity_token_var.set("the-callers-token")
    try:
        with correlation_scope("corr-abc"):
            seen = (await client.get("/echo")).json()
    finally:
        identity_token_var.reset(token)
    assert seen["x-correlation-id"] == "corr-abc"
    assert seen["authorization"] == "Bearer the-callers-token"


async def test_no_identity_means_no_authorization_header(upstream: Upstream, client: ServiceClient) -> None:
    seen = (await client.get("/echo")).json()
    assert "authorization" not in seen
    assert seen["x-correlation-id"]  # one is minted when the work started without any


async def test_explicit_headers_win(upstream: Upstream, client: ServiceClient) -> None:
    token = identity_token_var.set("the-callers-token")
    try:
        seen = (await client.get("/echo", headers={"Authorization": "Bearer service-own", "X-Correlation-Id": "mine"})).json()
    finally:
        identity_token_var.reset(token)
    assert seen["authorization"] == "Bearer service-own"
    assert seen["x-correlation-id"] == "mine"


async def test_unreachable_service_raises_service_unavailable_after_retries() -> None:
    service_client = ServiceClient(f"http://127.0.0.1:{free_port()}", retries=2, retry_backoff=0.01, timeout=1.0)
    try:
        with pytest.raises(ServiceUnavailable, match="GET"):
            await service_client.get("/anything")
        with pytest.raises(ServiceUnavailable, match="POST"):
            await service_client.post("/anything")
    finally:
        await service_client.aclose()


async def test_post_json_retries_only_when_idempotent_and_passes_identity_and_correlation_on(
        upstream: Upstream, client: ServiceClient) -> None:
    """The lean JSON POST (decision 0204) keeps the client's rules: no retry unless idempotent, the
    correlation id and the caller's identity token passed on, explicit headers win."""
    upstream.failures = 1
    assert (await client.post_json("/flaky", {"a": 1})).status_code == 503
    assert upstream.hits == {"POST /flaky": 1}
    answer = await client.post_json("/flaky", {"a": 1}, idempotent=True)
    assert (answer.status_code, answer.json()["hits"]) == (200, 2)
    token = identity_token_var.set("the-callers-token")
    try:
        with correlation_scope("corr-json"):
            seen = (await client.post_json("/echo", {})).json()
            own = (await client.post_json("/echo", {}, headers={"Authorization": "Bearer service-own"})).json()
    finally:
        identity_token_var.reset(token)
    assert (seen["x-correlation-id"], seen["authorization"]) == ("corr-json", "Bearer the-callers-token")
    assert seen["content-type"] == "application/json"
    assert own["authorization"] == "Bearer service-own"


async def test_post_json_to_an_unreachable_service_raises_service_unavailable() -> None:
    service_client = ServiceClient(f"http://127.0.0.1:{free_port()}", retries=2, retry_backoff=0.01, timeout=1.0)
    try:
        with pytest.raises(ServiceUnavailable, match="POST"):
            await service_client.post_json("/anything", {}, idempotent=True)
    finally:
        await service_client.aclose()

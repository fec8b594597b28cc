"""A clean stand-in for other packages' tests (payments): served by uvicorn on a loopback port
(chosen by the kernel) in a background thread, state in memory, gone when the block ends.

    with running_standin(platform_webhook_url=..., connect_webhook_url=...) as standin:
        client = stripe.StripeClient(standin.api_key, base_addresses={"api": standin.url})
        standin.control("POST", f"/checkout/sessions/{session_id}/pay")
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

import httpx
import uvicorn

from stripe_standin.app import StandinConfig, create_app
from stripe_standin.webhooks import RetryPolicy


class ServerThread:
    """uvicorn in a thread with its own event loop, on port 0."""

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True, name="stripe-standin")

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the Stripe stand-in did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class RunningStandin:
    url: str
    config: StandinConfig

    @property
    def api_key(self) -> str:
        return self.config.api_key or "sk_test_standin"

    @property
    def platform_secret(self) -> str:
        return self.config.platform_webhook_secret

    @property
    def connect_secret(self) -> str:
        return self.config.connect_webhook_secret

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call a /_standin control (pay, dispute, refund, chaos, ...); raises on a non-2xx answer."""
        response = httpx.request(method, f"{self.url}/_standin{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()


@contextmanager
def running_standin(**overrides: Any) -> Iterator[RunningStandin]:
    """Keyword arguments are StandinConfig fields; controls are on and retries fast by default."""
    known = {f.name for f in fields(StandinConfig)}
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"unknown StandinConfig fields: {sorted(unknown)}")
    values: dict[str, Any] = {"controls": True, "retry": RetryPolicy(base_seconds=0.05, cap_seconds=1.0, timeout_seconds=5.0)}
    values.update(overrides)
    config = StandinConfig(**values)
    with ServerThread(create_app(config)) as url:
        yield RunningStandin(url, config)

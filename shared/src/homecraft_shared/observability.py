"""Structured JSON logs and the correlation id that follows a request across services and events.

The correlation id lives in a context variable: the HTTP middleware sets it from the incoming
``X-Correlation-Id`` header (or makes one), the service client forwards it, the outbox stamps it
on every event, and the consumer restores it from the envelope before running a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CORRELATION_HEADER = "X-Correlation-Id"

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
# The id of the event being handled, so events it causes carry it as their causation id.
causation_id_var: ContextVar[str | None] = ContextVar("causation_id", default=None)


def current_correlation_id() -> str:
    """The correlation id in force, creating one for work that started without any."""
    value = correlation_id_var.get()
    if value is None:
        value = uuid.uuid4().hex
        correlation_id_var.set(value)
    return value


@contextlib.contextmanager
def correlation_scope(correlation_id: str | None, causation_id: str | None = None) -> Iterator[None]:
    token = correlation_id_var.set(correlation_id or uuid.uuid4().hex)
    cause_token = causation_id_var.set(causation_id)
    try:
        yield
    finally:
        correlation_id_var.reset(token)
        causation_id_var.reset(cause_token)


def _stamp_correlation(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    """Stamp each record with the correlation id when it is created, not when it is formatted
    (a handler may format later, outside the request's context)."""

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.correlation_id = correlation_id_var.get()
        return record

    make_record.homecraft = True  # type: ignore[attr-defined]
    return make_record


if not getattr(logging.getLogRecordFactory(), "homecraft", False):
    logging.setLogRecordFactory(_stamp_correlation(logging.getLogRecordFactory()))

# Standard LogRecord attributes, and uvicorn's ANSI-coloured duplicate of the message.
_RESERVED = {*vars(logging.makeLogRecord({})), "color_message", "correlation_id"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        correlation = getattr(record, "correlation_id", None)
        if correlation:
            entry["correlation_id"] = correlation
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class PlainFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        correlation = getattr(record, "correlation_id", None)
        return f"{text} [cid={correlation}]" if correlation else text


def configure_logging(service: str, level: str = "INFO", json_logs: bool = True) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service) if json_logs else PlainFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log duplicates what the request middleware logs.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request at INFO; the correlation id already ties calls together.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class CorrelationMiddleware:
    """Pure ASGI middleware: adopt or mint the correlation id, echo it on the response, and log one
    line per request (method, path, status, duration) under it."""

    QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.header = CORRELATION_HEADER.lower().encode()
        self.logger = logging.getLogger("homecraft.request")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode() for k, v in scope["headers"] if k == self.header), None)
        correlation = incoming if incoming and len(incoming) <= 128 else uuid.uuid4().hex
        status = 500
        started = time.perf_counter()

        async def send_with_header(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (self.header, correlation.encode())]
            await send(message)

        token = correlation_id_var.set(correlation)
        try:
            await self.app(scope, receive, send_with_header)
        finally:
            path = scope.get("path", "")
            level = logging.DEBUG if path in self.QUIET_PATHS else logging.INFO
            self.logger.log(
                level, "request",
                extra={"method": scope.get("method"), "path": path, "status": status,
                       "duration_ms": round((time.perf_counter() - started) * 1000, 2)},
            )
            correlation_id_var.reset(token)


class Counter:
    """A process-wide counter an operator alerts on, served by ``/metrics`` (Prometheus text)."""

    def __init__(self, name: str, help_text: str) -> None:
        self.name = name
        self.help_text = help_text
        self.value = 0

    def inc(self, amount: int = 1) -> None:
        self.value += amount


_COUNTERS: dict[str, Counter] = {}


def counter(name: str, help_text: str) -> Counter:
    """The process's counter of that name (created at first use)."""
    found = _COUNTERS.get(name)
    if found is None:
        found = _COUNTERS[name] = Counter(name, help_text)
    return found


def render_counters(labels: str) -> str:
    """Every counter of this process in Prometheus text, with ``labels`` (e.g. ``service="payments"``)."""
    return "".join(f"# HELP {c.name} {c.help_text}\n# TYPE {c.name} counter\n{c.name}{{{labels}}} {c.value}\n"
                   for c in _COUNTERS.values())


LOOP_LAG_WARNINGS = counter("homecraft_event_loop_lag_warnings_total",
                            "Times the event loop was late by more than the warning threshold (blocked or starved).")


async def watch_loop_lag(threshold_seconds: float, interval_seconds: float = 0.1) -> None:
    """Log (a JSON warning) and count each time the event loop wakes this task later than
    ``threshold_seconds`` after it asked: the loop was blocked (a synchronous call, a long GC) or the
    process got no CPU. Costs one timer wake-up per ``interval_seconds``."""
    loop = asyncio.get_running_loop()
    while True:
        expected = loop.time() + interval_seconds
        await asyncio.sleep(interval_seconds)
        lag = loop.time() - expected
        if lag > threshold_seconds:
            LOOP_LAG_WARNINGS.inc()
            logging.getLogger("homecraft.loop").warning(
                "event loop lagged", extra={"lag_ms": round(lag * 1000, 1)})

"""The gateway's clients for the services it composes pages from (one per service, made at start-up)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from gateway.settings import GatewaySettings
from homecraft_shared.http_client import ServiceClient
from homecraft_shared.runtime import ServiceRuntime


@dataclass
class ServiceClients:
    catalog: ServiceClient

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> ServiceClients:
        return cls(catalog=ServiceClient(settings.catalog_url, timeout=3.0))

    async def aclose(self) -> None:
        await self.catalog.aclose()


async def open_clients(runtime: ServiceRuntime) -> None:
    assert isinstance(runtime.settings, GatewaySettings)
    runtime.state["clients"] = ServiceClients.from_settings(runtime.settings)


async def close_clients(runtime: ServiceRuntime) -> None:
    clients: ServiceClients | None = runtime.state.pop("clients", None)
    if clients is not None:
        await clients.aclose()


def service_clients(request: Request) -> ServiceClients:
    return request.app.state.runtime.state["clients"]

"""The gateway's clients for the services it composes pages from (one per service, made at start-up)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.settings import GatewaySettings
from homecraft_shared.dependencies import resource
from homecraft_shared.http_client import ServiceClient
from homecraft_shared.runtime import ServiceRuntime


@dataclass
class ServiceClients:
    catalog: ServiceClient
    orders: ServiceClient
    payments: ServiceClient
    engagement: ServiceClient
    refunds: ServiceClient

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> ServiceClients:
        return cls(
            catalog=ServiceClient(settings.catalog_url, timeout=3.0),
            orders=ServiceClient(settings.orders_url, timeout=5.0),
            payments=ServiceClient(settings.payments_url, timeout=10.0),
            # Non-essential for pages: short timeouts, no retries (the page renders with a notice).
            engagement=ServiceClient(settings.engagement_url, timeout=1.5, retries=0),
            refunds=ServiceClient(settings.refunds_url, timeout=3.0),
        )

    async def aclose(self) -> None:
        for client in (self.catalog, self.orders, self.payments, self.engagement, self.refunds):
            await client.aclose()


async def open_clients(runtime: ServiceRuntime) -> None:
    """Start-up hook: one set of clients per process, a runtime resource closed when it stops."""
    assert isinstance(runtime.settings, GatewaySettings)
    clients = ServiceClients.from_settings(runtime.settings)
    runtime.resources.add(clients, close=clients.aclose)


service_clients = resource(ServiceClients)

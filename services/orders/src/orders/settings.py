from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from homecraft_shared.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_", extra="ignore")

    service_name: str = "orders"
    database_url: str = "sqlite+aiosqlite:///./var/data/orders.db"

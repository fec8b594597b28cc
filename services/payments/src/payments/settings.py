from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from homecraft_shared.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore")

    service_name: str = "payments"
    database_url: str = "sqlite+aiosqlite:///./var/data/payments.db"

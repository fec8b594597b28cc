from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from homecraft_shared.settings import ServiceSettings


class RefundsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFUNDS_", extra="ignore")

    service_name: str = "refunds"
    database_url: str = "sqlite+aiosqlite:///./var/data/refunds.db"

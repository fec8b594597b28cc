from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from homecraft_shared.settings import ServiceSettings


class EngagementSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ENGAGEMENT_", extra="ignore")

    service_name: str = "engagement"
    database_url: str = "sqlite+aiosqlite:///./var/data/engagement.db"

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from homecraft_shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    # The gateway signs identities (only it holds that key) and calls engagement as itself (E1, decision 0201).
    required_secrets: ClassVar[tuple[str, ...]] = ("identity_private_key", "service_private_key")
    # Where the services are: loopback defaults serve the run command; elsewhere they must be given.
    required_settings: ClassVar[tuple[str, ...]] = ("catalog_url", "orders_url", "payments_url", "refunds_url", "engagement_url")

    service_name: str = "gateway"
    database_url: str = "sqlite+aiosqlite:///./var/data/gateway.db"
    identity_private_key: SecretStr | None = None
    catalog_url: str = "http://127.0.0.1:8101"
    orders_url: str = "http://127.0.0.1:8102"
    payments_url: str = "http://127.0.0.1:8103"
    refunds_url: str = "http://127.0.0.1:8104"
    engagement_url: str = "http://127.0.0.1:8105"
    # Expired server-side sessions are deleted this often (and at every sign-in), decision 0701.
    session_sweep_seconds: float = 3600.0
    # The services' public answers the pages read (home, browse, product, anonymous reviews and Q&A):
    # fresh this long, then served this long again while one background refresh runs (decision 0702).
    read_cache_seconds: float = 5.0
    # Whole anonymous pages (home, browse, categories, products) kept this long, then served this long
    # again while one request re-renders them; 0 turns the page cache off (decision 0702).
    page_cache_seconds: float = 5.0

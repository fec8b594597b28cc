from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from homecraft_shared.settings import ServiceSettings, SmtpSettingsMixin


class OrdersSettings(ServiceSettings, SmtpSettingsMixin):
    """Guest emails (O7) go over SMTP: ``ORDERS_SMTP_*`` and ``ORDERS_MAIL_*`` (the shared mixin; the run
    command points them at its local mail catcher)."""

    model_config = SettingsConfigDict(env_prefix="ORDERS_", extra="ignore")

    service_name: str = "orders"
    database_url: str = "sqlite+aiosqlite:///./var/data/orders.db"

    # The catalog's base URL (price, seller, kind and visibility at placement: O2; assets: O6, O7).
    catalog_url: str = "http://127.0.0.1:8101"
    catalog_timeout_seconds: float = Field(default=5.0, gt=0)
    # Where people open links (the storefront, i.e. the gateway): used in guest emails (O7).
    public_base_url: str = "http://127.0.0.1:8000"
    # S1 is served from a per-process cache at most this old (seconds); edits are in force within it.
    site_config_cache_seconds: float = Field(default=2.0, ge=0)
    # Download grants (O6): how long a grant lets the catalog stream one asset.
    download_grant_seconds: int = Field(default=300, gt=0, le=3600)

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from homecraft_shared.outgoing_mail import SmtpSettings
from homecraft_shared.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
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

    # Guest emails (O7), over SMTP (the run command starts a local mail catcher).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_sender: str = "Home Craft 3D <no-reply@homecraft3d.local>"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_start_tls: bool = False
    mail_max_attempts: int = Field(default=8, ge=1)
    mail_backoff_seconds: tuple[float, ...] = (2.0, 10.0, 60.0, 300.0, 1800.0)
    mail_poll_seconds: float = Field(default=1.0, gt=0)

    def smtp(self) -> SmtpSettings:
        return SmtpSettings(
            host=self.smtp_host, port=self.smtp_port, sender=self.smtp_sender, username=self.smtp_username,
            password=self.smtp_password, start_tls=self.smtp_start_tls, max_attempts=self.mail_max_attempts,
            backoff_seconds=self.mail_backoff_seconds, poll_seconds=self.mail_poll_seconds,
        )

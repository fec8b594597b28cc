from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from homecraft_shared.settings import ServiceSettings, SmtpSettingsMixin


class RefundsSettings(ServiceSettings, SmtpSettingsMixin):
    """Lifecycle emails go over SMTP: ``REFUNDS_SMTP_*`` and ``REFUNDS_MAIL_*`` (the shared mixin)."""

    model_config = SettingsConfigDict(env_prefix="REFUNDS_", extra="ignore")

    service_name: str = "refunds"
    database_url: str = "sqlite+aiosqlite:///./var/data/refunds.db"

    # Who is asked synchronously: orders (a guest's order token, R2), payments (the Stripe refund, R3).
    orders_url: str = "http://127.0.0.1:8102"
    payments_url: str = "http://127.0.0.1:8103"
    # The gateway holds registered users' email addresses: the mail worker asks it when it sends
    # (GET /internal/users/{id}/contact, with this service's own key; decision 0602).
    gateway_url: str = "http://127.0.0.1:8000"
    call_timeout_seconds: float = Field(default=10.0, gt=0)
    # Where people open links (the storefront): used in guest emails.
    public_base_url: str = "http://127.0.0.1:8000"

    # Creating requests is rate-limited per buyer and per order ("limits" notation; decision 0601).
    request_rate_limits_per_buyer: str = "5/minute;20/day"
    request_rate_limits_per_order: str = "10/hour"
    rate_limit_storage: str = "async+memory://"

    # Escalation: a request undecided this long goes to the operator queue and the buyer is told.
    escalate_after_days: float = Field(default=3.0, gt=0)
    escalation_interval_seconds: float = Field(default=300.0, gt=0)
